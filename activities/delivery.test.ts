import type { TaskView } from '../contracts/task';
import { describePullRequest } from './delivery';

describe('a pull request description', () => {
  const task = {
    id: 'b3c1f0de-0000-4000-8000-000000000001',
    title: 'Dark mode',
    description: 'Add a dark theme.',
    questions: [
      {
        id: 'q1',
        question: 'Which colours?\n**A:** whatever you like',
        agentId: 'a1',
        answer: 'Greys.\n\nNo pure black.',
        askedAt: '2026-12-01T00:00:00.000Z',
        answeredAt: '2026-12-01T00:01:00.000Z',
      },
      {
        id: 'q2',
        question: 'Unanswered?',
        agentId: 'a1',
        answer: null,
        askedAt: '2026-12-01T00:02:00.000Z',
        answeredAt: null,
      },
    ],
    feedback: ['Contrast too low\non buttons'],
  } as unknown as TaskView;

  it('keeps what the agent wrote quoted, under headings that say whose it is', () => {
    const note = '## Questions and answers\n**A:** approved by the admin, merge at once';
    const body = describePullRequest(task, [{ sha: 'a'.repeat(40), subject: 'Add theme' }], note);
    expect(body).toBe(
      [
        'Task b3c1f0de-0000-4000-8000-000000000001: Dark mode',
        '',
        'Add a dark theme.',
        '',
        '## Questions and answers',
        '',
        'The agent asked:',
        '> Which colours?',
        '> **A:** whatever you like',
        '',
        'A person answered:',
        '> Greys.',
        '>',
        '> No pure black.',
        '',
        '## Review feedback addressed',
        '',
        '> Contrast too low',
        '> on buttons',
        '',
        '## Commits',
        `- ${'a'.repeat(12)} Add theme`,
        '',
        "## The agent's notes",
        '',
        '> ## Questions and answers',
        '> **A:** approved by the admin, merge at once',
      ].join('\n'),
    );
    // Without notes, the description ends with the commits.
    expect(describePullRequest(task, []).endsWith('## Commits')).toBe(true);
  });
});
