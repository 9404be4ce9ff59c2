/**
 * Starts the whole server process in order: queue -> audit trail (migrations, writer) ->
 * built-in schedules -> supervisor -> HTTP. `stop()` undoes it in the order SIGTERM needs.
 */
import type { Config } from '@sluice/config';
import { startAuditTrail, type AuditTrail } from '@sluice/db';
import { jobRegistry, type JobRegistry } from '@sluice/jobs';
import { createMetrics, type Logger } from '@sluice/observability';
import { QueueManager, setupSchedules } from '@sluice/queue';
import { startSupervisor } from '@sluice/worker-app';
import { assertProductionCredentials } from './auth.ts';
import { MAX_BODY_BYTES } from './request-guard.ts';
import { createServer } from './server.ts';

/** How long in-flight HTTP requests get to finish once we stop listening. */
const HTTP_DRAIN_MS = 5000;

export interface RunningServer {
  url: string;
  /** Graceful stop: stop listening, drain the workers, flush the audit writer, close connections. */
  stop(): Promise<void>;
  /** Resolves with the exit code the process should use once everything has stopped. */
  done: Promise<number>;
}

/** The HTTP port could not be bound: taken by another process, or HOST is not an address of this machine. */
export class ServerListenError extends Error {
  override name = 'ServerListenError';
  readonly code = 'LISTEN_FAILED';
  constructor(host: string, port: number, cause: unknown) {
    const reason = (cause as { code?: string })?.code === 'EADDRINUSE' ? 'the port is in use' : ((cause as Error)?.message ?? String(cause));
    super(`cannot listen on ${host}:${port} (${reason}): set PORT to a free port, or HOST to an address of this machine`, { cause });
  }
}

export async function startServerProcess(config: Config, log: Logger): Promise<RunningServer> {
  assertProductionCredentials(config);
  // Widened to JobRegistry: the HTTP layer accepts any type name and validates at run time.
  const queue = await QueueManager.open<JobRegistry>({ config, registry: jobRegistry });

  // Filled once the writer exists; metrics must exist first because the writer feeds them.
  let trail: AuditTrail | null = null;
  let supervisor: ReturnType<typeof startSupervisor> | null = null;
  const metrics = createMetrics({
    log,
    sources: {
      queueCounts: () => queue.getCounts(),
      workers: () => supervisor?.snapshot() ?? [],
      auditBacklog: async () => (trail ? trail.writer.backlog() : 0),
      auditParked: async () => (trail ? trail.writer.parked() : 0),
    },
  });

  async function reconcileSchedules(): Promise<void> {
    const { actions } = await setupSchedules(queue, jobRegistry, config, 'production');
    for (const a of actions) if (a.action !== 'unchanged') log.info({ key: a.key, type: a.type, action: a.action }, 'built-in schedule reconciled');
  }

  try {
    if (config.audit.enabled) {
      trail = await startAuditTrail({ config, log, onInserted: (records) => metrics.recordExecutions(records) });
    }
    if (config.scheduler.enabled) await reconcileSchedules();
  } catch (error) {
    await trail?.close(0).catch(() => {});
    await queue.close();
    throw error;
  }

  const app = await createServer({
    config,
    queue,
    // Workers start once the port is ours; until then /ready counts none.
    supervisor: { snapshot: () => supervisor?.snapshot() ?? [] },
    audit: trail?.store,
    auditProblem: trail?.problem,
    metrics,
    log: log.child({ component: 'http' }),
  });
  try {
    // Elysia turns reusePort on by default, which lets a second server share the port and
    // take half the requests instead of failing.
    // Bun's own body limit (an empty 413) only as a backstop for bodies sent without a length;
    // the request guard answers a declared oversized body with a JSON 413.
    app.listen({ hostname: config.server.host, port: config.server.port, reusePort: false, maxRequestBodySize: 2 * MAX_BODY_BYTES });
  } catch (error) {
    await trail?.close(0).catch(() => {});
    await queue.close();
    throw new ServerListenError(config.server.host, config.server.port, error);
  }
  supervisor = startSupervisor(config, log);
  if (config.scheduler.enabled) {
    // A Redis that restarts without persistence comes back without the schedules; the next
    // server start would put them back, but until then retention would silently stop.
    // Reconciling is idempotent, so it runs again after every reconnect.
    queue.connection.on('ready', () => {
      if (stopping) return;
      reconcileSchedules().catch((error) => log.warn({ err: (error as Error).message }, 'built-in schedules not reconciled after the redis reconnect; the next start does it'));
    });
  }
  const url = `http://${app.server!.hostname}:${app.server!.port}`;
  log.info({ url, dashboard: `${url}/admin/queues`, workers: config.worker.count }, 'server listening');

  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));
  let stopping: Promise<void> | null = null;

  const shutdown = (code: number) =>
    (stopping ??= (async () => {
      log.info('server stopping: no new requests, workers drain, audit flushes');
      // Stop accepting, and have the workers stop taking jobs, at once: a request still being
      // read (a slow upload) must not keep them fetching for up to HTTP_DRAIN_MS.
      const drained = app.stop().then(() => true, () => true);
      const workersStopped = supervisor?.stop();
      // Only force-close when the graceful stop did not finish in time: a second stop on a
      // stopped server throws.
      if (!(await Promise.race([drained, Bun.sleep(HTTP_DRAIN_MS).then(() => false)]))) await app.stop(true).catch(() => {});
      await workersStopped;
      await trail?.close();
      await queue.close();
      log.info({ code }, 'server stopped');
      resolveDone(code);
    })());

  // A supervisor that gave up (crash loop) leaves a server with no workers: exit non-zero.
  void supervisor.done.then((exit) => {
    if (exit.code !== 0) {
      log.fatal({ reason: exit.reason }, 'supervisor gave up; stopping the server');
      void shutdown(exit.code);
    }
  });

  return { url, stop: () => shutdown(0), done };
}
