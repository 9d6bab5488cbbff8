import { errorText } from '../api/client';

/** An API failure in words, next to what failed. */
export function ErrorMessage({ error, prefix }: { error: unknown; prefix?: string }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {prefix ? `${prefix}: ` : ''}
      {errorText(error)}
    </p>
  );
}
