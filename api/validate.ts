import { z } from 'zod';
import { ValidationError } from './errors';

/** Most problems one refusal names (a batch of 1,000 bad tasks would otherwise list them all). */
const PROBLEMS_NAMED = 10;

/**
 * Parses `data` with `schema`, or throws a ValidationError whose message names the bad fields
 * (the first ten, and how many more there are).
 */
export function validate<S extends z.ZodType>(
  schema: S,
  data: unknown,
  where: 'body' | 'query' | 'params',
): z.infer<S> {
  const parsed = schema.safeParse(data ?? (where === 'body' ? {} : data));
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const field = issue.path.length ? issue.path.join('.') : where;
    return `${field}: ${issue.message}`;
  });
  const rest = problems.length - PROBLEMS_NAMED;
  const named = problems.slice(0, PROBLEMS_NAMED).join('; ');
  throw new ValidationError(`invalid ${where}: ${named}${rest > 0 ? `; and ${rest} more` : ''}`);
}

/** The body of a request that takes none: absent or `{}`; anything else is refused, not ignored. */
export const emptyBody = z.object({}).strict();
