/**
 * Reads the audit table through the running server's API. Used when the embedded audit
 * store is open in that server (PGlite has one owner), so `queue:history` and the
 * monitor's audit section still work beside `bun run dev`.
 */
import type { Config } from '@sluice/config';
import { InvalidAuditQueryError, type HistoryInstant, type HistoryPage, type HistoryQuery } from '@sluice/db';

/** The process holding the embedded store, as its lock file names it (AuditStoreBusyError). */
export interface StoreHolder {
  ownerPid: number;
  ownerHost?: string;
}

/** Must match the server's PROCESS_HEADER (apps/server/src/routes/job-reports.ts). */
const PROCESS_HEADER = 'x-sluice-process';

/**
 * GETs `path` from the running server, with the admin credentials when configured. Throws
 * naming the server. With `holder`, the server must be that process: another server on
 * HOST:PORT (another checkout, or one with DATABASE_URL set) reads another table.
 */
export async function askServer(config: Config, path: string, params: Record<string, unknown> = {}, holder?: StoreHolder): Promise<{ body: any; origin: string }> {
  // A server bound to every interface still answers on loopback.
  const host = ['0.0.0.0', '::', ''].includes(config.server.host) ? '127.0.0.1' : config.server.host;
  const url = new URL(`http://${host.includes(':') ? `[${host}]` : host}:${config.server.port}${path}`);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, String(value));
  const headers: Record<string, string> = {};
  if (config.admin.token) headers.authorization = `Bearer ${config.admin.token}`;
  else if (config.admin.user && config.admin.password) headers.authorization = `Basic ${btoa(`${config.admin.user}:${config.admin.password}`)}`;

  const response = await fetch(url, { headers, signal: AbortSignal.timeout(5000) }).catch((error: Error) => {
    throw new Error(`could not reach the server at ${url.origin} (${(error.cause as Error | undefined)?.message ?? error.message})`);
  });
  const body = (await response.json().catch(() => null)) as { error?: { code: string; message: string; field?: string } } | null;
  // The server checks the query as the store would: its verdict is the caller's mistake, as it would be locally.
  if (body?.error?.code === 'INVALID_AUDIT_QUERY') throw new InvalidAuditQueryError(body.error.field ?? 'query', body.error.message);
  if (!response.ok || !body) throw new Error(`the server at ${url.origin} answered ${response.status}: ${body?.error?.message ?? 'no body'}`);
  if (holder) {
    const answered = response.headers.get(PROCESS_HEADER);
    const expected = `${holder.ownerPid} ${holder.ownerHost ?? ''}`.trim();
    if (answered !== expected) {
      const who = answered ? `process ${answered.replace(' ', ' on host ')}` : 'a process that does not say which it is';
      throw new Error(`the server at ${url.origin} is ${who}, not the one with this embedded store open, so it reads another audit table`);
    }
  }
  return { body, origin: url.origin };
}

export async function historyFromServer(config: Config, query: HistoryQuery, holder?: StoreHolder): Promise<{ page: HistoryPage; url: string }> {
  // The API takes RFC 3339 date-times; String(date) would be "Tue Dec 01 2026 ...".
  const iso = (at: HistoryInstant | undefined) => (at instanceof Date ? at.toISOString() : at);
  const { body, origin } = await askServer(config, '/api/v1/jobs/history', { ...query, since: iso(query.since), until: iso(query.until) }, holder);
  if (!Array.isArray(body.rows)) throw new Error(`the server at ${origin} answered without history rows`);
  // JSON carries dates as strings; the table printer wants Dates like the store returns.
  const rows = (body.rows as Record<string, unknown>[]).map((r) => {
    for (const key of ['queuedAt', 'startedAt', 'completedAt', 'createdAt']) if (typeof r[key] === 'string') r[key] = new Date(r[key] as string);
    return r;
  });
  return { page: { rows, nextCursor: body.nextCursor ?? null } as HistoryPage, url: origin };
}
