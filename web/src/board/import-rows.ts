import { TASK_BATCH_BODY_LIMIT_BYTES, TASK_BATCH_MAX } from '../../../contracts/task';

/** One task to import, as `POST /api/tasks/batch` takes it. */
export interface ImportRow {
  title: string;
  description: string;
  priority: number;
}

/** What a pasted or uploaded file holds: the rows that can be sent, and what is wrong with the rest. */
export interface ParsedImport {
  rows: ImportRow[];
  /** In the file's own terms (`row 4: …`, `line 2: …`); nothing is sent while there are any. */
  problems: string[];
}

/** The API's own limits (api/tasks/schema.ts): checked here so a file is fixed before it is sent. */
const TITLE_MAX = 200;
const DESCRIPTION_MAX = 20_000;
const PRIORITY_RANGE = 1000;

/** Checks one row's fields; `where` names it in problems (`row 3`). */
function checkRow(
  where: string,
  fields: { title?: unknown; description?: unknown; priority?: unknown },
  problems: string[],
): ImportRow | undefined {
  const title = typeof fields.title === 'string' ? fields.title.trim() : '';
  const description = fields.description ?? '';
  const rawPriority = fields.priority ?? '';
  const priority = rawPriority === '' ? 0 : Number(rawPriority);
  const before = problems.length;
  if (!title) problems.push(`${where}: the title is empty`);
  else if (title.length > TITLE_MAX)
    problems.push(`${where}: the title is over ${TITLE_MAX} characters`);
  if (typeof description !== 'string') problems.push(`${where}: the description is not text`);
  else if (description.length > DESCRIPTION_MAX) {
    problems.push(`${where}: the description is over ${DESCRIPTION_MAX} characters`);
  }
  if (
    (typeof rawPriority !== 'number' && typeof rawPriority !== 'string') ||
    !Number.isInteger(priority) ||
    Math.abs(priority) > PRIORITY_RANGE
  ) {
    problems.push(
      `${where}: the priority must be a whole number from -${PRIORITY_RANGE} to ${PRIORITY_RANGE}`,
    );
  }
  if (problems.length > before) return undefined;
  return { title, description: description as string, priority };
}

/** A JSON array of objects with `title`, and optionally `description` and `priority`. */
function parseJson(text: string): ParsedImport {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { rows: [], problems: [`not valid JSON: ${(err as Error).message}`] };
  }
  if (!Array.isArray(data)) {
    return { rows: [], problems: ['expected a JSON array of tasks: [{"title": …}, …]'] };
  }
  const problems: string[] = [];
  const rows: ImportRow[] = [];
  data.forEach((item: unknown, i) => {
    const where = `item ${i + 1}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problems.push(`${where}: expected an object with a title`);
      return;
    }
    const unknown = Object.keys(item).filter(
      (k) => !['title', 'description', 'priority'].includes(k),
    );
    if (unknown.length > 0) problems.push(`${where}: unknown field ${unknown.join(', ')}`);
    const row = checkRow(where, item, problems);
    if (row && unknown.length === 0) rows.push(row);
  });
  return { rows, problems };
}

/**
 * The records of a CSV text (RFC 4180: fields in double quotes may hold commas, line breaks and
 * doubled quotes), each with the line it starts on; blank lines are skipped.
 */
function csvRecords(text: string): Array<{ line: number; fields: string[] }> {
  const records: Array<{ line: number; fields: string[] }> = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  const endRecord = () => {
    fields.push(field);
    if (fields.some((f) => f.trim() !== '')) records.push({ line: start, fields });
    fields = [];
    field = '';
    start = line;
  };
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i]!;
    if (c === '\n') line += 1;
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else quoted = false;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n') endRecord();
    else field += c;
  }
  endRecord();
  return records;
}

/** CSV with a header row naming its columns: `title` (required), `description`, `priority`. */
function parseCsv(text: string): ParsedImport {
  const [header, ...records] = csvRecords(text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n'));
  if (!header) return { rows: [], problems: ['the file is empty'] };
  const columns = header.fields.map((name) => name.trim().toLowerCase());
  const problems: string[] = [];
  const unknown = columns.filter((c) => !['title', 'description', 'priority'].includes(c));
  if (unknown.length > 0) {
    problems.push(
      `line 1: unknown column ${unknown.join(', ')} (use title, description, priority)`,
    );
  }
  if (!columns.includes('title')) problems.push('line 1: the header row has no title column');
  if (problems.length > 0) return { rows: [], problems };
  const rows: ImportRow[] = [];
  for (const { line, fields } of records) {
    const where = `line ${line}`;
    if (fields.length !== columns.length) {
      problems.push(`${where}: ${fields.length} fields, the header has ${columns.length}`);
      continue;
    }
    const named = Object.fromEntries(columns.map((c, i) => [c, fields[i]!.trim()]));
    const row = checkRow(where, named, problems);
    if (row) rows.push(row);
  }
  return { rows, problems };
}

/** Reads a pasted or uploaded import: JSON when it starts with `[` or `{`, CSV otherwise. */
export function parseImport(text: string): ParsedImport {
  const trimmed = text.trim();
  if (!trimmed) return { rows: [], problems: [] };
  return /^[[{]/.test(trimmed) ? parseJson(trimmed) : parseCsv(text);
}

/**
 * The rows in requests `POST /api/tasks/batch` takes: at most `TASK_BATCH_MAX` each, and a body
 * within its limit (a chunk of long descriptions is split further).
 */
export function importChunks(rows: ImportRow[]): ImportRow[][] {
  const chunks: ImportRow[][] = [];
  // Room for the rest of the body (`{"projectId": …, "tasks": […]}`).
  const bodyLimit = TASK_BATCH_BODY_LIMIT_BYTES - 1024;
  const encoder = new TextEncoder();
  let chunk: ImportRow[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = encoder.encode(JSON.stringify(row)).length + 1;
    if (chunk.length === TASK_BATCH_MAX || (chunk.length > 0 && bytes + size > bodyLimit)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(row);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
