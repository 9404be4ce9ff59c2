/** `bun run db:migrate`: applies the migrations to Postgres or the embedded store, twice without harm, and names an unreachable server. */
import { afterAll, expect, test } from 'bun:test';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import postgres from 'postgres';
import { migrate as migrateStore, MIGRATIONS_DIR, openAuditStore, sql } from '@sluice/db';
import { closedPort } from '../helpers/ports.ts';
import { pgliteDatabase, postgresDatabase, postgresUnavailable, type TestDatabase } from '../helpers/db.ts';
import { testConfig, testEnv } from '../helpers/env.ts';

// Postgres-only tests are skipped where no Postgres answers (the store is then PGlite).
const noPostgres = (await postgresUnavailable()) !== undefined;

const REPO_ROOT = resolve(import.meta.dir, '../..');
const databases: TestDatabase[] = [];
afterAll(async () => {
  for (const database of databases) await database.drop();
});

async function migrate(env: Record<string, string>) {
  const proc = Bun.spawn([process.execPath, 'run', 'db:migrate'], { cwd: REPO_ROOT, env: testEnv(env), stdout: 'pipe', stderr: 'pipe' });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr };
}

// No Postgres here: the embedded store test below covers the path.
test.skipIf(noPostgres)('on Postgres: creates worker_jobs with its indexes, and a second run changes nothing', async () => {
  const database = await postgresDatabase('migrate-cli');
  databases.push(database);

  const first = await migrate(database.env);
  expect(first.stderr).not.toContain('failed');
  expect(first.code).toBe(0);
  expect(first.stdout).toContain(`migrations applied (${database.kind}:`);
  const second = await migrate(database.env);
  expect(second.code).toBe(0);

  const sql = postgres(database.env.DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    const indexes = await sql<{ indexname: string }[]>`select indexname from pg_indexes where tablename = 'worker_jobs' order by indexname`;
    expect(indexes.map((row) => row.indexname)).toEqual([
      'idx_worker_jobs_completed', 'idx_worker_jobs_created', 'idx_worker_jobs_job_id', 'idx_worker_jobs_status', 'idx_worker_jobs_type_completed',
      'worker_jobs_execution_id_unique', 'worker_jobs_pkey',
    ]);
    const applied = await sql<{ hash: string }[]>`select hash from drizzle.__drizzle_migrations`;
    // Each committed migration once, though the command ran twice.
    const committed = readdirSync(MIGRATIONS_DIR).filter((name) => name.endsWith('.sql'));
    expect(applied).toHaveLength(committed.length);
  } finally {
    await sql.end();
  }
}, 60_000);

test('on the embedded store: applies under DATA_DIR', async () => {
  const database = pgliteDatabase('migrate-cli');
  databases.push(database);
  const result = await migrate(database.env);
  expect(result.code).toBe(0);
  expect(result.stdout).toContain(`migrations applied (pglite: ${database.env.DATA_DIR}/audit)`);
}, 60_000);

// Drops the table from a session of its own: Postgres only (the embedded store runs the same code; see the store test).
test.skipIf(noPostgres)('a worker_jobs dropped by hand after the migrations ran is created again, with its indexes', async () => {
  const database = await postgresDatabase('migrate-dropped');
  databases.push(database);
  expect((await migrate(database.env)).code).toBe(0);
  const sql = postgres(database.env.DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await sql`drop table worker_jobs`;
    // drizzle's journal still lists the migration; before, this printed success and created nothing.
    const again = await migrate(database.env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('worker_jobs was gone although its migrations were recorded as applied (dropped by hand?): created it again');
    const [table] = await sql<{ present: boolean }[]>`select to_regclass('public.worker_jobs') is not null as present`;
    expect(table?.present).toBe(true);
    const indexes = await sql`select indexname from pg_indexes where tablename = 'worker_jobs'`;
    expect(indexes).toHaveLength(7);
    // And once is enough: the next run finds the table and says nothing more.
    expect((await migrate(database.env)).stdout).not.toContain('created it again');
  } finally {
    await sql.end();
  }
}, 60_000);

test('on the embedded store, a dropped worker_jobs is created again too', async () => {
  const database = pgliteDatabase('migrate-dropped');
  databases.push(database);
  const store = await openAuditStore(testConfig(database.env));
  try {
    expect(await migrateStore(store)).toEqual({ recreatedTable: false });
    if (store.driver.kind !== 'pglite') throw new Error('expected the embedded store');
    await store.driver.client.query('drop table worker_jobs');
    expect(await migrateStore(store)).toEqual({ recreatedTable: true });
    expect((await store.getJobHistory({ limit: 1 })).rows).toEqual([]);
  } finally {
    await store.close();
  }
}, 60_000);

test('an unreachable Postgres: exit 1, naming the server without its password', async () => {
  const port = await closedPort();
  const result = await migrate({ DATABASE_URL: `postgres://app:s3cret@127.0.0.1:${port}/app` });
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`db:migrate failed (postgres: postgres://app:***@127.0.0.1:${port}/app): `);
  expect(result.stderr).toContain('ECONNREFUSED');
  expect(result.stderr).not.toContain('s3cret');
}, 30_000);

