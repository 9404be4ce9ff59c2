/** Who may open the embedded store: the lock file left by another host, by a dead process, or by an earlier process with this pid. */
import { afterAll, expect, test } from 'bun:test';
import { mkdirSync, readFileSync, readlinkSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { migrate, openAuditStore } from '@sluice/db';
import { pgliteDatabase } from '../helpers/db.ts';
import { testConfig, testEnv } from '../helpers/env.ts';

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

/** How this host is named in the lock file: its name and pid namespace. */
const thisHost = `${hostname()}/${readlinkSync('/proc/self/ns/pid').replace(/\D/g, '')}`;

test('a lock from the same host name in another pid namespace, or one an older version wrote with this pid, cannot be checked: refused, naming the file', async () => {
  for (const [content, owner] of [[`1 ${hostname()}/1 7d1c`, `process 1 on host ${hostname()}/1`], [String(process.pid), `process ${process.pid}`]] as const) {
    const error = await withLockFile(content).catch((e) => e);
    expect(error.name).toBe('AuditStoreBusyError');
    expect(error.message).toContain(`is open in ${owner} (PGlite`);
    expect(error.message).toEndWith(`If that process is gone, delete ${lockFile}.`);
  }
}, 30_000);

test('a lock file that cannot be read is an error naming it, not a wait that never ends', async () => {
  rmSync(lockFile, { force: true });
  mkdirSync(lockFile); // exists, so it cannot be created; cannot be read either (EISDIR, even for root)
  try {
    const error = await openAuditStore(config).catch((e) => e);
    expect(error.message).toStartWith(`cannot read the embedded audit store's lock file ${lockFile}: EISDIR`);
  } finally {
    rmSync(lockFile, { recursive: true, force: true });
  }
}, 30_000);

test('an empty lock file is an opening in progress, and stale once 10 s old', async () => {
  const error = await withLockFile('').catch((e) => e);
  expect(error.message).toStartWith(`the embedded audit store in ${db.env.DATA_DIR} is being opened by another process (PGlite allows one process at a time).`);
  const old = new Date(Date.now() - 60_000);
  utimesSync(lockFile, old, old);
  const store = await openAuditStore(config);
  expect((await store.ping()).status).toBe('up');
  await store.close();
}, 30_000);

test('openers racing to take over one stale lock: exactly one gets it and keeps it, the others are told who has it', async () => {
  const taker = resolve(import.meta.dir, 'fixtures/lock-taker.ts');
  for (let round = 0; round < 12; round++) {
    writeFileSync(lockFile, '2147483646'); // a dead process's lock, as an older version wrote it
    const procs = Array.from({ length: 5 }, () =>
      Bun.spawn([process.execPath, taker], { env: testEnv({ DATA_DIR: db.env.DATA_DIR, HOLD_MS: '300' }), stdout: 'pipe' }),
    );
    const outcomes = await Promise.all(procs.map(async (p) => JSON.parse(await new Response(p.stdout).text()) as { got: boolean; stillHeld?: boolean; error?: string }));
    expect(outcomes.filter((o) => o.got)).toEqual([{ got: true, stillHeld: true }]);
    for (const o of outcomes.filter((o) => !o.got)) expect(o.error).toBe('AuditStoreBusyError');
  }
}, 60_000);

test('a lock naming this pid with another token (a restarted container), or a dead pid, is taken over', async () => {
  for (const stale of [`${process.pid} ${thisHost} token-of-an-earlier-process`, '2147483646', `2147483646 ${thisHost} x`]) {
    const store = await withLockFile(stale);
    expect((await store.ping()).status).toBe('up');
    const [pid, host] = readFileSync(lockFile, 'utf8').split(' ');
    expect([Number(pid), host]).toEqual([process.pid, thisHost]);
    await store.close();
  }
}, 30_000);

test('a live process on this host keeps the store; two opens in this process share the lock until both close', async () => {
  const child = Bun.spawn(['sleep', '30']);
  try {
    const error = await withLockFile(`${child.pid} ${thisHost} its-token`).catch((e) => e);
    expect(error.name).toBe('AuditStoreBusyError');
    expect(error.ownerPid).toBe(child.pid);
  } finally {
    child.kill();
    await child.exited;
  }

  const first = await withLockFile(`${child.pid} ${thisHost} its-token`); // dead now: taken over
  const second = await openAuditStore(config);
  await second.close();
  expect((await first.ping()).status).toBe('up');
  await first.close();
  expect(() => readFileSync(lockFile)).toThrow();
}, 30_000);
