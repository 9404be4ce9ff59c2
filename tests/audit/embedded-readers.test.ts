/**
 * CLI reads of the embedded store (queue:history, queue:monitor) never keep its owner out: they
 * hold it only while they read, and a server, worker or db:migrate starting meanwhile waits.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { migrate, openAuditStore } from '@sluice/db';
import { errorMessage } from '../../packages/db/src/classify-error.ts';
import { pgliteDatabase } from '../helpers/db.ts';
import { testConfig, testEnv, uniquePrefix } from '../helpers/env.ts';
import { readUntil, startCli } from '../cli/cli.ts';
import { renderAuditStats } from '../../apps/cli/src/monitor/audit-stats.ts';

const db = pgliteDatabase('embedded-readers');
const config = testConfig(db.env);
const ROOT = resolve(import.meta.dir, '../..');
const TAKER = resolve(import.meta.dir, 'fixtures/lock-taker.ts');

beforeAll(async () => {
  const store = await openAuditStore(config);
  await migrate(store);
  await store.close();
});
afterAll(() => db.drop());

/** A process holding the store's lock as `role`: resolves once it has it. */
async function holder(role: 'reader' | 'owner', holdMs: number, dataDir = db.env.DATA_DIR) {
  const proc = Bun.spawn([process.execPath, TAKER], { env: testEnv({ DATA_DIR: dataDir, HOLD_MS: String(holdMs), ROLE: role }), stdout: 'pipe' });
  const { value } = await proc.stdout.getReader().read();
  expect(JSON.parse(new TextDecoder().decode(value))).toEqual({ got: true });
  return proc;
}

/** Runs `fn` while a process holds the store as `role` (for a minute at most), and kills it afterwards. */
async function whileHeld(role: 'reader' | 'owner', fn: (pid: number) => Promise<void>) {
  const proc = await holder(role, 60_000);
  try {
    await fn(proc.pid);
  } finally {
    proc.kill('SIGKILL');
    await proc.exited;
  }
}

