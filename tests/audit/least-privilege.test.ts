/**
 * A database role that may only read and write worker_jobs (the owner applied the migrations):
 * `db:migrate` has nothing to do and succeeds, and `bun run worker` records executions with it.
 * Before, every start ran drizzle's `CREATE SCHEMA IF NOT EXISTS`, which such a role is refused,
 * so its writer never started and records waited in Redis for good.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import postgres from 'postgres';
import { jobRegistry } from '@sluice/jobs';
import { QueueManager } from '@sluice/queue';
import { postgresDatabase, postgresUnavailable, TEST_POSTGRES_URL, type TestDatabase } from '../helpers/db.ts';
import { testConfig, testEnv, uniquePrefix } from '../helpers/env.ts';
import { killIfRunning, REPO_ROOT, spawnWorkerMain, type WorkerMainProcess } from '../helpers/processes.ts';
import { waitFor } from './support.ts';

// Postgres-only tests are skipped where no Postgres answers (the store is then PGlite).
const noPostgres = (await postgresUnavailable()) !== undefined;

const prefix = uniquePrefix('least-privilege');
const role = `sluice_rw_${crypto.randomUUID().slice(0, 8)}`;
let db: TestDatabase;
let owner: postgres.Sql | undefined;
let asRole: Record<string, string>;
let queue: QueueManager<typeof jobRegistry> | undefined;
let worker: WorkerMainProcess | undefined;

async function migrateAs(env: Record<string, string>) {
  const proc = Bun.spawn([process.execPath, 'run', 'db:migrate'], { cwd: REPO_ROOT, env: testEnv(env), stdout: 'pipe', stderr: 'pipe' });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  db = await postgresDatabase('least-privilege');
  if (db.kind !== 'postgres') return;
  expect((await migrateAs(db.env)).code).toBe(0);
  owner = postgres(db.env.DATABASE_URL, { max: 1, onnotice: () => {} });
  await owner.unsafe(`create role ${role} login`);
  // A new role has no CREATE on the database; before Postgres 15, PUBLIC could create in schema public.
  await owner.unsafe(`revoke create on schema public from public`);
  await owner.unsafe(`grant usage on schema public, drizzle to ${role}`);
  await owner.unsafe(`grant select, insert, delete on worker_jobs to ${role}`);
  await owner.unsafe(`grant usage on all sequences in schema public to ${role}`);
  await owner.unsafe(`grant select on all tables in schema drizzle to ${role}`);
  const url = new URL(db.env.DATABASE_URL);
  url.username = role;
  asRole = { ...db.env, DATABASE_URL: url.toString() };
}, 60_000);

afterAll(async () => {
  await killIfRunning(worker?.proc);
  await queue?.queue.obliterate({ force: true }).catch(() => {});
  await queue?.close();
  await owner?.end();
  await db?.drop();
  if (db?.kind === 'postgres') {
    const admin = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop role if exists ${role}`).finally(() => admin.end());
  }
});

// Roles need a real Postgres; PGlite has one user.
test.skipIf(noPostgres)('the role cannot create anything, yet db:migrate succeeds and bun run worker records executions', async () => {
  // The premise: this role is refused DDL, as drizzle's first statement would be.
  const probe = postgres(asRole.DATABASE_URL!, { max: 1, onnotice: () => {} });
  try {
    await expect(probe.unsafe('create schema if not exists drizzle')).rejects.toThrow(/permission denied/);
  } finally {
    await probe.end();
  }

  const migrated = await migrateAs(asRole);
  expect(migrated.stderr).not.toContain('failed');
  expect(migrated.code).toBe(0);

  worker = spawnWorkerMain({ ...asRole, QUEUE_PREFIX: prefix, WORKER_COUNT: '1' });
  queue = await QueueManager.open({ config: testConfig({ QUEUE_PREFIX: prefix }), registry: jobRegistry });
  const { id } = await queue.submit('echo', { message: 'written by a read-write role' });
  const rows = await waitFor('the execution row, written as the read-write role', async () => {
    const found = await owner!<{ job_id: string; status: string }[]>`select job_id, status from worker_jobs where job_id = ${id}`;
    return found.length > 0 && found;
  }, 30_000);
  expect([...rows]).toEqual([{ job_id: id, status: 'completed' }]);
  expect(worker.stderr()).not.toContain('permission denied');
}, 60_000);

test.skipIf(noPostgres)('on a database the migrations never reached, db:migrate as that role exits 1 with the reason and what to do', async () => {
  const empty = await postgresDatabase('least-privilege-empty');
  try {
    const name = new URL(empty.env.DATABASE_URL).pathname.slice(1);
    const url = new URL(empty.env.DATABASE_URL);
    url.username = role;
    const result = await migrateAs({ ...empty.env, DATABASE_URL: url.toString() });
    expect(result.code).toBe(1);
    // Postgres's reason, not only drizzle's `Failed query: CREATE SCHEMA ...`.
    expect(result.stderr).toContain(`db:migrate failed (postgres: ${url.toString()}): permission denied for database ${name}`);
    expect(result.stderr).toContain('run `bun run db:migrate` once as a role that may (the database owner)');
  } finally {
    await empty.drop();
  }
}, 60_000);
