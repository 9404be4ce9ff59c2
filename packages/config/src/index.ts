/** Reads and validates the environment once, at an entry point, into a frozen Config. */
import { cpus } from 'node:os';
import { bool, countOrCpus, directory, hex32, hostList, int, offOrInt, oneOf, ParseProblem, postgresUrl, redisUrl, str, url, type Parser } from './parsers.ts';
import { closest } from './suggest.ts';

export { ConfigError } from './config-error.ts';
import { ConfigError } from './config-error.ts';

export type NodeEnv = 'development' | 'production' | 'test';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  readonly env: NodeEnv;
  readonly redis: { readonly url: string; readonly prefix: string; readonly commandTimeoutMs: number };
  /** `url` unset means the embedded PGlite store under `dataDir`. */
  readonly database: {
    readonly url: string | undefined;
    readonly dataDir: string;
    /**
     * Postgres cancels an audit read (history, metrics, health) that runs longer than this;
     * 0 never does. Reads have connections of their own, so a slow one cannot hold up the writer.
     */
    readonly readTimeoutMs: number;
  };
  readonly server: {
    readonly host: string;
    readonly port: number;
    /** `bun run worker` serves /metrics on this port when set (the server uses `port`). */
    readonly metricsPort: number | undefined;
    /**
     * Host names (lower case) the server answers to besides loopback names, when it is bound
     * to loopback; `*` allows any. Empty: loopback names only (a DNS rebinding guard).
     */
    readonly allowedHosts: readonly string[];
  };
  readonly worker: {
    /** Resolved process count (`cpus` already turned into a number). */
    readonly count: number;
    readonly concurrency: number;
    readonly attempts: number;
    readonly stalledIntervalMs: number;
    readonly lockDurationMs: number;
    readonly shutdownTimeoutMs: number;
    /** A ready worker process silent (no heartbeat) this long counts as unresponsive, not ready. */
    readonly heartbeatTimeoutMs: number;
    /** An unresponsive worker process silent this long is killed and restarted; 0 never kills. */
    readonly heartbeatKillTimeoutMs: number;
    /** Client for the worker processes' job connections: Bun's native one, or ioredis. */
    readonly redisClient: 'bun' | 'ioredis';
  };
  readonly audit: {
    /** Off: workers append no execution records and no audit writer runs (for benchmarks). */
    readonly enabled: boolean;
    readonly retentionDays: number;
  };
  readonly scheduler: { readonly enabled: boolean };
  readonly log: { readonly level: LogLevel; readonly pretty: boolean };
  readonly admin: {
    readonly user: string | undefined;
    readonly password: string | undefined;
    readonly token: string | undefined;
    /** Also guard read-only API routes and /metrics. */
    readonly guardReads: boolean;
  };
  readonly chain: {
    readonly rpcUrl: string | undefined;
    readonly chainId: number;
    readonly serverWalletPrivateKey: `0x${string}` | undefined;
  };
}

type Env = Record<string, string | undefined>;

/**
 * The longest a timer can wait (2^31 - 1 ms, about 24.8 days). A longer setTimeout fires at
 * once, which would make a shutdown timeout kill jobs immediately and a lock renew in a loop.
 */
const MAX_TIMER_MS = 2_147_483_647;
/** The shortest AUDIT_READ_TIMEOUT other than 0 (none). */
export const MIN_READ_TIMEOUT_MS = 100;