async function dbMigrate(env: Record<string, string> = db.env) {
  const proc = Bun.spawn([process.execPath, 'packages/db/src/migrate-cli.ts'], { cwd: ROOT, env: testEnv(env), stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** Runs `fn` with a new temporary directory, removed afterwards whatever happens. */
async function inTempDir(label: string, fn: (root: string) => Promise<void>) {
  const root = mkdtempSync(join(tmpdir(), `sluice-${label}-`));
  try {
    await fn(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('db:migrate, as a server starting, waits for a CLI read to close the store; a store open in a server is refused at once', async () => {
  const reader = await holder('reader', 1500);
  const waited = await dbMigrate();
  expect(waited.stderr).toBe(`waiting up to 30 s for process ${reader.pid} (a queue:history or queue:monitor read) to close the embedded audit store\n`);
  expect(waited).toMatchObject({ code: 0, stdout: expect.stringContaining('migrations applied (pglite') });
  await reader.exited;

  await whileHeld('owner', async (pid) => {
    const refused = await dbMigrate();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `db:migrate failed: the embedded audit store in ${db.env.DATA_DIR} is open in process ${pid} on host ${hostname()} (PGlite allows one process at a time). ` +
        'Stop that process, or set DATABASE_URL to a Postgres server to share the audit table between processes.\n',
    );
  });
}, 60_000);

test('a reader that does not let go is named, with how long it was waited for', async () => {
  await whileHeld('reader', async (pid) => {
    const error = await openAuditStore(config, { waitForReaderMs: 300 }).catch((e) => e);
    expect(error.name).toBe('AuditStoreBusyError');
    expect(error.message).toBe(
      `the embedded audit store in ${db.env.DATA_DIR} is open in process ${pid} on host ${hostname()}, a queue:history or queue:monitor read ` +
        'that had not closed it after 0.3 s (PGlite allows one process at a time). Stop that command, or set DATABASE_URL to a Postgres server to share the audit table.',
    );
  });
}, 30_000);

test('queue:monitor --watch on the embedded store, with no server running, holds it only while it reads', async () => {
  const monitor = startCli(['monitor', '--watch'], testEnv({ ...db.env, QUEUE_PREFIX: uniquePrefix('embedded-readers') }));
  try {
    const { text } = await readUntil(monitor.stdout, 'a frame with the audit section', (t) => t.includes('none recorded'));
    expect(text).toContain('Executions in the last 1h (audit table)');
    // Before, the monitor kept the store from its first redraw until Ctrl+C: a server (re)started
    // meanwhile exited at once, and after waiting it would have given up after 30 s.
    const migrated = await dbMigrate();
    expect(migrated).toMatchObject({ code: 0, stdout: expect.stringContaining('migrations applied') });
    // Another CLI read meanwhile waits for the monitor's read, if it meets one, and gets the store.
    for (let i = 0; i < 3; i++) {
      const history = Bun.spawn([process.execPath, 'apps/cli/src/main.ts', 'history'], { cwd: ROOT, env: testEnv(db.env), stdout: 'pipe', stderr: 'pipe' });
      const [stdout, stderr, code] = await Promise.all([new Response(history.stdout).text(), new Response(history.stderr).text(), history.exited]);
      expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: 'no executions recorded that match\n', stderr: '' });
    }
  } finally {
    monitor.kill('SIGINT');
    expect(await monitor.exited).toBe(0);
  }
}, 60_000);

test('an audit directory that is a symlink opens, and shares its lock with the data directory it lives in', () =>
  inTempDir('linked-audit', async (linked) => {
    symlinkSync(join(db.env.DATA_DIR, 'audit'), join(linked, 'audit'));
    const store = await openAuditStore(testConfig({ DATABASE_URL: '', DATA_DIR: linked }));
    try {
      expect((await store.ping()).status).toBe('up');
      expect((await store.getJobHistory({})).rows).toEqual([]);
      // Opened through the link, the store is still taken for an opener of the real directory.
      const proc = Bun.spawn([process.execPath, TAKER], { env: testEnv({ DATA_DIR: db.env.DATA_DIR, HOLD_MS: '0' }), stdout: 'pipe' });
      expect(JSON.parse((await new Response(proc.stdout).text()).split('\n')[0]!).error).toBe('AuditStoreBusyError');
    } finally {
      await store.close();
    }
  }), 30_000);

test('a DATA_DIR symlink pointed at another directory while the store is open: the old handle is refused, as for a deleted one', () =>
  inTempDir('repointed', async (root) => {
    mkdirSync(join(root, 'a'));
    mkdirSync(join(root, 'b'));
    symlinkSync(join(root, 'a'), join(root, 'current'));
    const store = await openAuditStore(testConfig({ DATABASE_URL: '', DATA_DIR: join(root, 'current') }));
    await migrate(store);
    rmSync(join(root, 'current'));
    symlinkSync(join(root, 'b'), join(root, 'current'));
    const error = await store.insertExecutions([]).then(() => null, (e) => e);
    expect(error?.name).toBe('AuditStoreGoneError');
    expect(error.message).toStartWith(`the embedded audit store ${join(root, 'current', 'audit')} was deleted or replaced while this process ran`);
    await store.close();
    // Closed normally: the store in a/ was still whole, and opens again.
    const again = await openAuditStore(testConfig({ DATABASE_URL: '', DATA_DIR: join(root, 'a') }));
    expect((await again.getJobHistory({})).rows).toEqual([]);
    await again.close();
  }), 30_000);

test('an audit directory that is a symlink to nothing (a volume not mounted) is named as such', () =>
  inTempDir('dangling', async (root) => {
    symlinkSync(join(root, 'volume', 'audit'), join(root, 'audit'));
    const error = await openAuditStore(testConfig({ DATABASE_URL: '', DATA_DIR: root })).catch((e) => e);
    expect(error.message).toBe(`the audit database ${join(root, 'audit')} cannot be opened: it is a symlink to ${join(root, 'volume', 'audit')}, which does not exist (a volume not mounted?)`);
  }));

test('a DATA_DIR that is a file is named with the variable to fix, not thrown as a bare ENOTDIR', () =>
  inTempDir('file', async (root) => {
    const file = join(root, 'not-a-dir');
    writeFileSync(file, 'x');
    const error = await openAuditStore(testConfig({ DATABASE_URL: '', DATA_DIR: file })).catch((e) => e);
    expect(error.name).toBe('AuditStoreUnavailableError');
    expect(error.message).toStartWith(`the audit database ${join(file, 'audit')} cannot be opened: ENOTDIR`);
    expect(error.message).toEndWith(`Set DATA_DIR (now ${file}) to a directory this user can write, or set DATABASE_URL to use Postgres`);
  }));

test('figures shown again (between embedded reads, or while the store is busy) say how old they are', () => {
  const now = Date.parse('2026-12-02T09:00:00Z');
  const types = [{ type: 'echo', runs: 3, failed: 0, successRate: 1, p95DurationMs: 2, health: 'ok' as const, lastRunAt: '2026-12-02T08:59:50Z' }];
  expect(renderAuditStats({ windowMs: 3_600_000, types, readAt: '2026-12-02T08:59:56Z' }, now)[0]).toBe('Executions in the last 1h (audit table, as read 4s ago)');
  expect(renderAuditStats({ windowMs: 3_600_000, types }, now)[0]).toBe('Executions in the last 1h (audit table)');
});

test("an error that is no Error (PGlite's ErrnoError) is named, not printed as [object Object]", () => {
  class ErrnoError {
    constructor(readonly errno: number) {}
  }
  expect(errorMessage(new ErrnoError(44))).toBe('ErrnoError (errno 44)');
  expect(errorMessage({ code: 'ENOENT' })).toBe('an error (code ENOENT)');
  expect(errorMessage('plain')).toBe('plain');
});
