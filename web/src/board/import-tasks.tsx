import { useMemo, useRef, useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { TaskBatchCreated } from '../../../contracts/task';
import { ApiError } from '../api/client';
import { keys } from '../api/queries';
import { useApi } from '../session/session';
import { ErrorMessage } from '../ui/error-message';
import { useToast } from '../ui/toasts';
import { importChunks, parseImport } from './import-rows';
import type { ImportRow } from './import-rows';

/** Problems listed under the text; the rest are counted. */
const PROBLEMS_SHOWN = 5;

/**
 * An `Idempotency-Key` for one part of an import. (Not `crypto.randomUUID`: that needs a secure
 * context, and a board on plain http within a LAN is a supported set-up.)
 */
function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The parts of one import, each with the key that makes sending it again safe. */
interface ImportPlan {
  parts: Array<{ rows: ImportRow[]; key: string }>;
  /** How many parts, from the first, the server has answered 201 for. */
  done: number;
}

/**
 * "Import tasks": paste or upload a JSON array of tasks or a CSV file (header row: title,
 * description, priority), see what was read and what is wrong, then send it through
 * `POST /api/tasks/batch` in parts of at most 1,000. Each part carries an `Idempotency-Key`, so
 * a part is sent again (on its own after a timeout, or with "Import" after another failure)
 * without creating any task twice.
 */
export function ImportTasks({ projectId, onClose }: { projectId: string; onClose: () => void }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const toast = useToast();
  const [text, setText] = useState('');
  const [plan, setPlan] = useState<ImportPlan | null>(null);
  const parsed = useMemo(() => parseImport(text), [text]);

  // Progress across attempts (the state below only shows it).
  const progress = useRef<ImportPlan | null>(null);
  const send = useMutation({
    mutationFn: async () => {
      const current = progress.current ?? {
        parts: importChunks(parsed.rows).map((rows) => ({ rows, key: newKey() })),
        done: 0,
      };
      progress.current = current;
      for (; current.done < current.parts.length; current.done += 1) {
        setPlan({ ...current });
        const part = current.parts[current.done]!;
        await api.post<TaskBatchCreated>(
          '/api/tasks/batch',
          { projectId, tasks: part.rows },
          { 'Idempotency-Key': part.key },
        );
      }
      setPlan({ ...current });
      return parsed.rows.length;
    },
    // A part that ran out of time or met a dependency away goes again, with its key: it goes on
    // where it stopped and creates no task twice.
    retry: (failures, err) =>
      failures < 3 && err instanceof ApiError && (err.status === 503 || err.status === 429),
    retryDelay: 2000,
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.tasks(projectId) }),
    onSuccess: (count) => {
      toast({ kind: 'success', title: `Imported ${count} ${count === 1 ? 'task' : 'tasks'}` });
      onClose();
    },
  });
  const edit = (next: string) => {
    setText(next);
    // Other rows are another import: its parts get keys of their own.
    progress.current = null;
    setPlan(null);
    send.reset();
  };

  const { rows, problems } = parsed;
  const parts = plan?.parts.length ?? importChunks(rows).length;
  return (
    <form
      className="panel import-tasks"
      aria-label="Import tasks"
      onSubmit={(e) => {
        e.preventDefault();
        send.mutate();
      }}
    >
      <h2>Import tasks</h2>
      <p className="muted">
        A JSON array (<code>[{'{"title": "…", "description": "…", "priority": 0}'}]</code>) or CSV
        with a header row: <code>title,description,priority</code>. Only the title is required.
      </p>
      <label className="field">
        <span>Tasks</span>
        <textarea
          name="tasks"
          rows={8}
          value={text}
          onChange={(e) => edit(e.target.value)}
          placeholder={'title,description,priority\nAdd login,Email and password,10'}
          spellCheck={false}
        />
      </label>
      <label className="field">
        <span>Or a file</span>
        <input
          type="file"
          name="file"
          accept=".json,.csv,application/json,text/csv"
          onChange={(e) => {
            const file = e.target.files?.[0];
            if (file) void file.text().then(edit);
          }}
        />
      </label>
      {text.trim() !== '' && (
        <p className="import-summary" role="status">
          {rows.length} {rows.length === 1 ? 'task' : 'tasks'} read
          {problems.length > 0
            ? `, ${problems.length} ${problems.length === 1 ? 'problem' : 'problems'} to fix first`
            : parts > 1
              ? `, sent in ${parts} parts`
              : ''}
          {plan && plan.done > 0 && ` (${plan.done} of ${plan.parts.length} parts imported)`}
        </p>
      )}
      {problems.length > 0 && (
        <ul className="error import-problems" role="alert">
          {problems.slice(0, PROBLEMS_SHOWN).map((p) => (
            <li key={p}>{p}</li>
          ))}
          {problems.length > PROBLEMS_SHOWN && <li>and {problems.length - PROBLEMS_SHOWN} more</li>}
        </ul>
      )}
      <ErrorMessage
        error={send.error}
        prefix={`Part ${(plan?.done ?? 0) + 1} of ${parts} was not imported (Import tries it again)`}
      />
      <div className="form-buttons">
        <button
          className="button primary"
          type="submit"
          disabled={send.isPending || rows.length === 0 || problems.length > 0}
        >
          {send.isPending
            ? 'Importing…'
            : rows.length === 0
              ? 'Import'
              : `Import ${rows.length} ${rows.length === 1 ? 'task' : 'tasks'}`}
        </button>
        <button className="button ghost" type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </form>
  );
}