/** Every variable Sluice reads, with its default (undefined = optional, no default). */
export const VARIABLES = {
  NODE_ENV: { parse: oneOf('development', 'production', 'test'), default: 'development' },
  REDIS_URL: { parse: redisUrl, default: 'redis://127.0.0.1:6379' },
  QUEUE_PREFIX: { parse: str, default: 'bull' },
  // How long a producer (API, CLI) waits for Redis to answer one command; 0: no limit.
  REDIS_COMMAND_TIMEOUT: { parse: int(0, MAX_TIMER_MS), default: '15000' },
  DATABASE_URL: { parse: postgresUrl, default: undefined },
  DATA_DIR: { parse: directory, default: '.data' },
  HOST: { parse: str, default: '127.0.0.1' },
  PORT: { parse: int(0, 65535), default: '3000' },
  ALLOWED_HOSTS: { parse: hostList, default: '' },
  METRICS_PORT: { parse: int(0, 65535), default: undefined },
  WORKER_COUNT: { parse: countOrCpus, default: 'cpus' },
  WORKER_QUEUE_CONCURRENCY: { parse: int(1, 10_000), default: '5' },
  WORKER_QUEUE_JOB_ATTEMPTS: { parse: int(1, 1000), default: '3' },
  WORKER_QUEUE_STALLED_INTERVAL: { parse: int(1000, MAX_TIMER_MS), default: '30000' },
  WORKER_QUEUE_LOCK_DURATION: { parse: int(1000, MAX_TIMER_MS), default: '30000' },
  WORKER_SHUTDOWN_TIMEOUT: { parse: int(0, MAX_TIMER_MS), default: '30000' },
  // Workers send a heartbeat every second: under 2 s, one late heartbeat would flap readiness.
  WORKER_HEARTBEAT_TIMEOUT: { parse: int(2000, MAX_TIMER_MS), default: '10000' },
  // Unset: twice the lock duration or twice the heartbeat timeout, at least 60 s (see below).
  WORKER_HEARTBEAT_KILL_TIMEOUT: { parse: int(0, MAX_TIMER_MS), default: undefined },
  WORKER_REDIS_CLIENT: { parse: oneOf('bun', 'ioredis'), default: 'bun' },
  AUDIT_LOG_RETENTION_DAYS: { parse: int(0, 36_500), default: '30' },
  AUDIT_ENABLED: { parse: bool, default: 'true' },
  // Postgres keeps statement_timeout in a signed 32-bit count of ms.
  // Not under 100 ms: the read connections' own start-up query runs under it too, and postgres.js
  // leaves that query's cancellation unhandled (a stack trace, and the process's exit code 1).
  AUDIT_READ_TIMEOUT: { parse: offOrInt(MIN_READ_TIMEOUT_MS, MAX_TIMER_MS), default: '10000' },
  ENABLE_SCHEDULED_JOBS: { parse: bool, default: 'true' },
  LOG_LEVEL: { parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'), default: 'info' },
  LOG_PRETTY: { parse: bool, default: undefined },
  ADMIN_USER: { parse: str, default: undefined },
  ADMIN_PASSWORD: { parse: str, default: undefined },
  ADMIN_TOKEN: { parse: str, default: undefined },
  ADMIN_GUARD_READS: { parse: bool, default: 'false' },
  CHAIN_RPC_URL: { parse: url('http:', 'https:', 'ws:', 'wss:'), default: undefined },
  CHAIN_ID: { parse: int(1), default: '31337' },
  WEB3_SERVER_WALLET_PRIVATE_KEY: { parse: hex32, default: undefined },
} as const satisfies Record<string, { parse: Parser<unknown>; default: string | undefined }>;

type VariableName = keyof typeof VARIABLES;
type Parsed<N extends VariableName> = ReturnType<(typeof VARIABLES)[N]['parse']>;
type Value<N extends VariableName> = (typeof VARIABLES)[N]['default'] extends string ? Parsed<N> : Parsed<N> | undefined;

/** Prefixes we own: an unknown variable under one of them is almost certainly a typo. */
const OWNED_PREFIXES = ['WORKER_', 'AUDIT_', 'ADMIN_', 'CHAIN_', 'QUEUE_', 'REDIS_', 'LOG_', 'METRICS_'];

/**
 * Parses `env` into a frozen Config. Throws one ConfigError listing every problem,
 * so a bad deployment is fixed in one round trip instead of one per variable.
 */
export function loadConfig(env: Env): Config {
  const problems: string[] = [];

  const read = <N extends VariableName>(name: N): Value<N> => {
    const spec = VARIABLES[name];
    const given = env[name];
    const raw = given === undefined || given.trim() === '' ? spec.default : given.trim();
    if (raw === undefined) return undefined as Value<N>;
    try {
      return spec.parse(raw) as Value<N>;
    } catch (error) {
      if (!(error instanceof ParseProblem)) throw error;
      problems.push(`${name} ${error.message}`);
      return undefined as Value<N>;
    }
  };

  for (const name of Object.keys(env)) {
    if (name in VARIABLES || !OWNED_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    const guess = closest(name, Object.keys(VARIABLES));
    if (guess) problems.push(`${name} is not a Sluice variable; did you mean ${guess}?`);
  }

  const nodeEnv = read('NODE_ENV') ?? 'development';
  const workerCount = read('WORKER_COUNT');
  const admin = {
    user: read('ADMIN_USER'),
    password: read('ADMIN_PASSWORD'),
    token: read('ADMIN_TOKEN'),
    guardReads: read('ADMIN_GUARD_READS'),
  };
  if ((admin.user === undefined) !== (admin.password === undefined)) {
    problems.push('ADMIN_USER and ADMIN_PASSWORD must be set together');
  }
  // HTTP Basic splits "user:password" at the first colon: such a user could never log in.
  if (admin.user?.includes(':')) problems.push('ADMIN_USER must not contain ":" (HTTP Basic auth ends the user name at the first colon)');
  const stalledIntervalMs = read('WORKER_QUEUE_STALLED_INTERVAL');
  const lockDurationMs = read('WORKER_QUEUE_LOCK_DURATION');
  const heartbeatTimeoutMs = read('WORKER_HEARTBEAT_TIMEOUT');
  const killTimeoutSet = read('WORKER_HEARTBEAT_KILL_TIMEOUT');
  // A worker silent past its lock duration has lost its jobs' locks anyway (the lock is
  // renewed on the same event loop); killed before that, a handler that blocks the loop for
  // less than the lock (which a raised WORKER_QUEUE_LOCK_DURATION allows) could never finish.
  // Unset, it also stays past a raised WORKER_HEARTBEAT_TIMEOUT, which it must exceed (past
  // what a timer can hold, never: a heartbeat timeout of weeks is as good as none).
  const killByDefault = Math.max(60_000, 2 * (lockDurationMs ?? 30_000), 2 * (heartbeatTimeoutMs ?? 0));
  const heartbeatKillTimeoutMs = killTimeoutSet ?? (killByDefault > MAX_TIMER_MS ? 0 : killByDefault);
  // A kill before the worker even counts as unresponsive would skip the warning and the chance to recover.
  if (heartbeatKillTimeoutMs !== 0 && heartbeatTimeoutMs !== undefined && heartbeatKillTimeoutMs <= heartbeatTimeoutMs) {
    problems.push(`WORKER_HEARTBEAT_KILL_TIMEOUT must be 0 (never kill) or more than WORKER_HEARTBEAT_TIMEOUT (${heartbeatTimeoutMs}), got ${heartbeatKillTimeoutMs}`);
  } else if (killTimeoutSet !== undefined && killTimeoutSet !== 0 && lockDurationMs !== undefined && killTimeoutSet <= lockDurationMs) {
    problems.push(
      `WORKER_HEARTBEAT_KILL_TIMEOUT must be 0 (never kill) or more than WORKER_QUEUE_LOCK_DURATION (${lockDurationMs}): a handler may block its worker that long and still keep its job, got ${killTimeoutSet}`,
    );
  }

  const config: Config = {
    env: nodeEnv,
    redis: { url: read('REDIS_URL'), prefix: read('QUEUE_PREFIX'), commandTimeoutMs: read('REDIS_COMMAND_TIMEOUT') },
    database: { url: read('DATABASE_URL'), dataDir: read('DATA_DIR'), readTimeoutMs: read('AUDIT_READ_TIMEOUT') },
    server: { host: read('HOST'), port: read('PORT'), metricsPort: read('METRICS_PORT'), allowedHosts: read('ALLOWED_HOSTS') },
    worker: {
      count: workerCount === 'cpus' ? cpus().length : workerCount,
      concurrency: read('WORKER_QUEUE_CONCURRENCY'),
      attempts: read('WORKER_QUEUE_JOB_ATTEMPTS'),
      stalledIntervalMs,
      lockDurationMs,
      shutdownTimeoutMs: read('WORKER_SHUTDOWN_TIMEOUT'),
      heartbeatTimeoutMs,
      heartbeatKillTimeoutMs,
      redisClient: read('WORKER_REDIS_CLIENT'),
    },
    audit: { enabled: read('AUDIT_ENABLED'), retentionDays: read('AUDIT_LOG_RETENTION_DAYS') },
    scheduler: { enabled: read('ENABLE_SCHEDULED_JOBS') },
    log: { level: read('LOG_LEVEL'), pretty: read('LOG_PRETTY') ?? nodeEnv === 'development' },
    admin,
    chain: {
      rpcUrl: read('CHAIN_RPC_URL'),
      chainId: read('CHAIN_ID'),
      serverWalletPrivateKey: read('WEB3_SERVER_WALLET_PRIVATE_KEY'),
    },
  };

  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child && typeof child === 'object') deepFreeze(child);
  }
  return Object.freeze(value);
}

/** For entry points: load the config or print every problem and exit 1. */
export function loadConfigOrExit(env: Env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
