/** `bun run queue:history` and the audit section of `queue:monitor`, as a user runs them. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { resolve } from 'node:path';
import { migrate, openAuditStore, type NewWorkerJob } from '@sluice/db';
import { lockWorkerJobs, postgresDatabase, type TestDatabase } from '../helpers/db.ts';
import { testConfig, testEnv, uniquePrefix } from '../helpers/env.ts';
import { closedPort } from '../helpers/ports.ts';

const CLI = resolve(import.meta.dir, '../../apps/cli/src/main.ts');
let db: TestDatabase;
let env: Record<string, string>;

async function cli(...args: string[]) {
  const proc = Bun.spawn([process.execPath, CLI, ...args], { env: testEnv(env), stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

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
});

afterAll(async () => {
  await db?.drop();
});

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
});

test('history filters by status and job id, pages with --limit, and prints JSON', async () => {
  const failed = JSON.parse((await cli('history', '--status', 'failed', '--json')).stdout);
  expect(failed.rows.map((r: { jobId: string }) => r.jobId)).toEqual(['job-c', 'job-b']);
  const one = JSON.parse((await cli('history', '--job-id', 'job-b', '--limit', '1', '--json')).stdout);
  expect(one.rows.map((r: { attempt: number }) => r.attempt)).toEqual([2]);
  const next = JSON.parse((await cli('history', '--job-id', 'job-b', '--limit', '1', '--cursor', one.nextCursor, '--json')).stdout);
  expect(next.rows.map((r: { attempt: number }) => r.attempt)).toEqual([1]);
  expect((await cli('history', '--type', 'nope')).stdout.trim()).toBe('no executions recorded that match');
});

test('history rejects bad flags with exit code 2', async () => {
  expect(await cli('history', '--status', 'lost')).toMatchObject({ code: 2, stderr: 'error: --status must be one of completed, failed, got "lost"\n' });
  expect(await cli('history', '--limit', '0')).toMatchObject({ code: 2 });
  expect(await cli('history', '--limit', '5000')).toMatchObject({ code: 2 });
  expect(await cli('history', '--cursor', 'bogus')).toMatchObject({ code: 2 });
  // Empty filters: refused here as the server's API refuses them, so the answer does not depend on the store.
  expect(await cli('history', '--type', '')).toMatchObject({ code: 2, stderr: 'error: --type needs a value\n' });
  expect(await cli('history', '--job-id', ' ')).toMatchObject({ code: 2, stderr: 'error: --job-id needs a value\n' });
  expect(await cli('history', '--frobnicate')).toMatchObject({ code: 2, stderr: 'error: unknown flag --frobnicate\n' });
});

test('monitor shows per-type success rate and p95 duration from the audit table', async () => {
  const { code, stdout } = await cli('monitor');
  expect(code).toBe(0);
  const section = stdout.slice(stdout.indexOf('Executions in the last 1h (audit table)')).trim().split('\n');
  expect(section[1]).toMatch(/TYPE\s+RUNS\s+FAILED\s+SUCCESS\s+P95\s+HEALTH\s+LAST RUN/);
  // 4 runs, 2 failed; job-b's first failure was retried, so 2 of 3 finished jobs succeeded.
  expect(section[2]).toMatch(/^\s+echo\s+4\s+2\s+66\.7%\s+385ms\s+warning\s+\d+s ago$/);
  const json = JSON.parse((await cli('monitor', '--json')).stdout);
  expect(json.audit.types).toEqual([{ type: 'echo', runs: 4, failed: 2, successRate: 2 / 3, p95DurationMs: 385, health: 'warning', lastRunAt: expect.any(String) }]);
});

test('a Postgres the migrations never reached: history exits 1 and monitor says what to run', async () => {
  const bare = await postgresDatabase('audit_cli_bare');
  try {
    const saved = env;
    env = { ...saved, ...bare.env };
    try {
      if (bare.kind === 'pglite') return; // the CLI migrates an embedded store itself; this case is Postgres's
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
});

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
});

test('a read Postgres cancels for running too long: history exits 1 saying what to narrow, monitor reports it', async () => {
  if (db.kind !== 'postgres') return; // PGlite does not enforce statement_timeout (README: Where the table lives)
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
    expect(monitor.audit.error).toContain('the audit health query ran longer than 3000 ms and Postgres cancelled it');
  } finally {
    env = saved;
    await lock.release();
  }
}, 30_000);
