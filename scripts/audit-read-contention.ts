/**
 * `bun scripts/audit-read-contention.ts [--rows N] [--reads N]`: whether slow audit reads hold
 * up the writer and the readiness ping. Fills a fresh database on DATABASE_URL's server (default
 * the local Postgres) with N rows completed in the last hour, starts `--reads` concurrent
 * `store.getHealth()` calls (what /api/v1/jobs/health runs), and 300 ms later times a
 * `store.ping(2000)` (what /ready runs) and then a one-row insert on the writer's path. Prints
 * one JSON line, drops the database.
 */
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { loadConfig } from '@sluice/config';
import { migrate, openAuditStore } from '@sluice/db';
import { withScratchDatabase } from './infra/scratch-database.ts';

const USAGE = 'usage: bun scripts/audit-read-contention.ts [--rows N (default 1000000)] [--reads N (default 7)]\n';
let values: { rows: string; reads: string; help?: boolean };
try {
  ({ values } = parseArgs({ strict: true, options: { rows: { type: 'string', default: '1000000' }, reads: { type: 'string', default: '7' }, help: { type: 'boolean' } } }));
} catch (error) {
  process.stderr.write(`error: ${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const [rows, reads] = [Number(values.rows), Number(values.reads)];
if (!/^\d+$/.test(values.rows) || !/^\d+$/.test(values.reads) || rows < 1 || reads < 1) {
  process.stderr.write(USAGE);
  process.exit(2);
}

await withScratchDatabase('contention', async (url) => {
  const store = await openAuditStore(loadConfig({ DATABASE_URL: url }));
  try {
    await migrate(store);
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    await sql.unsafe(`
      insert into worker_jobs (execution_id, job_id, type, data, result, status, attempt, worker, queued_at, started_at, completed_at, duration_ms)
      select 'e' || g, 'j' || g, case when g % 10 < 6 then 'echo' when g % 10 < 9 then 'sendEmail' else 'chainWatch' end,
             '{"message":"hello"}', '{"ok":true}', case when g % 13 = 0 then 'failed' else 'completed' end, 1, 'host:1', c, c, c, (g::bigint * 7919) % 500
      from generate_series(1, ${rows}) g, lateral (select now() - interval '50 minutes' + (g::float8 / ${rows}) * interval '50 minutes' as c) t`);
    await sql`vacuum analyze worker_jobs`;
    await sql.end();

    const started = performance.now();
    const msSince = (t: number) => Math.round(performance.now() - t);
    const health = Array.from({ length: reads }, () => store.getHealth().then(() => msSince(started), (error: Error) => `failed after ${msSince(started)} ms: ${error.message}`));
    await Bun.sleep(300);
    let t = performance.now();
    const ping = await store.ping(2000);
    const pingMs = msSince(t);
    t = performance.now();
    const now = new Date();
    await store.insertExecutions([{ executionId: 'probe', jobId: 'probe', type: 'probe', status: 'completed', attempt: 1, worker: 'h:1', queuedAt: now, startedAt: now, completedAt: now, durationMs: 0 }]);
    const insertMs = msSince(t);
    process.stdout.write(`${JSON.stringify({ rows, reads, ping: ping.status, pingError: ping.error, pingMs, insertMs, insertDoneAtMs: msSince(started), healthDoneAtMs: await Promise.all(health) })}\n`);
  } finally {
    await store.close();
  }
});
