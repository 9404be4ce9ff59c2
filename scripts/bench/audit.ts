/**
 * The benchmark's view of the audit table. With DATABASE_URL set, the bench creates its
 * own database on that server (and drops it after); without, a fresh PGlite directory.
 * Rows are read after the app has stopped, so PGlite has a single owner at a time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { loadConfig } from '@sluice/config';
import { openAuditStore, sql, workerJobs } from '@sluice/db';

export interface BenchAudit {
  kind: 'postgres' | 'pglite';
  /** Env handed to the Sluice app so it writes where we read. */
  env: Record<string, string>;
  /** Rows written since `since`, and each row's lag (created_at - completed_at) in ms. */
  rowsSince(since: Date): Promise<{ count: number; lagsMs: number[] }>;
  close(): Promise<void>;
}

export async function openBenchAudit(say: (line: string) => void): Promise<BenchAudit> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const serverUrl = process.env.DATABASE_URL;
  let env: Record<string, string> = { DATABASE_URL: '', DATA_DIR: dataDir };
  let drop = async () => {};
  if (serverUrl) {
    const name = `sluice_bench_${process.pid}`;
    const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists ${name}`);
    await admin.unsafe(`create database ${name}`);
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    env = { DATABASE_URL: url.toString(), DATA_DIR: dataDir };
    drop = async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    };
    say(`audit store: Postgres database ${name} on ${url.host}`);
  } else {
    say(`audit store: embedded PGlite in ${dataDir} (set DATABASE_URL to benchmark Postgres)`);
  }
  const config = loadConfig({ ...process.env, ...env });
  return {
    kind: serverUrl ? 'postgres' : 'pglite',
    env,
    async rowsSince(since) {
      const store = await openAuditStore(config);
      try {
        const rows = await store.db
          .select({ createdAt: workerJobs.createdAt, completedAt: workerJobs.completedAt })
          .from(workerJobs)
          .where(sql`${workerJobs.createdAt} >= ${since.toISOString()}`);
        return { count: rows.length, lagsMs: rows.map((r) => r.createdAt.getTime() - r.completedAt.getTime()) };
      } finally {
        await store.close();
      }
    },
    async close() {
      await drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
