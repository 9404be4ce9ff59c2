/** Worker subprocess entry: one BullMQ Worker on `jobs`, heartbeats to the supervisor, graceful drain. */
import { writeSync } from 'node:fs';
import { Redis } from 'ioredis';
import { loadConfigOrExit } from '@sluice/config';
import { jobRegistry } from '@sluice/jobs';
import { createLogger } from '@sluice/observability';
import { createAuditAppender, createAuditMaintenanceClient } from '@sluice/db/worker';
import { createJobWorker, describeRedisRefusal, ERROR_STORM, logStrayRejections, openWorkerConnection, QueueManager, redactUrl, selectUrlDatabase, sluiceKeys } from '@sluice/queue';
import { onStopSignals, WORKER_SLOT_ENV, type ChildMessage, type ParentMessage } from '@sluice/supervisor';
import { watchFetching } from './fetch-watchdog.ts';
import { watchForFreeze } from './freeze-watch.ts';

const HEARTBEAT_MS = 1000;
/** The longest a stopping worker waits for its queue connection to close. */
const QUEUE_CLOSE_MS = 1000;

const config = loadConfigOrExit(process.env);
const slot = process.env[WORKER_SLOT_ENV] ?? '0';
const log = createLogger({ level: config.log.level, pretty: config.log.pretty, bindings: { worker: Number(slot) } });
const send = (message: ChildMessage) => process.send?.(message);
logStrayRejections(log);

// Until the worker exists there is nothing to drain: a stop, or the supervisor's death, that
// comes while this process still waits for Redis (to select the URL's database) exits at once
// rather than after the supervisor's hard kill, or never, left orphaned.
let workerCreated = false;
const exitBeforeStart = () => {
  if (!workerCreated) process.exit(0);
};
process.on('message', (message: ParentMessage) => message?.type === 'shutdown' && exitBeforeStart());
// SIGHUP is the supervisor's to act on: it reaches the supervisor too, which stops us if it stops.
onStopSignals(exitBeforeStart);
process.on('disconnect', exitBeforeStart);

// Producer commands (ctx.queue) and audit housekeeping. Workers wait out Redis outages
// instead of failing: BullMQ needs maxRetriesPerRequest=null here.
const connection = new Redis(config.redis.url, { maxRetriesPerRequest: null, connectionName: `sluice-worker-${slot}` });
connection.on('error', (error) => log.warn({ err: error.message }, 'redis connection error'));
// A database index Redis refuses would leave both connections in database 0, serving another queue.
await selectUrlDatabase(connection, config.redis.url).catch((error: Error) => {
  process.stderr.write(`sluice worker: ${error.message}\n`);
  process.exit(1);
});
// The job connection: BullMQ's job commands, and the audit records that must precede them.
const jobs = openWorkerConnection(config.redis.url, {
  kind: config.worker.redisClient,
  connectionName: `sluice-worker-${slot}-jobs`,
  onError: (error) => log.warn({ err: error.message }, 'redis job connection error'),
});
const queue = await QueueManager.open({ config, registry: jobRegistry, connection });
const keys = sluiceKeys(config.redis.prefix);
const appender = config.audit.enabled
  ? createAuditAppender({ send: jobs.send, streamKey: keys.auditStream, log: log.child({ component: 'audit' }) })
  : null;
const audit = appender
  ? { onExecution: appender.append, services: { audit: createAuditMaintenanceClient({ redis: connection, keys }) } }
  : {};
workerCreated = true;
const jobWorker = createJobWorker({ config, registry: jobRegistry, connection: jobs.client, connected: jobs.connected, log, queue, onErrorStorm, ...audit });

/**
 * Redis refuses this worker on every try, and the loop starves the process: exit now (jobs
 * still running are re-run by stalled-job recovery, as Redis would not take them back either), so the supervisor restarts it after a
 * backoff and, if the refusal lasts, gives up with this line as the reason.
 */
function onErrorStorm(error: Error, events: number): never {
  const reason =
    describeRedisRefusal(error, config.redis.url) ??
    `${error.message}; a wrong password in REDIS_URL, or an ACL, has Redis at ${redactUrl(config.redis.url)} close or refuse every connection`;
  writeSync(2, `error: worker ${slot} stopped: BullMQ reported ${events} errors within ${ERROR_STORM.withinMs} ms: ${reason}\n`);
  process.exit(1);
}

let processed = 0;
jobWorker.worker.on('completed', () => processed++);
jobWorker.worker.on('failed', () => processed++);