/** drizzle's execute() answers rows on postgres.js and `{ rows }` on PGlite. */
const rowsOf = (result: unknown) => (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as { n?: number }[];

for (const path of ['postgres', 'pglite'] as const) {
  test(`on ${path}: a migration newer than the journal's last is applied; with none newer, nothing runs`, async () => {
    const database = path === 'postgres' ? await postgresDatabase('migrate-newer') : pgliteDatabase('migrate-newer');
    databases.push(database);
    // The committed migrations plus one generated later, in a folder of their own.
    const folder = mkdtempSync(join(tmpdir(), 'sluice-migrations-'));
    cpSync(MIGRATIONS_DIR, folder, { recursive: true });
    const journalFile = join(folder, 'meta/_journal.json');
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { idx: number; when: number; tag: string }[] };
    const last = journal.entries.at(-1)!;
    journal.entries.push({ ...last, idx: last.idx + 1, when: last.when + 1000, tag: '0099_probe' });
    writeFileSync(journalFile, JSON.stringify(journal));
    writeFileSync(join(folder, '0099_probe.sql'), 'CREATE INDEX "idx_worker_jobs_probe" ON "worker_jobs" USING btree ("attempt");');

    const store = await openAuditStore(testConfig(database.env));
    try {
      await migrateStore(store);
      const probeIndex = async () => rowsOf(await store.db.execute(sql`select count(*)::int as n from pg_indexes where indexname = 'idx_worker_jobs_probe'`))[0]?.n;
      expect(await probeIndex()).toBe(0);
      await migrateStore(store, { migrationsFolder: folder });
      expect(await probeIndex()).toBe(1);
      // Up to date now: the second run skips drizzle, and the journal lists each migration once.
      await migrateStore(store, { migrationsFolder: folder });
      const applied = await store.db.execute(sql`select hash from drizzle.__drizzle_migrations`);
      expect(rowsOf(applied)).toHaveLength(journal.entries.length);
    } finally {
      await store.close();
      rmSync(folder, { recursive: true, force: true });
    }
  }, 60_000);
}

for (const path of ['postgres', 'pglite'] as const) {
  test(`on ${path}: a database migrated before the (type, completed_at, id) index gets it, its rows kept, from migrate() and db:migrate`, async () => {
    const database = path === 'postgres' ? await postgresDatabase('migrate-type-index') : pgliteDatabase('migrate-type-index');
    databases.push(database);
    // The committed migrations as they were before the index: the first one only.
    const folder = mkdtempSync(join(tmpdir(), 'sluice-migrations-'));
    cpSync(MIGRATIONS_DIR, folder, { recursive: true });
    const journalFile = join(folder, 'meta/_journal.json');
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] };
    expect(journal.entries[0]!.tag).toBe('0000_worker_jobs');
    for (const entry of journal.entries.slice(1)) rmSync(join(folder, `${entry.tag}.sql`));
    writeFileSync(journalFile, JSON.stringify({ ...journal, entries: journal.entries.slice(0, 1) }));

    const indexes = async (store: Awaited<ReturnType<typeof openAuditStore>>) =>
      rowsOf(await store.db.execute(sql`select indexname from pg_indexes where tablename = 'worker_jobs' order by indexname`)).map((r) => (r as { indexname: string }).indexname);
    const store = await openAuditStore(testConfig(database.env));
    try {
      await migrateStore(store, { migrationsFolder: folder });
      expect(await indexes(store)).toContain('idx_worker_jobs_type');
      const now = new Date();
      await store.insertExecutions([{
        executionId: 'kept:1:1', jobId: 'kept', type: 'echo', status: 'completed', attempt: 1, worker: 'h:1',
        queuedAt: now, startedAt: now, completedAt: now, durationMs: 0,
      }]);
      // The server and `bun run worker` call this at start; it must not take the journal as up to date.
      await migrateStore(store);
      const after = await indexes(store);
      expect(after).toContain('idx_worker_jobs_type_completed');
      expect(after).not.toContain('idx_worker_jobs_type');
      expect(after).toHaveLength(7);
      const [definition] = rowsOf(await store.db.execute(sql`select indexdef from pg_indexes where indexname = 'idx_worker_jobs_type_completed'`)) as { indexdef: string }[];
      expect(definition!.indexdef).toContain('(type, completed_at, id)');
      expect((await store.getJobHistory({ type: 'echo' })).rows.map((r) => r.jobId)).toEqual(['kept']);
      const applied = rowsOf(await store.db.execute(sql`select hash from drizzle.__drizzle_migrations`));
      expect(applied).toHaveLength(readdirSync(MIGRATIONS_DIR).filter((name) => name.endsWith('.sql')).length);
    } finally {
      await store.close();
      rmSync(folder, { recursive: true, force: true });
    }
    // And `bun run db:migrate` afterwards has nothing left to do.
    expect((await migrate(database.env)).code).toBe(0);
  }, 60_000);
}
