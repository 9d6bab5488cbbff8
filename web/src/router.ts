import { useSyncExternalStore } from 'react';

/** The board's pages. Real paths (not #hashes), so a link to a task can be shared and reloaded. */
export type Route =
  | { name: 'home' }
  | { name: 'board'; projectId: string; taskId?: string }
  | { name: 'agents'; projectId: string }
  | { name: 'people' }
  | { name: 'tokens' };

export function parseRoute(pathname: string): Route {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'projects' && parts[1]) {
    const projectId = parts[1];
    if (parts[2] === 'agents') return { name: 'agents', projectId };
    if (parts[2] === 'tasks' && parts[3]) return { name: 'board', projectId, taskId: parts[3] };
    return { name: 'board', projectId };
  }
  if (parts.length === 1 && parts[0] === 'people') return { name: 'people' };
  if (parts.length === 1 && parts[0] === 'tokens') return { name: 'tokens' };
  return { name: 'home' };
}

export function pathOf(route: Route): string {
  switch (route.name) {
    case 'home':
      return '/';
    case 'people':
      return '/people';
    case 'tokens':
      return '/tokens';
    case 'agents':
      return `/projects/${encodeURIComponent(route.projectId)}/agents`;
    case 'board':
      return route.taskId
        ? `/projects/${encodeURIComponent(route.projectId)}/tasks/${encodeURIComponent(route.taskId)}`
        : `/projects/${encodeURIComponent(route.projectId)}`;
  }
}

const listeners = new Set<() => void>();

function subscribe(listener: () => void) {
  listeners.add(listener);
  window.addEventListener('popstate', listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('popstate', listener);
  };
}

/** Goes to another page without a reload; `replace` for redirects that should not add history. */
export function navigate(route: Route, options: { replace?: boolean } = {}): void {
  const path = pathOf(route);
  if (path === window.location.pathname) return;
  if (options.replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  for (const listener of listeners) listener();
}

/** The current page; re-renders on navigation and on the browser's back and forward. */
export function useRoute(): Route {
  const pathname = useSyncExternalStore(subscribe, () => window.location.pathname);
  return parseRoute(pathname);
}