const heartbeat = setInterval(() => {
  send({ type: 'heartbeat', active: jobWorker.activeCount(), processed, rssBytes: process.memoryUsage.rss() });
}, HEARTBEAT_MS);

// A process that stopped fetching while it looks healthy is replaced: stopped here, and restarted by the supervisor.
const fetching = watchFetching({
  queue: queue.queue,
  concurrency: config.worker.concurrency,
  activeCount: () => jobWorker.activeCount(),
  heldBack: () => jobWorker.heldBack(),
  onStuck: (waiting, idleMs) => {
    log.error({ waiting, idleMs }, 'worker stopped fetching jobs: jobs wait while it has free slots and starts none; stopping this process for the supervisor to replace');
    void shutdown(config.worker.shutdownTimeoutMs);
  },
});
jobWorker.worker.on('active', () => fetching.started());

// Back from a freeze on Bun's client, whose blocking connection may not recover: replaced at
// once, rather than when the fetch watchdog notices (half a minute, or never while a sibling
// process takes the jobs). ioredis comes back by itself.
const freezes = watchForFreeze((frozenMs) => {
  if (config.worker.redisClient !== 'bun') return log.warn({ frozenMs }, 'worker process was frozen (stopped, or its VM paused); carrying on');
  log.warn({ frozenMs }, 'worker process was frozen (stopped, or its VM paused); replacing it, as its blocking Redis connection may not come back');
  void shutdown(config.worker.shutdownTimeoutMs);
});

let stopping = false;
async function shutdown(timeoutMs: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(heartbeat);
  fetching.stop();
  freezes.stop();
  log.info({ active: jobWorker.activeCount(), timeoutMs }, 'worker draining');
  const outcome = await jobWorker.stop(timeoutMs);
  if (outcome === 'redis-gone') {
    log.warn('redis closed the connection and no job is running or finishing: stopping without waiting for it');
  } else if (outcome === 'close-stuck') {
    log.warn("every job's outcome is in redis, and BullMQ's close has not returned: stopping without waiting for it");
  } else if (outcome === 'timed-out' && jobWorker.activeCount() === 0) {
    // With nothing running, what did not finish is BullMQ's close itself (Redis not answering).
    log.warn('shutdown timeout reached while closing the Redis connection (is Redis down?); no job was running');
  }
  // Records Redis refused during an outage get one more chance before the process goes.
  if (appender && !(await appender.drain(Math.max(1000, timeoutMs / 10)))) {
    log.error({ records: appender.pending() }, 'audit records could not be appended before exit');
  }
  // Every job finished unless the timeout cut the drain short.
  send({ type: 'stopped', drained: outcome !== 'timed-out' });
  // BullMQ's close waits for Redis to answer: bounded, so a worker with no supervisor left to
  // kill it still exits while Redis is down or paused.
  await Promise.race([queue.close().catch(() => {}), Bun.sleep(QUEUE_CLOSE_MS)]);
  // Last, so that no handler of this process still runs when another worker starts the job again.
  if (outcome === 'timed-out' && jobWorker.activeCount() > 0) await returnUnfinished();
  jobs.close();
  connection.disconnect();
  process.exit(0);
}

/** Jobs still running past the shutdown timeout go back to the queue, or failing that stay for stalled-job recovery. */
async function returnUnfinished(): Promise<void> {
  const active = jobWorker.activeCount();
  const back = await Promise.race([jobWorker.returnUnfinished(), Bun.sleep(QUEUE_CLOSE_MS).then(() => null)]);
  if (back && back.returned.length > 0) {
    log.warn({ jobs: back.returned }, 'shutdown timeout reached; unfinished jobs returned to the queue, to run again from the start (no attempt or stall counted)');
  }
  if (!back || back.left.length > 0) {
    log.warn({ active, jobs: back?.left }, 'shutdown timeout reached; unfinished jobs are left for stalled-job recovery (Redis did not take them back)');
  }
}

process.on('message', (message: ParentMessage) => {
  if (message?.type === 'shutdown') void shutdown(message.timeoutMs);
});
onStopSignals(() => void shutdown(config.worker.shutdownTimeoutMs));
// The supervisor is gone (killed hard): stop rather than run unsupervised.
process.on('disconnect', () => void shutdown(config.worker.shutdownTimeoutMs));

await jobWorker.worker.waitUntilReady();
log.info({ concurrency: config.worker.concurrency }, 'worker ready');
send({ type: 'ready' });
