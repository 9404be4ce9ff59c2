/** Redis connection factory: the only place that decides ioredis options. */
import { Redis, type RedisOptions } from 'ioredis';
import { RedisUnavailableError } from './errors.ts';

export type ConnectionRole =
  /** Workers and other blocking readers: retry forever, never drop a command. */
  | 'blocking'
  /** Producers (API, CLI): fail fast with a clear error when Redis is down. */
  | 'producer';

export interface ConnectOptions {
  role: ConnectionRole;
  /** Overrides the database index in the URL. */
  db?: number;
  /** How long the first connection may take. Default 3000 ms. */
  connectTimeoutMs?: number;
  connectionName?: string;
  /**
   * Producers only: how long one command may wait for Redis's answer before it fails with
   * ioredis's `Command timed out` (isRedisCommandTimeout; default: no limit). A Redis that stops answering without closing the
   * connection (a paused VM, a network stall) would otherwise hold every request forever.
   */
  commandTimeoutMs?: number;
}

function optionsFor({ role, db, connectTimeoutMs = 3000, connectionName, commandTimeoutMs }: ConnectOptions): RedisOptions {
  const common: RedisOptions = { lazyConnect: true, connectTimeout: connectTimeoutMs, connectionName, ...(db === undefined ? {} : { db }) };
  if (role === 'blocking') {
    // BullMQ needs maxRetriesPerRequest=null on connections that issue blocking commands.
    return { ...common, maxRetriesPerRequest: null, enableReadyCheck: true };
  }
  return {
    ...common,
    // Commands issued while disconnected fail at once instead of queueing forever.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    ...(commandTimeoutMs ? { commandTimeout: commandTimeoutMs } : {}),
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
}

/** The last connection error of each connection connectRedis opened, while it is not ready. */
const lastErrors = new WeakMap<Redis, string>();

/** Opens a connection and waits until it is usable, or throws RedisUnavailableError. */
export async function connectRedis(url: string, options: ConnectOptions): Promise<Redis> {
  const redis = new Redis(url, optionsFor(options));
  let lastError: unknown;
  // ioredis also reports the commands it refused while offline; those say nothing about why.
  const onError = (error: Error) => {
    if (!error.message.includes('enableOfflineQueue')) lastError = error;
  };
  redis.on('error', onError);
  const timeoutMs = options.connectTimeoutMs ?? 3000;
  try {
    await Promise.race([
      redis.connect(),
      new Promise((_, reject) => setTimeout(() => reject(lastError ?? new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)),
    ]);
  } catch (error) {
    redis.disconnect();
    throw new RedisUnavailableError(url, lastError ?? error);
  }
  try {
    await selectUrlDatabase(redis, url);
    // BullMQ reads INFO on every connection it opens, and does all its work in Lua scripts. A
    // user an ACL refuses either would start, and then its workers would fail in a loop: refuse at once.
    const refused = (error: Error) => {
      throw error.message.startsWith('NOPERM') ? new RedisUnavailableError(url, error) : error;
    };
    await redis.info('server').catch(refused);
    await redis.eval('return 1', 0).catch(refused);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  // Keep a listener so a later outage is not an unhandled 'error' event (callers that care
  // subscribe themselves); what it last said explains a failed health check.
  redis.off('error', onError);
  redis.on('error', (error: Error) => {
    if (!error.message.includes('enableOfflineQueue')) lastErrors.set(redis, error.message);
  });
  redis.on('ready', () => lastErrors.delete(redis));
  return redis;
}

/**
 * ioredis selects the URL's database on connect but only reports a refusal (an index past the
 * server's `databases`) as an event, and carries on in database 0. Selecting it explicitly
 * turns that into RedisUnavailableError, before anything is written into the wrong database.
 */
export async function selectUrlDatabase(redis: Redis, url: string): Promise<void> {
  const db = redis.options.db ?? 0;
  if (db === 0) return;
  try {
    await redis.select(db);
  } catch (error) {
    throw new RedisUnavailableError(url, error, db);
  }
}

export interface RedisHealth {
  status: 'up' | 'down';
  latencyMs: number | null;
  error?: string;
}

export async function checkRedis(redis: Redis, timeoutMs = 1000): Promise<RedisHealth> {
  const started = performance.now();
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no PONG within ${timeoutMs} ms`)), timeoutMs)),
    ]);
    return { status: 'up', latencyMs: Math.round((performance.now() - started) * 100) / 100 };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // ioredis refuses commands while disconnected with words about its own options; say where
    // it is trying to connect, and why it cannot. Just after the socket closed, the status can
    // still say ready while the command is already refused as disconnected.
    const refusedOffline = /Stream isn't writeable|Connection is closed/.test(message);
    if (redis.status !== 'ready' || refusedOffline) {
      const reason = lastErrors.get(redis) ?? (redis.status === 'ready' ? 'the connection closed' : `connection ${redis.status}`);
      return { status: 'down', latencyMs: null, error: `not connected to Redis at ${redis.options.host}:${redis.options.port}: ${reason}` };
    }
    return { status: 'down', latencyMs: null, error: message };
  }
}
