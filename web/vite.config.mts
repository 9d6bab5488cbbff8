import { defineConfig } from 'vite';

// Run from the repository root as `vite build web`: Vite takes web/ as its root and finds this file.
export default defineConfig({
  // The API serves the board at the root of its own origin.
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The board talks to one API; no older browsers to carry.
    target: 'es2022',
    rolldownOptions: {
      onwarn(warning, warn) {
        // TanStack Query marks its modules "use client" for server components; meaningless here.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  oxc: { jsx: { runtime: 'automatic' } },
  server: {
    // `vite web` during development: the API (npm start) answers /api and socket.io.
    proxy: {
      '/api': 'http://127.0.0.1:3000',
      '/socket.io': { target: 'ws://127.0.0.1:3000', ws: true },
    },
  },
});
