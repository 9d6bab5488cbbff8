import { useQuery } from '@tanstack/react-query';
import { useApi } from '../session/session';
import { ApiError } from './client';
import type {
  AgentLiveStatus,
  AgentRecord,
  Merge,
  PersonalTokenRecord,
  Principal,
  ProjectRecord,
  PullRequest,
  Task,
  TimelineEvent,
  UserRecord,
} from './types';

/**
 * Every item of a paged list route (`{ <items>, next }`): asks for the page after `next` until
 * the server says there is none.
 */
async function allPages<T>(
  api: ReturnType<typeof useApi>,
  path: string,
  field: string,
): Promise<T[]> {
  const items: T[] = [];
  const separator = path.includes('?') ? '&' : '?';
  let after: string | null = null;
  do {
    const url: string = after ? `${path}${separator}after=${encodeURIComponent(after)}` : path;
    const page = await api.get<Record<string, unknown> & { next?: string | null }>(url);
    items.push(...((page[field] as T[] | undefined) ?? []));
    after = page.next ?? null;
  } while (after);
  return items;
}

/** Query keys in one place, so live events invalidate exactly what they change. */
export const keys = {
  principal: ['principal'] as const,
  users: ['users'] as const,
  tokens: ['tokens'] as const,
  projects: ['projects'] as const,
  tasks: (projectId: string) => ['tasks', projectId] as const,
  task: (taskId: string) => ['task', taskId] as const,
  taskEvents: (taskId: string) => ['task-events', taskId] as const,
  agents: ['agents'] as const,
  /** Local only: filled by `agent:status` events, never fetched. */
  agentStatus: ['agent-status'] as const,
  pulls: (projectId: string) => ['pull', projectId] as const,
  pull: (projectId: string, number: number) => ['pull', projectId, number] as const,
  merge: (mergeId: string) => ['merge', mergeId] as const,
};

/** Who the board is signed in as, fresh from the server (a role may have changed since sign-in). */
export function usePrincipal() {
  const api = useApi();
  return useQuery({
    queryKey: keys.principal,
    queryFn: async () => (await api.get<{ principal: Principal }>('/api/session')).principal,
  });
}

export function useUsers() {
  const api = useApi();
  return useQuery({
    queryKey: keys.users,
    queryFn: () => allPages<UserRecord>(api, '/api/users', 'users'),
  });
}

/** The signed-in person's personal access tokens, newest first. */
export function useTokens() {
  const api = useApi();
  return useQuery({
    queryKey: keys.tokens,
    queryFn: async () => (await api.get<{ tokens: PersonalTokenRecord[] }>('/api/tokens')).tokens,
  });
}

export function useProjects() {
  const api = useApi();
  return useQuery({
    queryKey: keys.projects,
    queryFn: () => allPages<ProjectRecord>(api, '/api/projects', 'projects'),
  });
}

export function useTasks(projectId: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.tasks(projectId),
    queryFn: () =>
      allPages<Task>(api, `/api/tasks?projectId=${encodeURIComponent(projectId)}`, 'tasks'),
  });
}

export function useTask(taskId: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.task(taskId),
    queryFn: () => api.get<Task>(`/api/tasks/${encodeURIComponent(taskId)}`),
  });
}

export function useTaskEvents(taskId: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.taskEvents(taskId),
    queryFn: async () =>
      (
        await api.get<{ events: TimelineEvent[] }>(
          `/api/tasks/${encodeURIComponent(taskId)}/events`,
        )
      ).events,
  });
}

export function useAgents() {
  const api = useApi();
  return useQuery({
    queryKey: keys.agents,
    queryFn: () => allPages<AgentRecord>(api, '/api/agents', 'agents'),
  });
}

/** What `agent:status` events said, by agent id (empty until one arrives). */
export function useAgentStatus() {
  return useQuery<Record<string, AgentLiveStatus>>({
    queryKey: keys.agentStatus,
    queryFn: () => ({}),
    staleTime: Infinity,
    gcTime: Infinity,
  });
}

/**
 * A pull request's diff summary from the local forge. Answers null on 404: projects on another
 * forge (or a build without the route) have no summary, and the task page then just hides it.
 */
export function usePull(projectId: string, number: number | null | undefined) {
  const api = useApi();
  return useQuery({
    queryKey: keys.pull(projectId, number ?? -1),
    enabled: typeof number === 'number',
    queryFn: async () => {
      try {
        return await api.get<PullRequest>(
          `/api/projects/${encodeURIComponent(projectId)}/pulls/${number}`,
        );
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return null;
        throw err;
      }
    },
  });
}

export const MERGE_ENDED = ['completed', 'failed', 'rolled_back'];

/** A merge, polled until it ends (events make it quicker; polling makes it certain). */
export function useMerge(mergeId: string | null) {
  const api = useApi();
  return useQuery({
    queryKey: keys.merge(mergeId ?? ''),
    enabled: mergeId !== null,
    queryFn: () => api.get<Merge>(`/api/merges/${encodeURIComponent(mergeId ?? '')}`),
    refetchInterval: (query) => {
      const { data, error } = query.state;
      if (data && MERGE_ENDED.includes(data.state)) return false;
      // A refusal (no such merge, no such route) will not change by asking again.
      if (error instanceof ApiError && error.status >= 400 && error.status < 500) return false;
      return 2000;
    },
  });
}
