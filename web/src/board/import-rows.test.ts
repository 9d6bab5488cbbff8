import { TASK_BATCH_BODY_LIMIT_BYTES, TASK_BATCH_MAX } from '../../../contracts/task';
import { importChunks, parseImport } from './import-rows';

/** What the board's "Import tasks" reads from a pasted or uploaded file, and how it sends it. */
describe('reading an import', () => {
  it('reads CSV with quoted fields, any column order and blank lines', () => {
    const csv = [
      'Priority,Title,description',
      '10,Add login,"Email, and a ""remember me"" box',
      'on two lines"',
      '',
      ',Dark mode,',
    ].join('\r\n');
    expect(parseImport(csv)).toEqual({
      rows: [
        {
          title: 'Add login',
          description: 'Email, and a "remember me" box\non two lines',
          priority: 10,
        },
        { title: 'Dark mode', description: '', priority: 0 },
      ],
      problems: [],
    });
  });

  it('names each problem by its line or item, and keeps only the good rows', () => {
    const csv = ['title,description,priority', ',no title,0', 'ok,,', 'bad,,1.5', 'short'];
    expect(parseImport(csv.join('\n'))).toEqual({
      rows: [{ title: 'ok', description: '', priority: 0 }],
      problems: [
        'line 2: the title is empty',
        'line 4: the priority must be a whole number from -1000 to 1000',
        'line 5: 1 fields, the header has 3',
      ],
    });
    expect(parseImport('name,notes\na,b').problems).toEqual([
      'line 1: unknown column name, notes (use title, description, priority)',
      'line 1: the header row has no title column',
    ]);
    const json = '[{"title": "a", "priority": 3}, {"title": "b", "owner": "x"}, 7, {"title": " "}]';
    expect(parseImport(json)).toEqual({
      rows: [{ title: 'a', description: '', priority: 3 }],
      problems: [
        'item 2: unknown field owner',
        'item 3: expected an object with a title',
        'item 4: the title is empty',
      ],
    });
    expect(parseImport('{"title": "a"}').problems).toEqual([
      'expected a JSON array of tasks: [{"title": …}, …]',
    ]);
    expect(parseImport('[{"title": ').problems[0]).toMatch(/^not valid JSON: /);
  });

  it(`sends at most ${TASK_BATCH_MAX} tasks per request, and no body over the limit`, () => {
    const row = (i: number, description = '') => ({ title: `t${i}`, description, priority: 0 });
    const many = Array.from({ length: 2500 }, (_, i) => row(i));
    expect(importChunks(many).map((c) => c.length)).toEqual([1000, 1000, 500]);
    expect(importChunks(many).flat()).toEqual(many);
    const long = Array.from({ length: 1000 }, (_, i) => row(i, 'x'.repeat(8000)));
    const parts = importChunks(long);
    expect(parts.length).toBe(2);
    for (const part of parts) {
      const body = JSON.stringify({ projectId: 'f'.repeat(36), tasks: part });
      expect(Buffer.byteLength(body)).toBeLessThan(TASK_BATCH_BODY_LIMIT_BYTES);
    }
  });
});
