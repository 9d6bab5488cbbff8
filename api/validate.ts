import type { z } from 'zod';
import { ValidationError } from './errors';

/** Parses `data` with `schema`, or throws a ValidationError whose message names every bad field. */
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
  throw new ValidationError(`invalid ${where}: ${problems.join('; ')}`);
}
