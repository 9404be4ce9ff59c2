/** Who may open the embedded store: one process at a time, by flock(2), which dies with its holder. */
import { afterAll, expect, test } from 'bun:test';
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { migrate, openAuditStore } from '@sluice/db';
import { pgliteDatabase } from '../helpers/db.ts';
import { testConfig, testEnv } from '../helpers/env.ts';

const db = pgliteDatabase('embedded-lock');
const config = testConfig(db.env);
const lockFile = join(db.env.DATA_DIR, 'audit.lock');
const TAKER = resolve(import.meta.dir, 'fixtures/lock-taker.ts');

afterAll(() => db.drop());

/** A process holding the lock: resolves once it has it. */
async function holder(holdMs: number) {
  const proc = Bun.spawn([process.execPath, TAKER], { env: testEnv({ DATA_DIR: db.env.DATA_DIR, HOLD_MS: String(holdMs) }), stdout: 'pipe' });
  const reader = proc.stdout.getReader();
  const { value } = await reader.read();
  expect(JSON.parse(new TextDecoder().decode(value))).toEqual({ got: true });
  return proc;
}

test('a store another process holds is refused naming that process; once it is killed the store opens at once', async () => {
  const store = await openAuditStore(config);
  await migrate(store);
  await store.close();
  expect(existsSync(lockFile)).toBe(false);

  const proc = await holder(60_000);
  const error = await openAuditStore(config).catch((e) => e);
  expect(error.name).toBe('AuditStoreBusyError');
  expect(error.message).toBe(
    `the embedded audit store in ${db.env.DATA_DIR} is open in process ${proc.pid} on host ${hostname()} (PGlite allows one process at a time). ` +
      'Stop that process, or set DATABASE_URL to a Postgres server to share the audit table between processes.',
  );
  // SIGKILL leaves the file behind with its name in it, but not the lock: no stale lock to clear by hand.
  proc.kill('SIGKILL');
  await proc.exited;
  expect(existsSync(lockFile)).toBe(true);
  const after = await openAuditStore(config);
  expect((await after.ping()).status).toBe('up');
  await after.close();
}, 30_000);

test("a lock file's contents alone hold nothing: a file naming a live process, even this one, is taken", async () => {
  for (const content of [`${process.pid} ${hostname()}`, '1 other-host', '', 'garbage']) {
    writeFileSync(lockFile, content);
    const store = await openAuditStore(config);
    expect((await store.ping()).status).toBe('up');
    await store.close();
  }
}, 30_000);

test('openers racing for the store: exactly one gets it and keeps it, the others are told it is taken', async () => {
  for (let round = 0; round < 12; round++) {
    const procs = Array.from({ length: 5 }, () =>
      Bun.spawn([process.execPath, TAKER], { env: testEnv({ DATA_DIR: db.env.DATA_DIR, HOLD_MS: '300' }), stdout: 'pipe' }),
    );
    const outcomes = await Promise.all(procs.map(async (p) => (await new Response(p.stdout).text()).trim().split('\n').map((line) => JSON.parse(line))));
    const winners = outcomes.filter(([first]) => first.got);
    expect(winners).toEqual([[{ got: true }, { stillHeld: true }]]);
    for (const [first] of outcomes.filter(([o]) => !o.got)) expect(first.error).toBe('AuditStoreBusyError');
  }
}, 60_000);

test('two opens in this process share the lock until both close; a lock file that cannot be opened is an error naming it', async () => {
  const first = await openAuditStore(config);
  const second = await openAuditStore(config);
  await second.close();
  expect((await first.ping()).status).toBe('up');
  const proc = Bun.spawn([process.execPath, TAKER], { env: testEnv({ DATA_DIR: db.env.DATA_DIR, HOLD_MS: '0' }), stdout: 'pipe' });
  expect(JSON.parse((await new Response(proc.stdout).text()).split('\n')[0]!).error).toBe('AuditStoreBusyError');
  await first.close();
  expect(existsSync(lockFile)).toBe(false);

  mkdirSync(lockFile); // cannot be opened for writing (EISDIR, even for root)
  try {
    const error = await openAuditStore(config).catch((e) => e);
    // One of Sluice's errors (a server prints it as one line, not a stack), naming the file and what to check.
    expect(error.name).toBe('AuditStoreUnavailableError');
    expect(error.message).toStartWith(`the audit database ${join(db.env.DATA_DIR, 'audit')} cannot be locked: EISDIR`);
    expect(error.message).toContain(lockFile);
    expect(error.message).toEndWith(`Check that this user can write ${db.env.DATA_DIR}`);
  } finally {
    rmSync(lockFile, { recursive: true, force: true });
  }
}, 30_000);

test('the same store through a symlinked DATA_DIR is the same lock in this process, not a refusal by itself', async () => {
  const link = `${db.env.DATA_DIR}-link`;
  symlinkSync(db.env.DATA_DIR, link);
  const direct = await openAuditStore(config);
  try {
    await migrate(direct);
    const linked = await openAuditStore(testConfig({ ...db.env, DATA_DIR: link }));
    expect((await linked.ping()).status).toBe('up');
    await linked.close();
    expect((await direct.ping()).status).toBe('up');
  } finally {
    await direct.close();
    rmSync(link, { force: true });
  }
}, 30_000);

test("a lock file left by another user's run (not writable here) still locks, read-only", async () => {
  writeFileSync(lockFile, '1 a-root-run-that-was-killed');
  chmodSync(lockFile, 0o444);
  try {
    // Root without CAP_DAC_OVERRIDE is held to the file's mode, as another user would be.
    const proc = Bun.spawn(['setpriv', '--bounding-set=-dac_override,-dac_read_search', '--', process.execPath, TAKER], {
      env: testEnv({ DATA_DIR: db.env.DATA_DIR, HOLD_MS: '0' }), stdout: 'pipe', stderr: 'pipe',
    });
    const lines = (await new Response(proc.stdout).text()).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toEqual([{ got: true }, { stillHeld: true }]);
  } finally {
    rmSync(lockFile, { force: true });
  }
}, 30_000);
