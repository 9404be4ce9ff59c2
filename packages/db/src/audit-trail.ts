/** Wires the audit trail for a long-running process: open the store, migrate, run one writer. */
import { existsSync } from 'node:fs';
import type { Config } from '@sluice/config';
import type { Logger } from '@sluice/observability';
import { connectRedis, sluiceKeys } from '@sluice/queue';
import { createAuditWriter, type AuditWriter, type AuditWriterOptions } from './audit-writer.ts';
import { errorMessage, INSUFFICIENT_PRIVILEGE, sqlState } from './classify-error.ts';
import { AuditRedisTooOldError } from './errors.ts';
import { redisVersionOf, supportsAuditCommands } from './redis-version.ts';
import { migrate, MIGRATE_AS_OWNER_HINT } from './migrate.ts';
import { embeddedStoreDir, openAuditStore, READER_WAIT_MS, type AuditStore } from './store.ts';

export interface AuditTrail {
  store: AuditStore;
  writer: AuditWriter;
  /** Resolves once migrations are applied and the writer runs (retried while the store is down). */
  ready: Promise<void>;
  /** Why records are not reaching the table right now (migrations not applied, writes failing), or null. */
  problem(): string | null;
  /** Flushes the backlog (up to `flushTimeoutMs`, default 10000), stops the writer, closes connections. */
  close(flushTimeoutMs?: number): Promise<void>;
}

export interface StartAuditTrailOptions extends Pick<AuditWriterOptions, 'onInserted' | 'batchSize' | 'batchRecords' | 'lingerMs' | 'claimIdleMs'> {
  config: Config;
  log: Logger;
}

/** Start-up migrations retry at most this far apart, so a store that comes back is used (and /ready turns 200) soon. */
const MIGRATE_RETRY_MAX_MS = 5000;

/**
 * For the server and `bun run worker`: one writer per process that supervises workers.
 * Does not wait for Postgres: if it is down at start, migrations are retried in the
 * background while workers run and records wait in Redis.
 */
export async function startAuditTrail({ config, log, ...writerOptions }: StartAuditTrailOptions): Promise<AuditTrail> {
  const auditLog = log.child({ component: 'audit' });
  const embedded = embeddedStoreDir(config);
  // Creating a PGlite database takes seconds (10 or more on a busy machine), with nothing else to show meanwhile.
  if (embedded && !existsSync(embedded)) auditLog.info({ location: embedded }, 'creating the embedded audit store; the first start takes several seconds');
  const store = await openAuditStore(config, {
    // A queue:history or queue:monitor read that opened the embedded store while no server ran closes it within seconds.
    waitForReaderMs: READER_WAIT_MS,
    onWaitForReader: (busy) =>
      auditLog.warn(
        { readerPid: busy.ownerPid || undefined, readerHost: busy.ownerHost, waitMs: READER_WAIT_MS },
        busy.ownerRole === 'reader' ? 'embedded audit store open in a CLI read; waiting for it to close' : 'embedded audit store being opened by another process; waiting to see which',
      ),
  });
  // Its own connection: the writer blocks on XREADGROUP, and waits out Redis outages.
  const redis = await connectRedis(config.redis.url, { role: 'blocking', connectionName: 'sluice-audit-writer' }).catch(async (error) => {
    await store.close();
    throw error;
  });
  const version = redisVersionOf(await redis.info('server').catch(() => ''));
  if (version && !supportsAuditCommands(version)) {
    redis.disconnect();
    await store.close();
    throw new AuditRedisTooOldError(version);
  }
  // Backlog reads for metrics and shutdown: fail fast while Redis is down, never wait behind a read.
  const statusRedis = await connectRedis(config.redis.url, { role: 'producer', connectionName: 'sluice-audit-status', commandTimeoutMs: config.redis.commandTimeoutMs }).catch(async (error) => {
    redis.disconnect();
    await store.close();
    throw error;
  });
  const writer = createAuditWriter({ store, redis, statusRedis, keys: sluiceKeys(config.redis.prefix), log: auditLog, ...writerOptions });
  let closing = false;
  let started = false;
  let migrateError = 'migrations are being applied';

  const ready = (async () => {
    for (let failures = 0; !closing; failures++) {
      try {
        const { recreatedTable } = await migrate(store);
        if (recreatedTable) auditLog.warn({ store: store.location }, 'audit table worker_jobs was gone although its migrations were recorded as applied; created it again');
        if (closing) return;
        writer.start();
        started = true;
        auditLog.info({ store: store.kind, location: store.location }, 'audit trail ready');
        return;
      } catch (error) {
        const reason = `migrations not applied: ${errorMessage(error)}`;
        // Once per distinct reason: retries every few seconds would otherwise fill the log.
        if (reason !== migrateError) {
          const hint = sqlState(error) === INSUFFICIENT_PRIVILEGE ? { hint: MIGRATE_AS_OWNER_HINT } : {};
          auditLog.warn({ err: errorMessage(error), store: store.location, ...hint }, 'audit store not ready; migrations retry while records wait in redis');
        }
        migrateError = reason;
        await Bun.sleep(Math.min(MIGRATE_RETRY_MAX_MS, 500 * 2 ** failures));
      }
    }
  })();

  return {
    store,
    writer,
    ready,
    problem() {
      if (!started) return `the audit writer is not running: ${migrateError}`;
      const { storeDown, lastError } = writer.stats();
      return storeDown ? `the audit writer cannot write: ${lastError ?? 'the store did not answer'}` : null;
    },
    async close(flushTimeoutMs = 10_000) {
      closing = true;
      const flushed = !started || (await writer.flush(flushTimeoutMs));
      if (!flushed) {
        // A close without waiting (a start that failed) has nothing to say when nothing waits.
        const backlog = await writer.backlog().catch(() => null);
        if (backlog !== 0) auditLog.warn({ backlog }, 'audit backlog left in redis for the next start');
      }
      // Whatever kept the flush from finishing (Redis or Postgres down) would hold up the stop too.
      await writer.stop(flushed ? 10_000 : 1000);
      redis.disconnect();
      statusRedis.disconnect();
      await store.close();
    },
  };
}
