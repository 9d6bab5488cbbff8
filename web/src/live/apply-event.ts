import type { QueryClient } from '@tanstack/react-query';
import { keys } from '../api/queries';
import type {
  AgentLiveStatus,
  AgentRecord,
  LiveEvent,
  LiveEventType,
  Merge,
  MergeState,
  Task,
} from '../api/types';
import type { ToastInput } from '../ui/toasts';
import { notifyBrowser } from './notifications';

export interface EventContext {
  queryClient: QueryClient;
  toast: (toast: ToastInput) => void;
  /** Removes a keyed toast that is no longer true (a question that was answered). */
  dismissToast: (key: string) => void;
  /** Opens a task's page (from a toast's button). */
  openTask: (projectId: string, taskId: string) => void;
}

/** Brings the board's cached data up to date with one live event, and tells people what needs them. */
export function applyEvent(ctx: EventContext, type: LiveEventType, event: LiveEvent): void {
  const { queryClient } = ctx;
  const taskId = (event as { taskId?: unknown }).taskId;
  if (type === 'task:progress' && typeof taskId === 'string') {
    // A note for the task's timeline; the board's cards do not change.
    void queryClient.invalidateQueries({ queryKey: keys.taskEvents(taskId) });
    return;
  }
  if (type.startsWith('task:') && typeof taskId === 'string') {
    if (type === 'task:status_changed') {
      // Move the card at once; the refetch below then brings the rest of the task.
      const { newState } = event as LiveEvent<'task:status_changed'>;
      queryClient.setQueryData<Task[]>(keys.tasks(event.projectId), (tasks) =>
        tasks?.map((t) => (t.id === taskId ? { ...t, state: newState } : t)),
      );
    }
    void queryClient.invalidateQueries({ queryKey: keys.tasks(event.projectId) });
    void queryClient.invalidateQueries({ queryKey: keys.task(taskId) });
    void queryClient.invalidateQueries({ queryKey: keys.taskEvents(taskId) });
    // A new push, a merge: the open task's diff summary may have changed with it.
    void queryClient.invalidateQueries({ queryKey: keys.pulls(event.projectId) });
    notifyTask(ctx, type, event, taskId);
    return;
  }
  switch (type) {
    case 'agent:status': {
      const { agentId, status, currentTaskId } = event as LiveEvent<'agent:status'>;
      queryClient.setQueryData<Record<string, AgentLiveStatus>>(keys.agentStatus, (all) => ({
        ...all,
        [agentId]: { status, currentTaskId, at: event.at },
      }));
      if (!queryClient.getQueryData<AgentRecord[]>(keys.agents)?.some((a) => a.id === agentId)) {
        void queryClient.invalidateQueries({ queryKey: keys.agents });
      }
      return;
    }
    case 'merge:progress': {
      const { mergeId, state, detail } = event as LiveEvent<'merge:progress'>;
      // Show the step at once; the refetch brings each task's result.
      queryClient.setQueryData<Merge>(keys.merge(mergeId), (m) =>
        m ? { ...m, state: state as MergeState, detail } : m,
      );
      void queryClient.invalidateQueries({ queryKey: keys.merge(mergeId) });
      return;
    }
    case 'deploy:started': {
      const { environment, taskIds, mergeId } = event as LiveEvent<'deploy:started'>;
      ctx.toast({
        kind: 'info',
        title: `Deploying to ${environment}`,
        body: `${taskIds.length} ${taskIds.length === 1 ? 'task' : 'tasks'}`,
      });
      void queryClient.invalidateQueries({ queryKey: keys.merge(mergeId) });
      return;
    }
    case 'deploy:completed': {
      const { environment, url, mergeId } = event as LiveEvent<'deploy:completed'>;
      queryClient.setQueryData<Merge>(keys.merge(mergeId), (m) =>
        m ? { ...m, environment, deployUrl: url } : m,
      );
      ctx.toast({
        kind: 'success',
        title: `Deployed to ${environment}`,
        ...(url
          ? { body: url, action: { label: 'Open', run: () => window.open(url, '_blank') } }
          : {}),
      });
      void queryClient.invalidateQueries({ queryKey: keys.merge(mergeId) });
      void queryClient.invalidateQueries({ queryKey: keys.tasks(event.projectId) });
      return;
    }
    case 'deploy:failed': {
      const { environment, reason, mergeId } = event as LiveEvent<'deploy:failed'>;
      ctx.toast({ kind: 'error', title: `Deploy to ${environment} failed`, body: reason });
      void queryClient.invalidateQueries({ queryKey: keys.merge(mergeId) });
      void queryClient.invalidateQueries({ queryKey: keys.tasks(event.projectId) });
      return;
    }
    default:
      return;
  }
}

function notifyTask(ctx: EventContext, type: LiveEventType, event: LiveEvent, taskId: string) {
  const task = ctx.queryClient
    .getQueryData<Task[]>(keys.tasks(event.projectId))
    ?.find((t) => t.id === taskId);
  const title = task ? `“${task.title}”` : 'A task';
  const open = { label: 'Open', run: () => ctx.openTask(event.projectId, taskId) };
  const waiting = `waiting:${taskId}`;
  if (type === 'task:question_answered' || type === 'task:status_changed') {
    const { newState } = event as Partial<LiveEvent<'task:status_changed'>>;
    if (type === 'task:question_answered' || newState !== 'needs_input') ctx.dismissToast(waiting);
  }
  if (type === 'task:needs_input') {
    const { question, actor } = event as LiveEvent<'task:needs_input'>;
    const agent = ctx.queryClient
      .getQueryData<AgentRecord[]>(keys.agents)
      ?.find((a) => a.id === task?.assignedAgentId);
    const asker = actor?.kind === 'agent' ? actor.name : agent?.name;
    const body = `${asker ? `${asker} asks` : 'The agent asks'}: ${question}`;
    ctx.toast({
      kind: 'attention',
      key: waiting,
      title: `${title} needs input`,
      body,
      action: { ...open, label: 'Answer' },
    });
    notifyBrowser({ title: `${title} needs input`, body, tag: waiting, onClick: open.run });
  } else if (type === 'task:input_reminder') {
    ctx.toast({
      kind: 'attention',
      key: waiting,
      title: `${title} is still waiting for an answer`,
      action: { ...open, label: 'Answer' },
    });
  } else if (type === 'task:stuck') {
    const { reason } = event as LiveEvent<'task:stuck'>;
    ctx.toast({
      kind: 'error',
      key: `stuck:${taskId}`,
      title: `${title} is stuck`,
      body: reason,
      action: open,
    });
  } else if (type === 'task:recovered') {
    ctx.dismissToast(`stuck:${taskId}`);
  } else if (type === 'task:ready_to_test') {
    ctx.toast({ kind: 'success', title: `${title} is ready to test`, action: open });
  }
}
