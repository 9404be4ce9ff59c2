/** The monitor's audit section: per-type success rate and p95 duration over the last hour, from worker_jobs. */
import type { Config } from '@sluice/config';
import { existsSync } from 'node:fs';
import { DEFAULT_HEALTH_WINDOW_MS, embeddedStoreDir, migrate, openAuditStore, type AuditStore, type AuditStoreBusyError, type TypeHealth } from '@sluice/db';
import { askServer } from '../ask-server.ts';
import { formatDuration, relative, table } from '../format.ts';

export interface AuditTypeRow {
  type: string;
  runs: number;
  failed: number;
  /** 0..1 over finished jobs (retried attempts excluded); null with none finished. */
  successRate: number | null;
  p95DurationMs: number | null;
  health: TypeHealth['status'];
  lastRunAt: string | null;
}

/**
 * `via`: the server it was read through, when the embedded store is open there. `readAt`: set
 * when the figures are an earlier read's, shown again (between reads of the embedded store,
 * or while it is busy and its server not answering yet).
 */
export type AuditFigures = { windowMs: number; types: AuditTypeRow[]; via?: string; readAt?: string; note?: string };
export type AuditStats = AuditFigures | { windowMs: number; error: string };

/**
 * How long the audit section may take. Postgres cancels the read at this point (its
 * statement_timeout), so a redraw that gives up leaves no query running behind it.
 */
const QUERY_TIMEOUT_MS = 3000;
/** The wait in this process also covers connecting, and the embedded store, which cannot cancel. */
const ANSWER_TIMEOUT_MS = QUERY_TIMEOUT_MS + 2000;

/**
 * With no server running, --watch reads the embedded store itself at most this often (the
 * hour's figures change slowly; opening PGlite costs about a second of CPU), and holds it
 * only while it reads.
 */
export const EMBEDDED_REFRESH_MS = 5000;
/**
 * While the embedded store is busy and its server does not answer (a server starting, or
 * flushing as it stops), the last figures are shown again, marked with their age, up to this age.
 */
export const BUSY_REUSE_MS = 60_000;

/**
 * Postgres stays open across --watch redraws. The embedded store is opened for a read and
 * closed after it: held between redraws, it would keep a server from starting (the server
 * waits for a reader, but only for one that lets go) and fail a queue:history. A failed open
 * is retried on the next redraw.
 */
export function createAuditStats(config: Config) {
  let store: AuditStore | null = null;
  /** The last direct read of the embedded store, shown again until EMBEDDED_REFRESH_MS passed. */
  let embeddedRead: { at: number; stats: AuditFigures } | null = null;
  /** The last figures read any way. */
  let lastRead: { at: number; stats: AuditFigures } | null = null;
  const again = (read: { at: number; stats: AuditFigures }): AuditFigures => ({ ...read.stats, readAt: new Date(read.at).toISOString() });
  const remember = (stats: AuditFigures) => {
    lastRead = { at: Date.now(), stats };
    return stats;
  };
  const windowMs = DEFAULT_HEALTH_WINDOW_MS;
  const closeEmbedded = async () => {
    if (store?.kind !== 'pglite') return;
    const open = store;
    store = null;
    await open.close().catch(() => {});
  };
  return {
    async collect(): Promise<AuditStats> {
      try {
        // Reading must not create an embedded store where none was ever written.
        const embedded = embeddedStoreDir(config);
        // Say where it looked: a shell without the server's DATABASE_URL or DATA_DIR looks elsewhere.
        if (embedded && !existsSync(embedded)) return { windowMs, types: [], note: `no audit store in ${embedded} (DATA_DIR; or set DATABASE_URL as the server has it)` };
        if (embeddedRead && Date.now() - embeddedRead.at < EMBEDDED_REFRESH_MS) return again(embeddedRead);
        embeddedRead = null;
        if (!store) {
          try {
            // No wait for another reader: that would hold up the whole screen, Redis figures too.
            store = await openAuditStore(config, { maxConnections: 1, readConnections: 1, readTimeoutMs: QUERY_TIMEOUT_MS, reader: true });
          } catch (error) {
            if ((error as Error)?.name !== 'AuditStoreBusyError') throw error;
            try {
              return remember(await throughServer(config, windowMs, error as AuditStoreBusyError));
            } catch (cause) {
              if (lastRead && Date.now() - lastRead.at < BUSY_REUSE_MS) return again(lastRead);
              throw cause;
            }
          }
          if (store.kind === 'pglite') await migrate(store);
        }
        const health = await withTimeout(store.getHealth({ windowMs }), ANSWER_TIMEOUT_MS);
        const stats = remember({ windowMs, types: health.map(toRow) });
        if (store.kind === 'pglite') embeddedRead = { at: Date.now(), stats };
        return stats;
      } catch (error) {
        // The store's own message says to raise AUDIT_READ_TIMEOUT, which is not this read's limit.
        if ((error as Error)?.name === 'AuditQueryTimeoutError') {
          return {
            windowMs,
            error:
              `the audit health query ran longer than queue:monitor's ${QUERY_TIMEOUT_MS} ms and Postgres cancelled it ` +
              '(a lock on worker_jobs, or more rows in the last hour than it reads in that time); ' +
              'GET /api/v1/jobs/health reads the same with AUDIT_READ_TIMEOUT',
          };
        }
        return { windowMs, error: error instanceof Error ? error.message : String(error) };
      } finally {
        await closeEmbedded();
      }
    },
    async close(): Promise<void> {
      await store?.close().catch(() => {});
    },
  };
}

