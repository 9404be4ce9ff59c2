/** Who may open the embedded store: the lock file left by another host, by a dead process, or by an earlier process with this pid. */
import { afterAll, expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { migrate, openAuditStore } from '@sluice/db';
import { pgliteDatabase } from '../helpers/db.ts';
import { testConfig } from '../helpers/env.ts';

const db = pgliteDatabase('embedded-lock');
const config = testConfig(db.env);
const lockFile = join(db.env.DATA_DIR, 'audit.lock');

afterAll(() => db.drop());

/** Opens the store where a lock file written as `content` stands. */
async function withLockFile(content: string) {
  writeFileSync(lockFile, content);
  return openAuditStore(config);
}

test('a lock naming another host is refused with the host and the file to delete, and left in place', async () => {
  const store = await openAuditStore(config);
  await migrate(store);
  await store.close();

  const error = await withLockFile('1 other-container 7d1c').catch((e) => e);
  expect(error.name).toBe('AuditStoreBusyError');
  expect(error.message).toBe(
    `the embedded audit store in ${db.env.DATA_DIR} is open in process 1 on host other-container (PGlite allows one process at a time). ` +
      'Set DATABASE_URL to a Postgres server to share the audit table, or query it through the server (GET /api/v1/jobs/history). ' +
      `If that process is gone, delete ${lockFile}.`,
  );
  expect(readFileSync(lockFile, 'utf8')).toBe('1 other-container 7d1c');
}, 30_000);

test('a lock naming this pid with another token (a restarted container), or a dead pid, is taken over', async () => {
  for (const stale of [`${process.pid} ${hostname()} token-of-an-earlier-process`, '2147483646', `2147483646 ${hostname()} x`]) {
    const store = await withLockFile(stale);
    expect((await store.ping()).status).toBe('up');
    const [pid, host] = readFileSync(lockFile, 'utf8').split(' ');
    expect([Number(pid), host]).toEqual([process.pid, hostname()]);
    await store.close();
  }
}, 30_000);

test('a live process on this host keeps the store; two opens in this process share the lock until both close', async () => {
  const child = Bun.spawn(['sleep', '30']);
  try {
    const error = await withLockFile(`${child.pid} ${hostname()} its-token`).catch((e) => e);
    expect(error.name).toBe('AuditStoreBusyError');
    expect(error.ownerPid).toBe(child.pid);
  } finally {
    child.kill();
    await child.exited;
  }

  const first = await withLockFile(`${child.pid} ${hostname()} its-token`); // dead now: taken over
  const second = await openAuditStore(config);
  await second.close();
  expect((await first.ping()).status).toBe('up');
  await first.close();
  expect(() => readFileSync(lockFile)).toThrow();
}, 30_000);
