import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { ApiError } from './api/client';
import { App } from './app';
import { SessionProvider } from './session/session';
import { ToastProvider } from './ui/toasts';
// Narrow last: its media query overrides the others.
import './styles/base.css';
import './styles/layout.css';
import './styles/board.css';
import './styles/task.css';
import './styles/agents-toasts.css';
import './styles/people.css';
import './styles/narrow.css';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // Live events keep the data fresh; a short stale time only avoids refetching twice in a row.
      staleTime: 5_000,
      // A refusal (401, 404, 409...) will not change by asking again; a network blip or 5xx might.
      retry: (failures, err) =>
        failures < 2 && !(err instanceof ApiError && err.status >= 400 && err.status < 500),
    },
  },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <ToastProvider>
        <SessionProvider>
          <App />
        </SessionProvider>
      </ToastProvider>
    </QueryClientProvider>
  </StrictMode>,
);
