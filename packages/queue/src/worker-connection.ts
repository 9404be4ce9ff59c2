/**
 * The job connection of a worker process: the one BullMQ's Worker sends its job commands
 * on, and the audit appender shares so its records travel ahead of the job's completion.
 * Bun's native Redis client by default (less CPU per job than ioredis); ioredis on request.
 */
import { createBunRedisClient, type ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';

export const WORKER_REDIS_CLIENTS = ['bun', 'ioredis'] as const;
export type WorkerRedisClient = (typeof WORKER_REDIS_CLIENTS)[number];

/** Sends one command. Calls go on the wire in call order, ahead of any command issued later. */
export type RedisSend = (command: string, args: string[]) => Promise<unknown>;

export interface WorkerConnection {
  readonly kind: WorkerRedisClient;
  /** For BullMQ's Worker, which also duplicates it for its blocking reads. */
  readonly client: ConnectionOptions;
  /** A command on `client`'s own socket, ordered with BullMQ's commands on it. */
  readonly send: RedisSend;
  /** True while the socket to Redis is open (false while Redis is down and the client reconnects). */
  connected(): boolean;
  close(): void;
}

export interface WorkerConnectionOptions {
  kind: WorkerRedisClient;
  connectionName: string;
  /** Connection errors (refused, reset); the connection keeps reconnecting after each. */
  onError: (error: Error) => void;
}

/** `send` for an ioredis connection, which writes commands in call order too. */
export const ioredisSend =
  (redis: Redis): RedisSend =>
  (command, args) =>
    redis.call(command, ...args);

/** The adapter's in-order send: it writes on the current socket before returning a promise. */
interface SendsCommands {
  sendCommand(command: string, args: string[]): Promise<unknown>;
}

/**
 * Opens the connection without waiting for Redis: like the worker itself, it keeps
 * reconnecting through outages, and BullMQ's `waitUntilReady` waits for the first one.
 */
export function openWorkerConnection(url: string, { kind, connectionName, onError }: WorkerConnectionOptions): WorkerConnection {
  if (kind === 'ioredis') {
    // BullMQ needs maxRetriesPerRequest=null on connections that issue blocking commands.
    const redis = new Redis(url, { maxRetriesPerRequest: null, connectionName });
    redis.on('error', onError);
    return { kind, client: redis, send: ioredisSend(redis), connected: () => redis.status === 'ready', close: () => redis.disconnect() };
  }
  const raw = new Bun.RedisClient(url);
  const adapter = createBunRedisClient(raw, { lazyConnect: true });
  adapter.on('error', onError);
  const sender = adapter as unknown as Partial<SendsCommands>;
  if (typeof sender.sendCommand !== 'function') {
    throw new Error('this BullMQ version has no Bun client sendCommand; set WORKER_REDIS_CLIENT=ioredis');
  }
  // Named again after every reconnect, so CLIENT LIST always shows which worker it is.
  adapter.on('ready', () => void adapter.clientSetName(connectionName).catch(() => {}));
  // A failed first connect is reported as an 'error' event; the adapter keeps reconnecting.
  void adapter.connect().catch(() => {});
  return {
    kind,
    client: adapter,
    send: (command, args) => sender.sendCommand!.call(adapter, command, args),
    // The adapter's own status stays 'ready' after the socket closed; Bun's client knows.
    connected: () => raw.connected,
    close: () => adapter.disconnect(),
  };
}
