import type { ReactNode } from 'react';
import { ErrorMessage } from '../ui/error-message';

/** A table row under the one it asks about: a destructive action happens only once confirmed. */
export function ConfirmRow(props: {
  columns: number;
  question: ReactNode;
  confirmLabel: string;
  pending: boolean;
  error: unknown;
  errorPrefix: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <tr className="row-form">
      <td colSpan={props.columns}>
        <p>{props.question}</p>
        <ErrorMessage error={props.error} prefix={props.errorPrefix} />
        <div className="form-buttons">
          <button
            className="button danger"
            type="button"
            disabled={props.pending}
            onClick={props.onConfirm}
          >
            {props.confirmLabel}
          </button>
          <button className="button ghost" type="button" onClick={props.onCancel}>
            Keep
          </button>
        </div>
      </td>
    </tr>
  );
}
