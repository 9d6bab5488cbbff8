// Adds lock entries for platform-specific optional packages (other operating systems and CPUs)
// that npm leaves out of package-lock.json when its registry cannot serve them. Without the
// entries `npm ci` refuses the lock; with them it skips the packages, as it would anyway on this
// platform. Run after `npm install` changes the lock: `node scripts/complete-lockfile.mjs`.
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages;

/** os / cpu / libc of a platform package, read from its name (e.g. `core-linux-arm64-musl`). */
function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const osNames = [
    'darwin',
    'win32',
    'linux',
    'android',
    'freebsd',
    'openharmony',
    'sunos',
    'aix',
    'netbsd',
    'openbsd',
  ];
  const cpus = [
    'x64',
    'arm64',
    'arm',
    'ia32',
    'ppc64',
    's390x',
    'riscv64',
    'loong64',
    'wasm32',
    'mips64el',
  ];
  const os = parts.find((p) => osNames.includes(p));
  const cpu = parts.find((p) => cpus.includes(p));
  const libc =
    parts.includes('musl') || parts.includes('musleabihf')
      ? 'musl'
      : parts.includes('gnu') || parts.includes('gnueabihf')
        ? 'glibc'
        : undefined;
  if (!os && !cpu) return undefined;
  return {
    ...(os ? { os: [os] } : {}),
    ...(cpu ? { cpu: [cpu] } : {}),
    ...(libc ? { libc: [libc] } : {}),
  };
}

let added = 0;
for (const [path, pkg] of Object.entries(packages)) {
  for (const [dep, range] of Object.entries(pkg.optionalDependencies ?? {})) {
    const base = path === '' ? 'node_modules' : `${path}/node_modules`;
    if (packages[`${base}/${dep}`] || packages[`node_modules/${dep}`]) continue;
    const platform = platformOf(dep);
    if (!platform || !/^\d+\.\d+\.\d+/.test(range)) continue;
    packages[`node_modules/${dep}`] = {
      version: range.replace(/^[~^=]/, ''),
      optional: true,
      ...platform,
    };
    added += 1;
  }
}
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`complete-lockfile: added ${added} platform entries`);
