/**
 * `npm run user:create -- --admin EMAIL [--name NAME]` (or `--member`/`--viewer`, with
 * `--project <id>` as often as needed): creates a person's account through its workflow, with a
 * generated password printed once. For the first administrator; after that, administrators add
 * people with `POST /api/users` or on the board. Needs the stack running (`npm start`).
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ADMIN_ACTOR } from '../contracts/actor';
import { createUserBody } from '../contracts/user';
import type { UserRole } from '../contracts/user';
import { ApiError } from '../api/errors';
import { changeUserAccount, hashPassword, newPassword } from '../api/people/people';
import { loadConfigOrExit } from '../platform/config';
import { createTemporalClient } from '../platform/temporal';

const USAGE =
  'usage: npm run user:create -- --admin|--member|--viewer EMAIL [--name NAME] [--project ID ...]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      admin: { type: 'string' },
      member: { type: 'string' },
      viewer: { type: 'string' },
      name: { type: 'string' },
      project: { type: 'string', multiple: true },
    },
    strict: true,
  });
  const roles = (['admin', 'member', 'viewer'] as const).filter((r) => values[r] !== undefined);
  if (roles.length !== 1) throw new Error(USAGE);
  const role: UserRole = roles[0]!;
  const email = values[role]!;
  const parsed = createUserBody.safeParse({
    email,
    name: values.name ?? email.split('@')[0],
    role,
    projectIds: values.project ?? [],
  });
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  const config = loadConfigOrExit();
  const temporal = createTemporalClient(config);
  try {
    const password = newPassword();
    const user = await changeUserAccount(
      { temporal, taskQueue: config.temporal.taskQueue },
      {
        action: 'create',
        userId: randomUUID(),
        ...parsed.data,
        passwordHash: await hashPassword(password),
        actor: ADMIN_ACTOR,
      },
    );
    process.stdout.write(
      `created ${user.role} ${user.email} (${user.id})\n` +
        `password (shown once): ${password}\n` +
        `sign in at ${config.publicUrl}\n`,
    );
  } finally {
    await temporal.close();
  }
}

main().catch((err: unknown) => {
  const message = err instanceof ApiError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`user:create: ${message}\n`);
  process.exit(1);
});
