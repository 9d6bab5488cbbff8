import type { NextTask } from '../contracts/agent';
import type { TaskView } from '../contracts/task';

/** A task as `get_next_task` hands it to its agent. */
export function presentTask(view: TaskView, cloneUrl: string | null): NextTask {
  return {
    resumed: false,
    state: view.state,
    id: view.id,
    title: view.title,
    description: view.description,
    projectId: view.projectId,
    cloneUrl,
    branch: view.branch ?? `task-${view.id}-feature`,
    feedback: view.feedback,
    answers: view.questions.map((q) => ({
      questionId: q.id,
      question: q.question,
      answer: q.answer,
    })),
  };
}
