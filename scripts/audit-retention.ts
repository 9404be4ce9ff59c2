/**
 * `bun scripts/audit-retention.ts [--expired N] [--retained N] [--late N] [--batch N]`: how long
 * retention takes. Fills a fresh database on DATABASE_URL's server (default the local Postgres)
 * with N rows written 31-60 days ago, N written in the last 29 days and `--late` rows written
 * 31-60 days ago but inserted last (the highest ids, as an import or a restored backlog
 * leaves them), vacuums and analyzes it, then times one `store.deleteExecutionsBefore(now - 30
 * days)` as the cleanupAuditLog job runs it, checks that exactly the expired rows went, and
 * drops the database. `--held-snapshot` keeps a transaction open on another connection
 * meanwhile (as a long read does), so Postgres cannot prune the index entries of deleted rows.
 */
import postgres from 'postgres';
import { loadConfig } from '@sluice/config';
import { migrate, openAuditStore } from '@sluice/db';
import { parseScriptArgs } from './infra/script-args.ts';
import { withScratchDatabase } from './infra/scratch-database.ts';

const say = (line: string) => process.stderr.write(`[audit-retention] ${line}\n`);
const USAGE = `usage: bun scripts/audit-retention.ts [options]
  --expired N    rows written 31-60 days ago, lowest ids (default 1000000)
  --retained N   rows written in the last 29 days (default 1000000)
  --late N       rows written 31-60 days ago with the highest ids (default 20000)
  --batch N      rows per DELETE (default: the store's, as the job uses)
  --held-snapshot
                 hold a repeatable-read transaction open on another connection meanwhile
  --help         this text`;
const options = {
  expired: { type: 'string', default: '1000000' },
  retained: { type: 'string', default: '1000000' },
  late: { type: 'string', default: '20000' },
  batch: { type: 'string' },
  'held-snapshot': { type: 'boolean' },
  help: { type: 'boolean' },
} as const;
const values = parseScriptArgs(options, USAGE, say);
const count = (name: 'expired' | 'retained' | 'late' | 'batch', min = 0): number => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min) {
    say(`error: --${name} must be a whole number >= ${min}, got "${values[name]}"`);
    process.exit(2);
  }
  return n;
};
const [expired, retained, late] = [count('expired'), count('retained'), count('late')];
const batchSize = values.batch === undefined ? undefined : count('batch', 1);

await withScratchDatabase('retention', async (url) => {
  const store = await openAuditStore(loadConfig({ DATABASE_URL: url }));
  try {
    await migrate(store);
    const sql = postgres(url, { max: 2, onnotice: () => {} });
    /** `n` rows, ids in insertion order, written evenly from `fromDaysAgo` to `toDaysAgo`. */
    const fill = (n: number, label: string, fromDaysAgo: number, toDaysAgo: number) =>
      n > 0 &&
      sql.unsafe(`
        insert into worker_jobs (execution_id, job_id, type, data, result, status, attempt, worker, queued_at, started_at, completed_at, duration_ms, created_at)
        select '${label}' || g || ':1:1', '${label}' || g, 'echo', '{"message":"hello"}', '{"ok":true}', 'completed', 1, 'host:1', c, c, c, 1, c
        from generate_series(1, ${n}) g,
             lateral (select now() - interval '${fromDaysAgo} days' + (g::float8 / ${n}) * interval '${fromDaysAgo - toDaysAgo} days' as c) t`);
    let started = performance.now();
    await fill(expired, 'x', 60, 31);
    await fill(retained, 'k', 29, 0);
    await fill(late, 'l', 60, 31);
    await sql`vacuum analyze worker_jobs`;
    say(`filled ${expired} expired + ${late} expired with the highest ids + ${retained} retained rows in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const reader = values['held-snapshot'] ? await sql.reserve() : null;
    if (reader) {
      await reader`begin isolation level repeatable read`;
      await reader`select count(*) from worker_jobs where id = 1`;
    }
    started = performance.now();
    const deleted = await store.deleteExecutionsBefore(new Date(Date.now() - 30 * 86_400_000), batchSize === undefined ? {} : { batchSize });
    const seconds = (performance.now() - started) / 1000;
    if (reader) {
      await reader`commit`;
      reader.release();
    }
    const [left] = await sql<{ n: number; old: number }[]>`
      select count(*)::int as n, (count(*) filter (where created_at < now() - interval '30 days'))::int as old from worker_jobs`;
    await sql.end();
    const result = { expired: expired + late, retained, deleted, left: left!.n, expiredLeft: left!.old, batchSize: batchSize ?? 'default', heldSnapshot: Boolean(reader), seconds: Number(seconds.toFixed(1)) };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    if (deleted !== expired + late || left!.n !== retained) {
      say(`error: deleted ${deleted} of ${expired + late} expired rows, ${left!.n} of ${retained} retained rows left`);
      process.exitCode = 1;
    }
  } finally {
    await store.close();
  }
});
