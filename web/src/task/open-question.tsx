import { useState } from 'react';
import type { Task } from '../api/types';
import { useCanWork } from '../session/can-work';
import { ErrorMessage } from '../ui/error-message';
import { formatTime } from '../ui/time';
import { useTaskAction } from './use-task-action';

/** The question an agent is waiting on, and the box to answer it (for those who may). */
export function OpenQuestion({ task, agentName }: { task: Task; agentName: string | undefined }) {
  const question = task.questions.find((q) => q.answer === null);
  const respond = useTaskAction(task, 'respond');
  const [answer, setAnswer] = useState('');
  const mayWork = useCanWork(task.projectId);
  if (!question) return null;

  return (
    <section className="open-question" aria-label="Open question">
      <p className="question-from">
        {agentName ?? 'The agent'} asks ·{' '}
        <time dateTime={question.askedAt}>{formatTime(question.askedAt)}</time>
      </p>
      <blockquote className="question-text">{question.question}</blockquote>
      {mayWork && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            respond.mutate({ answer, questionId: question.id }, { onSuccess: () => setAnswer('') });
          }}
        >
          <label className="field">
            <span>Your answer</span>
            <textarea
              name="answer"
              rows={3}
              value={answer}
              onChange={(e) => setAnswer(e.target.value)}
              placeholder="The agent continues as soon as you send it"
            />
          </label>
          <ErrorMessage error={respond.error} prefix="Could not send the answer" />
          <div className="form-buttons">
            <button className="button primary" type="submit" disabled={respond.isPending}>
              {respond.isPending ? 'Sending…' : 'Send answer'}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
