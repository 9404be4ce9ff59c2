/** `bun run queue:history` and the audit section of `queue:monitor`, as a user runs them. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { migrate, openAuditStore, type NewWorkerJob } from '@sluice/db';
import { lockWorkerJobs, postgresDatabase, postgresUnavailable, type TestDatabase } from '../helpers/db.ts';
import { testConfig, testEnv, uniquePrefix } from '../helpers/env.ts';
import { closedPort } from '../helpers/ports.ts';

// Postgres-only tests are skipped where no Postgres answers (the store is then PGlite).
const noPostgres = (await postgresUnavailable()) !== undefined;

const CLI = resolve(import.meta.dir, '../../apps/cli/src/main.ts');
// Each CLI run is a fresh process that opens the store; on PGlite (where no Postgres runs) that
// alone takes 11-14 s on a loaded two-core machine. A limit for tests of several runs, not a speed claim.
const CLI_TEST_TIMEOUT_MS = 180_000;
let db: TestDatabase;
let env: Record<string, string>;

async function cli(...args: string[]) {
  const proc = Bun.spawn([process.execPath, CLI, ...args], { env: testEnv(env), stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

// Opening a fresh store takes seconds (PGlite, where no Postgres runs: 11-14 s on a loaded
// two-core machine); bun's default 5 s is not a limit this hook can keep.
beforeAll(async () => {
  db = await postgresDatabase('audit_cli');
  env = { QUEUE_PREFIX: uniquePrefix('audit-cli'), ...db.env };
  const store = await openAuditStore(testConfig(env));
  await migrate(store);
  const now = Date.now();
  const row = (jobId: string, attempt: number, status: 'completed' | 'failed', durationMs: number, agoMs: number, willRetry = false): NewWorkerJob => ({
    executionId: `${jobId}:${attempt}:1`, jobId, type: 'echo', data: { message: jobId }, status, attempt, willRetry,
    error: status === 'failed' ? { name: 'Error', message: `boom ${jobId}` } : null, worker: 'box:42',
    queuedAt: new Date(now - agoMs - durationMs - 3), startedAt: new Date(now - agoMs - durationMs), completedAt: new Date(now - agoMs), durationMs,
  });
  await store.insertExecutions([
    row('job-a', 1, 'completed', 100, 5000),
    row('job-b', 1, 'failed', 200, 4000, true),
    row('job-b', 2, 'completed', 300, 3000),
    row('job-c', 1, 'failed', 400, 2000),
  ]);
  await store.close();
}, 120_000);

afterAll(async () => {
  await db?.drop();
}, 120_000);

test('history prints recent executions newest first, one line per attempt', async () => {
  const { code, stdout } = await cli('history');
  expect(code).toBe(0);
  const lines = stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^FINISHED\s+JOB\s+TYPE\s+TRY\s+STATUS\s+TOOK\s+WORKER\s+ERROR$/);
  expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(1, 5))).toEqual([
    ['job-c', 'echo', '1', 'failed'],
    ['job-b', 'echo', '2', 'completed'],
    ['job-b', 'echo', '1', 'failed (retrying)'],
    ['job-a', 'echo', '1', 'completed'],
  ]);
  expect(lines[1]).toContain('Error: boom job-c');
}, CLI_TEST_TIMEOUT_MS);

test('history filters by status and job id, pages with --limit, and prints JSON', async () => {
  const failed = JSON.parse((await cli('history', '--status', 'failed', '--json')).stdout);
  expect(failed.rows.map((r: { jobId: string }) => r.jobId)).toEqual(['job-c', 'job-b']);
  const one = JSON.parse((await cli('history', '--job-id', 'job-b', '--limit', '1', '--json')).stdout);
  expect(one.rows.map((r: { attempt: number }) => r.attempt)).toEqual([2]);
  const next = JSON.parse((await cli('history', '--job-id', 'job-b', '--limit', '1', '--cursor', one.nextCursor, '--json')).stdout);
  expect(next.rows.map((r: { attempt: number }) => r.attempt)).toEqual([1]);
  // A type the registry lacks is no error (a retired type's rows are still found), but with nothing found it is named.
  expect((await cli('history', '--type', 'nope')).stdout.trim()).toBe('no executions recorded that match; "nope" is not a job type here (known types: echo, cleanupAuditLog)');
}, CLI_TEST_TIMEOUT_MS);

test('history --since/--until keep the executions that finished in that range, in every form the help names', async () => {
  const jobs = async (...args: string[]) => JSON.parse((await cli('history', '--json', ...args)).stdout).rows.map((r: { jobId: string; attempt: number }) => `${r.jobId}:${r.attempt}`);
  // Finished 5, 4, 3 and 2 s before the rows were written (job-a:1 oldest).
  expect(await jobs('--since', '1h')).toEqual(['job-c:1', 'job-b:2', 'job-b:1', 'job-a:1']);
  expect(await jobs('--until', '1h')).toEqual([]);
  const completedAt = (JSON.parse((await cli('history', '--json')).stdout).rows as { jobId: string; attempt: number; completedAt: string }[]).map((r) => new Date(r.completedAt));
  const [c1, b2, b1, a1] = completedAt as [Date, Date, Date, Date];
  // Both ends are inclusive, to the millisecond, with the zone written out.
  expect(await jobs('--since', b1.toISOString(), '--until', b2.toISOString())).toEqual(['job-b:2', 'job-b:1']);
  // A local time as the table prints it, and with milliseconds; the same instant with an offset.
  const local = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')} ${d.toTimeString().slice(0, 8)}.${String(d.getMilliseconds()).padStart(3, '0')}`;
  expect(await jobs('--since', local(c1))).toEqual(['job-c:1']);
  expect(await jobs('--since', c1.toISOString().replace('Z', '+00:00'), '--status', 'failed')).toEqual(['job-c:1']);
  // Local means the CLI's own zone: in India (UTC+5:30, no daylight saving) the wall clock is 5.5 h ahead.
  const kolkata = new Date(c1.getTime() + 5.5 * 3_600_000).toISOString().replace('T', ' ').replace('Z', '');
  const proc = Bun.spawn([process.execPath, CLI, 'history', '--json', '--since', kolkata], { env: testEnv({ ...env, TZ: 'Asia/Kolkata' }), stdout: 'pipe' });
  expect(JSON.parse(await new Response(proc.stdout).text()).rows.map((r: { jobId: string }) => r.jobId)).toEqual(['job-c']);
  // A time names its whole second, minute or day: the second a row's FINISHED column prints matches that row.
  const printed = local(c1).slice(0, 19);
  expect(await jobs('--since', printed, '--until', printed)).toEqual(['job-c:1']);
  expect(await jobs('--since', printed.slice(0, 16), '--until', printed.slice(0, 16))).toContain('job-c:1');
  expect(await jobs('--since', printed.slice(0, 10), '--until', printed.slice(0, 10))).toContain('job-c:1');
  // A date alone is that day's local midnight: the oldest row's day holds it and all later ones.
  expect((await jobs('--since', local(a1).slice(0, 10))).length).toBe(4);

  const table = await cli('history', '--since', '2h', '--until', '1s');
  expect(table.code).toBe(0);
  expect(table.stdout.trim().split('\n')).toHaveLength(5);
}, CLI_TEST_TIMEOUT_MS);

test('history refuses a --since/--until it cannot read, or a range that is empty by construction', async () => {
  const usage = 'must be a time like 2026-12-01T03:00:00Z, 2026-12-01 03:00 (local time) or 2026-12-01, or a span ago like 30m, 2h or 7d';
  for (const [flag, value] of [['--since', 'yesterday'], ['--until', '2026-02-30'], ['--until', '2026-02-30T00:00:00Z'], ['--since', '2026-12-01 24:00'], ['--since', '5 min'], ['--until', '10000-01-01'], ['--since', '99999999999d'], ['--since', '']]) {
    const { code, stdout, stderr } = await cli('history', flag!, value!);
    expect({ code, stdout, stderr }).toEqual({ code: 2, stdout: '', stderr: `error: ${flag} ${usage}; got "${value}"\n` });
  }
  const backwards = await cli('history', '--since', '2026-12-02T00:00:00Z', '--until', '2026-12-01T00:00:00Z');
  expect(backwards).toMatchObject({ code: 2, stderr: 'error: --since 2026-12-02T00:00:00Z is later than --until 2026-12-01T00:00:00Z: no execution can match\n' });
  expect(await cli('history', '--since', '1h', '--until', '2h')).toMatchObject({ code: 2, stderr: 'error: --since 1h is later than --until 2h: no execution can match\n' });
  // Later only in the digits past the millisecond: the store's own check, still exit 2 naming --since.
  expect(await cli('history', '--since', '2026-12-01T00:00:00.1235Z', '--until', '2026-12-01T00:00:00.1231Z')).toMatchObject({
    code: 2,
    stderr: 'error: since ("2026-12-01T00:00:00.1235Z") is later than until ("2026-12-01T00:00:00.1231Z"): no execution can match\n',
  });
  // Wholly inside the hour the clocks skip: no clock showed it, so nothing matches, and that is no
  // error; written the wrong way round, it still is. Santiago skips midnight: its day starts in the gap.
  const inZone = async (zone: string, ...args: string[]) => {
    const proc = Bun.spawn([process.execPath, CLI, 'history', ...args], { env: testEnv({ ...env, TZ: zone }), stdout: 'pipe', stderr: 'pipe' });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  };
  const nothing = { code: 0, stdout: 'no executions recorded that match\n', stderr: '' };
  expect(await inZone('America/New_York', '--since', '2026-03-08 02:30', '--until', '2026-03-08 02:45')).toEqual(nothing);
  expect(await inZone('America/Santiago', '--since', '2026-09-06', '--until', '2026-09-06 00:30')).toEqual(nothing);
  expect(await inZone('America/New_York', '--since', '2026-03-08 02:45', '--until', '2026-03-08 02:30')).toMatchObject({
    code: 2,
    stderr: 'error: --since 2026-03-08 02:45 is later than --until 2026-03-08 02:30: no execution can match\n',
  });
  expect(await inZone('America/New_York', '--since', '2026-03-08 02:30', '--until', '2026-03-08 02:45', '--cursor', 'bogus')).toMatchObject({ code: 2 });
  // Wholly past what the table holds: refused, not moved onto the edge rows.
  const late = Bun.spawn([process.execPath, CLI, 'history', '--since', '9999-12-31 20:00'], { env: testEnv({ ...env, TZ: 'America/New_York' }), stdout: 'pipe', stderr: 'pipe' });
  expect(await late.exited).toBe(2);
  expect(await new Response(late.stderr).text()).toBe('error: --since 9999-12-31 20:00 is after 9999-12-31T23:59:59.999Z, outside what the audit table holds: no execution can match\n');
}, CLI_TEST_TIMEOUT_MS);

test('with no embedded store yet, history and monitor say so, and history still refuses what the store would', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-no-store-'));
  try {
    const none = { ...env, DATABASE_URL: '', DATA_DIR: dataDir };
    const run = async (...args: string[]) => {
      const proc = Bun.spawn([process.execPath, CLI, 'history', ...args], { env: testEnv(none), stdout: 'pipe', stderr: 'pipe' });
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      return { code, stdout, stderr };
    };
    expect(await run()).toEqual({ code: 0, stdout: `no executions recorded yet (no audit store in ${join(dataDir, 'audit')})\n`, stderr: '' });
    expect(await run('--cursor', 'bogus')).toEqual({ code: 2, stdout: '', stderr: 'error: cursor is not one this API returned\n' });
    // The monitor says where it looked too, rather than only "none recorded".
    const monitor = Bun.spawn([process.execPath, CLI, 'monitor'], { env: testEnv(none), stdout: 'pipe', stderr: 'pipe' });
    expect(await new Response(monitor.stdout).text()).toContain(
      `  none recorded: no audit store in ${join(dataDir, 'audit')} (DATA_DIR; or set DATABASE_URL as the server has it)\n`,
    );
    // Nothing was created by reading.
    expect(readdirSync(dataDir)).toEqual([]);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}, CLI_TEST_TIMEOUT_MS);

test('history rejects bad flags with exit code 2', async () => {
  expect(await cli('history', '--status', 'lost')).toMatchObject({ code: 2, stderr: 'error: --status must be one of completed, failed, got "lost"\n' });
  expect(await cli('history', '--limit', '0')).toMatchObject({ code: 2 });
  expect(await cli('history', '--limit', '5000')).toMatchObject({ code: 2 });
  expect(await cli('history', '--cursor', 'bogus')).toMatchObject({ code: 2 });
  // Empty filters: refused here as the server's API refuses them, so the answer does not depend on the store.
  expect(await cli('history', '--type', '')).toMatchObject({ code: 2, stderr: 'error: --type needs a value\n' });
  expect(await cli('history', '--job-id', ' ')).toMatchObject({ code: 2, stderr: 'error: --job-id needs a value\n' });
  expect(await cli('history', '--frobnicate')).toMatchObject({ code: 2, stderr: 'error: unknown flag --frobnicate\n' });
}, CLI_TEST_TIMEOUT_MS);

test('monitor shows per-type success rate and p95 duration from the audit table', async () => {
  const { code, stdout } = await cli('monitor');
  expect(code).toBe(0);
  const section = stdout.slice(stdout.indexOf('Executions in the last 1h (audit table)')).trim().split('\n');
  expect(section[1]).toMatch(/TYPE\s+RUNS\s+FAILED\s+SUCCESS\s+P95\s+HEALTH\s+LAST RUN/);
  // 4 runs, 2 failed; job-b's first failure was retried, so 2 of 3 finished jobs succeeded.
  expect(section[2]).toMatch(/^\s+echo\s+4\s+2\s+66\.7%\s+385ms\s+warning\s+(\d+m )?\d+s ago$/);
  const json = JSON.parse((await cli('monitor', '--json')).stdout);
  expect(json.audit.types).toEqual([{ type: 'echo', runs: 4, failed: 2, successRate: 2 / 3, p95DurationMs: 385, health: 'warning', lastRunAt: expect.any(String) }]);
}, CLI_TEST_TIMEOUT_MS);

// The CLI migrates an embedded store itself; this case is Postgres's.
test.skipIf(noPostgres)('a Postgres the migrations never reached: history exits 1 and monitor says what to run', async () => {
  const bare = await postgresDatabase('audit_cli_bare');
  try {
    const saved = env;
    env = { ...saved, ...bare.env };
    try {
      const history = await cli('history');
      expect(history.code).toBe(1);
      expect(history.stderr).toContain(`the audit table worker_jobs does not exist in postgres://`);
      expect(history.stderr).toContain(new URL(bare.env.DATABASE_URL).pathname);
      expect(history.stderr).toContain('bun run db:migrate');
      const monitor = JSON.parse((await cli('monitor', '--json')).stdout);
      expect(monitor.audit.error).toContain('bun run db:migrate');
    } finally {
      env = saved;
    }
  } finally {
    await bare.drop();
  }
}, CLI_TEST_TIMEOUT_MS);

test('a Postgres that is not there: history exits 1 naming the database and the cause, not the SQL', async () => {
  const port = await closedPort();
  const saved = env;
  env = { ...saved, DATABASE_URL: `postgres://postgres:s3cret@127.0.0.1:${port}/gone` };
  try {
    const history = await cli('history');
    expect(history.code).toBe(1);
    expect(history.stderr).toBe(`error: the audit database postgres://postgres:***@127.0.0.1:${port}/gone is not reachable: connect ECONNREFUSED 127.0.0.1:${port}\n`);
    const monitor = JSON.parse((await cli('monitor', '--json')).stdout);
    expect(monitor.audit.error).toContain('is not reachable: connect ECONNREFUSED');
  } finally {
    env = saved;
  }
}, CLI_TEST_TIMEOUT_MS);

test.skipIf(noPostgres)('a database that takes no connections: history exits 1 saying so, not the SQL', async () => {
  const closed = await postgresDatabase('audit_cli_closed');
  const name = new URL(closed.env.DATABASE_URL).pathname.slice(1);
  const admin = new URL(closed.env.DATABASE_URL);
  admin.pathname = '/postgres';
  const psql = (sql: string) => Bun.spawnSync(['psql', admin.toString(), '-qc', sql]);
  const saved = env;
  env = { ...saved, ...closed.env };
  try {
    psql(`alter database "${name}" allow_connections false`);
    const history = await cli('history');
    // Before: `error: Failed query: select "id", "execution_id", … params: 21`.
    expect(history.code).toBe(1);
    expect(history.stderr).toBe(`error: the audit database ${closed.env.DATABASE_URL} is not reachable: database "${name}" is not currently accepting connections\n`);
    const monitor = JSON.parse((await cli('monitor', '--json')).stdout);
    expect(monitor.audit.error).toContain('is not currently accepting connections');
  } finally {
    env = saved;
    psql(`alter database "${name}" allow_connections true`);
    await closed.drop();
  }
}, CLI_TEST_TIMEOUT_MS);

// PGlite does not enforce statement_timeout (README: Where the table lives).
test.skipIf(noPostgres)('a read Postgres cancels for running too long: history exits 1 saying what to narrow, monitor reports it', async () => {
  // A table lock holds the reads past their timeout, whatever the machine's speed.
  const saved = env;
  env = { ...saved, AUDIT_READ_TIMEOUT: '300' };
  const lock = await lockWorkerJobs(db.env.DATABASE_URL);
  try {
    const history = await cli('history', '--type', 'echo');
    expect(history.code).toBe(1);
    expect(history.stderr).toBe(
      'error: the audit history query ran longer than 300 ms and Postgres cancelled it (AUDIT_READ_TIMEOUT): ' +
        'filter by type, status or jobId, or give a since/until range, or raise AUDIT_READ_TIMEOUT\n',
    );
    // The monitor's own limit (3 s) is the statement timeout of its read, so Postgres cancels it too.
    const monitor = JSON.parse((await cli('monitor', '--json')).stdout);
    expect(monitor.audit.error).toBe(
      "the audit health query ran longer than queue:monitor's 3000 ms and Postgres cancelled it " +
        '(a lock on worker_jobs, or more rows in the last hour than it reads in that time); GET /api/v1/jobs/health reads the same with AUDIT_READ_TIMEOUT',
    );
  } finally {
    env = saved;
    await lock.release();
  }
}, CLI_TEST_TIMEOUT_MS);
