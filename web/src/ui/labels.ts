import type { Task, TaskState } from '../api/types';

/** The board's columns, left to right, with the words people see. */
export const COLUMNS: ReadonlyArray<{ state: TaskState; label: string }> = [
  { state: 'backlog', label: 'Backlog' },
  { state: 'in_progress', label: 'In progress' },
  { state: 'needs_input', label: 'Needs input' },
  { state: 'ready_to_test', label: 'Ready to test' },
  { state: 'changes_requested', label: 'Changes requested' },
  { state: 'approved', label: 'Approved' },
  { state: 'staging', label: 'Staging' },
  { state: 'cancelled', label: 'Cancelled' },
];

export function stateLabel(state: string): string {
  return COLUMNS.find((c) => c.state === state)?.label ?? state;
}

/** Priorities the new-task form offers; any integer is valid, higher goes first. */
export const PRIORITIES = [
  { value: 100, label: 'Urgent' },
  { value: 10, label: 'High' },
  { value: 0, label: 'Normal' },
  { value: -10, label: 'Low' },
];

/** A word for a priority on a card, or null for normal (most cards show nothing). */
export function priorityLabel(priority: number): string | null {
  if (priority >= 100) return 'urgent';
  if (priority > 0) return 'high';
  if (priority < 0) return 'low';
  return null;
}

/** The task's preview, while it runs: merging to staging removes it, and so does cancelling. */
export function livePreviewUrl(task: Task): string | null {
  return task.state === 'staging' || task.state === 'cancelled' ? null : task.previewUrl;
}
