import { randomUUID } from 'node:crypto';
import { closeDb } from './client';
import { openTestDb } from '../test/support/db';
import type { Db } from './client';
import { changeUser, findOidcAccount, findOidcSubjectHolder, OidcSubjectTaken } from './users';

/**
 * A provider's subject ties to one account at most (a unique index over issuer and subject, with
 * the column's collation): a second account asking for it is refused in words, never with the
 * index's error, which the activity would retry in vain.
 */
describe('tying accounts to an OpenID provider’s subject', () => {
  let db: Db;
  const issuer = `https://idp-${randomUUID()}.example.com`;

  beforeAll(() => {
    db = openTestDb(6);
  });
  afterAll(async () => {
    await closeDb(db);
  });

  const account = async (): Promise<string> => {
    const userId = randomUUID();
    await changeUser(db, {
      action: 'create',
      userId,
      email: `${userId}@example.com`,
      name: 'Pat',
      role: 'viewer',
      projectIds: [],
      passwordHash: 'not-a-hash',
    });
    return userId;
  };
  const link = (userId: string, subject: string) =>
    changeUser(db, { action: 'link', userId, issuer, subject });
  const subjectOf = async (userId: string) =>
    (await db.user.findUniqueOrThrow({ where: { id: userId } })).oidcSubject;

  it('refuses a subject a removed account holds, and one differing only in case', async () => {
    const subject = `pat-${randomUUID()}`;
    const removed = await account();
    await link(removed, subject);
    await changeUser(db, { action: 'disable', userId: removed });
    expect(await findOidcAccount(db, issuer, subject)).toBeUndefined();
    expect(await findOidcSubjectHolder(db, issuer, subject)).toEqual({
      userId: removed,
      removed: true,
    });

    const again = await account();
    await expect(link(again, subject)).rejects.toBeInstanceOf(OidcSubjectTaken);
    await expect(link(again, subject.toUpperCase())).rejects.toBeInstanceOf(OidcSubjectTaken);
    expect(await subjectOf(again)).toBeNull();
    // The holder itself linking again is the same change, not a conflict.
    const holder = await account();
    await link(holder, `kim-${subject}`);
    await expect(link(holder, `kim-${subject}`)).resolves.toMatchObject({ id: holder });
  });

  it('ties the subject to one of two accounts asking at once; the other is refused in words', async () => {
    for (let round = 0; round < 5; round++) {
      const subject = `race-${randomUUID()}`;
      const [first, second] = [await account(), await account()];
      const outcomes = await Promise.allSettled([
        link(first, subject),
        link(second, subject.toUpperCase()),
      ]);
      const refused = outcomes.filter((o) => o.status === 'rejected');
      expect(refused).toHaveLength(1);
      expect((refused[0] as PromiseRejectedResult).reason).toBeInstanceOf(OidcSubjectTaken);
      const tied = [await subjectOf(first), await subjectOf(second)].filter((s) => s !== null);
      expect(tied).toHaveLength(1);
    }
  });
});
