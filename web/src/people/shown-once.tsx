import { useState } from 'react';
import type { ReactNode } from 'react';

/** A secret to show once, and what it is, e.g. "Initial password for Ada". */
export interface Secret {
  label: string;
  value: string;
}

/** A secret the server shows only once (a password, a token): copy it now or never. */
export function ShownOnce(props: { secret: Secret; onDone: () => void; children?: ReactNode }) {
  const { secret, onDone, children } = props;
  const [copied, setCopied] = useState(false);
  return (
    <div className="shown-once" role="status">
      <p>
        <strong>{secret.label}</strong>, shown only now: copy it and pass it on or keep it in a
        password manager. It cannot be shown again.
      </p>
      <div className="shown-once-value">
        <code aria-label={secret.label}>{secret.value}</code>
        {/* The clipboard exists only on https and localhost; elsewhere one click selects the value. */}
        {window.isSecureContext && (
          <button
            className="button small"
            type="button"
            onClick={() =>
              void navigator.clipboard.writeText(secret.value).then(
                () => setCopied(true),
                () => undefined,
              )
            }
          >
            {copied ? 'Copied' : 'Copy'}
          </button>
        )}
        <button className="button small ghost" type="button" onClick={onDone}>
          Done
        </button>
      </div>
      {children && <p className="hint">{children}</p>}
    </div>
  );
}
