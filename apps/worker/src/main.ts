/** `bun run worker`: the supervisor, plus the audit writer that moves its execution records into worker_jobs. */
import { loadConfigOrExit } from '@sluice/config';
import { startAuditTrail, type AuditTrail } from '@sluice/db';
import { createLogger, createMetrics } from '@sluice/observability';
import { connectRedis, isRedisRefusal } from '@sluice/queue';
import { onStopSignals, type Supervisor } from '@sluice/supervisor';
import { serveMetrics } from './metrics-endpoint.ts';
import { startSupervisor } from './start-supervisor.ts';

const config = loadConfigOrExit(process.env);
const log = createLogger({ level: config.log.level, pretty: config.log.pretty, bindings: { process: 'supervisor' } });

// A Redis that turns REDIS_URL away (a wrong password, an ACL without INFO or scripts, a database index it lacks)
// is named here, as the server does, rather than by workers retrying the refusal without end.
// One that is down or still loading is waited for by the workers, as through any outage.
await connectRedis(config.redis.url, { role: 'producer', connectionName: 'sluice-supervisor-check' }).then(
  (redis) => redis.quit(),
  (error: Error) => {
    if (!isRedisRefusal(error)) {
      log.warn({ err: error.message }, 'redis not answering yet; the workers wait for it');
      return;
    }
    process.stderr.write(`sluice worker: ${error.message}\n`);
    process.exit(1);
  },
);

let supervisor: Supervisor | null = null;
let audit: AuditTrail | null = null;
// Queue depth is left to the server: every host reporting it would double it in a sum.
const metrics = createMetrics({
  log,
  sources: { workers: () => supervisor?.snapshot() ?? [], auditBacklog: async () => audit?.writer.backlog() ?? 0, auditParked: async () => audit?.writer.parked() ?? 0 },
});
// Opened before the workers so a busy embedded store fails the start, not a later write.
if (config.audit.enabled) {
  audit = await startAuditTrail({ config, log, onInserted: (records) => metrics.recordExecutions(records) }).catch((error: Error) => {
    process.stderr.write(`sluice worker: ${error.message}\n`);
    process.exit(1);
  });
}
// Listening before the workers are forked: a taken port or a HOST not of this machine stops
// the start with one line, not a stack trace with orphaned workers logging `worker ready`.
const endpoint = config.server.metricsPort === undefined ? null : await listenForMetrics(config.server.metricsPort);
if (endpoint) log.info({ url: `http://${endpoint.hostname}:${endpoint.port}/metrics` }, 'metrics endpoint listening');
supervisor = startSupervisor(config, log);

onStopSignals(
  (signal) => {
    log.info({ signal }, 'signal received');
    void supervisor!.stop();
  },
  (why) => why === 'nohup' && log.info('SIGHUP ignored: started with nohup, so the workers outlive the terminal'),
);
// Started by `bun run dev` (with an IPC channel): when dev dies without stopping us, stop too.
if (process.send) process.on('disconnect', () => void supervisor!.stop());

const exit = await supervisor.done;
if (exit.code !== 0) process.stderr.write(`sluice worker: ${exit.reason}\n`);
// Workers have stopped, so every record they will write is in the stream: write it out.
await audit?.close();
await endpoint?.stop();
log.info({ code: exit.code }, 'supervisor exited');
process.exit(exit.code);

async function listenForMetrics(port: number) {
  try {
    return serveMetrics(metrics, config.server.host, port, config.server.allowedHosts);
  } catch (error) {
    const reason = (error as { code?: string })?.code === 'EADDRINUSE' ? 'the port is in use' : ((error as Error)?.message ?? String(error));
    process.stderr.write(`sluice worker: cannot serve metrics on ${config.server.host}:${port} (${reason}): set METRICS_PORT to a free port, or HOST to an address of this machine\n`);
    await audit?.close(0);
    process.exit(1);
  }
}