const toRow = (h: TypeHealth): AuditTypeRow => ({
  type: h.type,
  runs: h.count,
  failed: h.failed,
  successRate: h.successRate,
  p95DurationMs: h.p95DurationMs,
  health: h.status,
  lastRunAt: h.lastRunAt ? new Date(h.lastRunAt).toISOString() : null,
});

/** The embedded store is open in the server (`bun run dev`): ask the server, which reads the same table. */
async function throughServer(config: Config, windowMs: number, busy: AuditStoreBusyError): Promise<AuditFigures> {
  const { body, origin } = await askServer(config, '/api/v1/jobs/health', { windowMs }, busy).catch((cause: Error) => {
    throw new Error(`${busy.message} Asking the server failed too: ${cause.message}`);
  });
  if (body.database?.status !== 'up') throw new Error(`the server at ${origin} cannot read its audit table: ${body.database?.error ?? body.database?.status}`);
  // The server lists every registered type; the store lists those that ran, and so does this.
  const types = (body.types as TypeHealth[]).filter((t) => t.count > 0).map(toRow);
  return { windowMs, types, via: origin };
}

export function renderAuditStats(stats: AuditStats, now = Date.now()): string[] {
  const age = 'readAt' in stats && stats.readAt ? relative(new Date(stats.readAt), now) : 'now';
  const read = age === 'now' ? '' : `, as read ${age}`;
  const source = `${'via' in stats && stats.via ? `audit table, through the server at ${stats.via}` : 'audit table'}${read}`;
  const title = `Executions in the last ${formatDuration(stats.windowMs)} (${source})`;
  if ('error' in stats) return [title, `  unavailable: ${stats.error}`];
  if (stats.types.length === 0) return [title, `  none recorded${stats.note ? `: ${stats.note}` : ''}`];
  const rows = stats.types.map((t) => [
    t.type,
    String(t.runs),
    String(t.failed),
    t.successRate === null ? '-' : `${(t.successRate * 100).toFixed(1)}%`,
    t.p95DurationMs === null ? '-' : formatDuration(t.p95DurationMs),
    t.health,
    t.lastRunAt ? relative(new Date(t.lastRunAt), now) : '-',
  ]);
  return [title, ...table(['TYPE', 'RUNS', 'FAILED', 'SUCCESS', 'P95', 'HEALTH', 'LAST RUN'], rows).map((row) => `  ${row}`)];
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`audit store gave no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
