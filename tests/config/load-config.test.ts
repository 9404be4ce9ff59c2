/** loadConfig: every problem in one ConfigError, typo suggestions, and a frozen result. */
import { describe, expect, test } from 'bun:test';
import { ConfigError, loadConfig } from '@sluice/config';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** What a URL message adds when a password may need percent-encoding. */
const hint = '(if the password holds # / ? @ or %, percent-encode them: %23 %2F %3F %40 %25)';

/** The problems loadConfig reports for `env`; none when it loads. */
function problems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    return (error as ConfigError).problems;
  }
}

describe('loadConfig', () => {
  test('several bad values are reported together in one ConfigError', () => {
    const error = (() => {
      try {
        loadConfig({ WORKER_COUNT: 'abc', REDIS_URL: 'foo', WORKER_QUEUE_CONCURRENCY: '0' });
      } catch (e) {
        return e;
      }
    })();

    expect(error).toBeInstanceOf(ConfigError);
    const { problems, message } = error as ConfigError;
    expect(problems).toHaveLength(3);
    expect(problems).toContain('WORKER_COUNT must be a whole number, got "abc"');
    expect(problems).toContain('REDIS_URL must be a URL like redis://host:port, got "foo"');
    expect(problems).toContain('WORKER_QUEUE_CONCURRENCY must be between 1 and 10000, got 0');
    expect(message).toStartWith('Invalid configuration (3 problems):');
    for (const problem of problems) expect(message).toContain(`  - ${problem}`);
  });

  test('a misspelt variable gets a "did you mean"', () => {
    expect(() => loadConfig({ WORKER_QUEUE_CONCURENCY: '4' })).toThrow(
      'WORKER_QUEUE_CONCURENCY is not a Sluice variable; did you mean WORKER_QUEUE_CONCURRENCY?',
    );
  });

  test('a URL with the wrong scheme names the schemes it accepts', () => {
    expect(() => loadConfig({ REDIS_URL: 'http://127.0.0.1:6379' })).toThrow('REDIS_URL must use redis: or rediss:, got "http:"');
  });

  test('URLs must name a host, and a Redis URL path must be a database number', () => {
    expect(problems({ REDIS_URL: 'redis://' })).toEqual(['REDIS_URL must name a host, like redis://host:port, got "redis://"']);
    expect(problems({ DATABASE_URL: 'postgres:foo' })).toEqual(['DATABASE_URL must name a host, like postgres://host:port, got "postgres:foo"']);
    expect(problems({ REDIS_URL: 'redis://127.0.0.1:6379/abc' })).toEqual(['REDIS_URL path must be a database number like /0, got "/abc"']);
    expect(problems({ REDIS_URL: 'redis://127.0.0.1:6379/2', DATABASE_URL: 'postgres://app:pw@db.internal:5432/app' })).toEqual([]);
    // No host on purpose: postgres.js takes it from PGHOST (a Unix socket directory, say).
    expect(problems({ DATABASE_URL: 'postgres:///app' })).toEqual([]);
  });

  test('a URL that cannot be read is shown with its password masked, and a hint to percent-encode it', () => {
    expect(problems({ REDIS_URL: 'redis://:Xy7#kP2/q@127.0.0.1:6379', DATABASE_URL: 'postgres://app:Xy7#kP2q@db.internal:5432/app' })).toEqual([
      `REDIS_URL must be a URL like redis://host:port, got "redis://:***@127.0.0.1:6379" ${hint}`,
      `DATABASE_URL must be a URL like postgres://host:port, got "postgres://app:***@db.internal:5432/app" ${hint}`,
    ]);
    expect(problems({ REDIS_URL: 'redis://:TopSecret@127.0.0.1:99999' })).toEqual([`REDIS_URL must be a URL like redis://host:port, got "redis://:***@127.0.0.1:99999" ${hint}`]);
    expect(problems({ CHAIN_RPC_URL: 'http://u:TopSecret@' })).toEqual([`CHAIN_RPC_URL must be a URL like http://host:port, got "http://u:***@" ${hint}`]);
    expect(problems({ REDIS_URL: 'redis//127.0.0.1' })).toEqual(['REDIS_URL must be a URL like redis://host:port, got "redis//127.0.0.1"']);
    // A user name with an @ (user@server, as some hosted Postgres wants), one slash, no scheme.
    expect(problems({ DATABASE_URL: 'postgres://me@corp.com:pw#1x@127.0.0.1:5432/app' })).toEqual([`DATABASE_URL must be a URL like postgres://host:port, got "postgres://me@corp.com:***@127.0.0.1:5432/app" ${hint}`]);
    expect(problems({ REDIS_URL: 'redis:/:secret1@127.0.0.1:6379' })).toEqual(['REDIS_URL must name a host, like redis://host:port, got "redis:/:***@127.0.0.1:6379"']);
    expect(problems({ REDIS_URL: ':secret4@127.0.0.1' })).toEqual([`REDIS_URL must be a URL like redis://host:port, got ":***@127.0.0.1" ${hint}`]);
  });

  test('a URL whose password is not percent-encoded, though it parses, is refused without showing it', () => {
    // A / in the password ends the host early: the rest of the password lands in the path.
    expect(problems({ REDIS_URL: 'redis://default:8823/xYz+1Qk@127.0.0.1:6379' })).toEqual([
      `REDIS_URL holds an "@" after its host, so its password is probably not percent-encoded: got "redis://default:***@127.0.0.1:6379" ${hint}`,
    ]);
    expect(problems({ DATABASE_URL: 'postgres://app:8823/xYz+1Qk@db:5432/app' })).toEqual([
      `DATABASE_URL holds an "@" after its host, so its password is probably not percent-encoded: got "postgres://app:***@db:5432/app" ${hint}`,
    ]);
    expect(problems({ REDIS_URL: 'redis://:p%zz@127.0.0.1:6379' })).toEqual([`REDIS_URL has a "%" in its user or password that is not percent-encoding: got "redis://:***@127.0.0.1:6379" ${hint}`]);
    expect(problems({ REDIS_URL: 'redis://:p%40ss@127.0.0.1:6379', DATABASE_URL: 'postgres://me%40corp:p%2Fw@db:5432/app' })).toEqual([]);
  });

  test('an ADMIN_USER with a colon, which HTTP Basic auth could never match, is refused', () => {
    expect(() => loadConfig({ ADMIN_USER: 'ops:team', ADMIN_PASSWORD: 'pw' })).toThrow('ADMIN_USER must not contain ":"');
  });

  test('ALLOWED_HOSTS is a list of host names, lower-cased; a scheme or port is refused', () => {
    expect(loadConfig({ ALLOWED_HOSTS: ' Jobs.Example.com, other.example.com ' }).server.allowedHosts).toEqual(['jobs.example.com', 'other.example.com']);
    expect(loadConfig({}).server.allowedHosts).toEqual([]);
    expect(() => loadConfig({ ALLOWED_HOSTS: 'https://jobs.example.com' })).toThrow('ALLOWED_HOSTS must be host names separated by commas');
    expect(() => loadConfig({ ALLOWED_HOSTS: 'jobs.example.com:443' })).toThrow('ALLOWED_HOSTS must be host names separated by commas');
  });

  test('timeouts a timer cannot hold (over 2^31 - 1 ms) are refused instead of firing at once', () => {
    for (const name of ['WORKER_SHUTDOWN_TIMEOUT', 'WORKER_QUEUE_LOCK_DURATION', 'WORKER_QUEUE_STALLED_INTERVAL']) {
      expect(() => loadConfig({ [name]: '3000000000' })).toThrow(`${name} must be between`);
      expect(() => loadConfig({ [name]: '2147483647' })).not.toThrow();
    }
  });

  test('heartbeat timeouts: defaults 10 s and 60 s; the kill comes after the unresponsive mark, or never (0)', () => {
    expect(loadConfig({}).worker).toMatchObject({ heartbeatTimeoutMs: 10_000, heartbeatKillTimeoutMs: 60_000 });
    expect(loadConfig({ WORKER_HEARTBEAT_KILL_TIMEOUT: '0' }).worker.heartbeatKillTimeoutMs).toBe(0);
    expect(() => loadConfig({ WORKER_HEARTBEAT_TIMEOUT: '1000' })).toThrow('WORKER_HEARTBEAT_TIMEOUT must be between 2000 and 2147483647, got 1000');
    expect(() => loadConfig({ WORKER_HEARTBEAT_TIMEOUT: '20000', WORKER_HEARTBEAT_KILL_TIMEOUT: '15000' })).toThrow(
      'WORKER_HEARTBEAT_KILL_TIMEOUT must be 0 (never kill) or more than WORKER_HEARTBEAT_TIMEOUT (20000), got 15000',
    );
    expect(() => loadConfig({ WORKER_HEARTBEAT_TIMEOUT: '3000000000' })).toThrow('WORKER_HEARTBEAT_TIMEOUT must be between');
    // Raised alone, the heartbeat timeout takes the default kill with it (before: refused, naming a kill timeout never set).
    expect(loadConfig({ WORKER_HEARTBEAT_TIMEOUT: '100000' }).worker.heartbeatKillTimeoutMs).toBe(200_000);
    expect(loadConfig({ WORKER_HEARTBEAT_TIMEOUT: '2147483647' }).worker.heartbeatKillTimeoutMs).toBe(0);
  });

  test('the kill timeout follows a raised lock duration, and may not undercut it', () => {
    // A handler may block its worker for less than the lock and keep its job: the default kill waits twice that.
    expect(loadConfig({ WORKER_QUEUE_LOCK_DURATION: '300000' }).worker.heartbeatKillTimeoutMs).toBe(600_000);
    expect(loadConfig({ WORKER_QUEUE_LOCK_DURATION: '5000' }).worker.heartbeatKillTimeoutMs).toBe(60_000);
    expect(() => loadConfig({ WORKER_QUEUE_LOCK_DURATION: '300000', WORKER_HEARTBEAT_KILL_TIMEOUT: '120000' })).toThrow(
      'WORKER_HEARTBEAT_KILL_TIMEOUT must be 0 (never kill) or more than WORKER_QUEUE_LOCK_DURATION (300000)',
    );
    expect(loadConfig({ WORKER_QUEUE_LOCK_DURATION: '300000', WORKER_HEARTBEAT_KILL_TIMEOUT: '0' }).worker.heartbeatKillTimeoutMs).toBe(0);
  });

  test('AUDIT_READ_TIMEOUT is 0 (no limit) or whole ms from 100 to 2^31 - 1, default 10 s', () => {
    expect(loadConfig({}).database.readTimeoutMs).toBe(10_000);
    expect(loadConfig({ AUDIT_READ_TIMEOUT: '0' }).database.readTimeoutMs).toBe(0);
    expect(() => loadConfig({ AUDIT_READ_TIMEOUT: '5s' })).toThrow('AUDIT_READ_TIMEOUT must be a whole number, got "5s"');
    expect(() => loadConfig({ AUDIT_READ_TIMEOUT: '3000000000' })).toThrow('AUDIT_READ_TIMEOUT must be between 0 and 2147483647');
    // Under 100 ms the read connections' own start-up query is cancelled too, and postgres.js
    // leaves that unhandled: a stack trace, and exit code 1 after a caught error.
    expect(() => loadConfig({ AUDIT_READ_TIMEOUT: '1' })).toThrow('AUDIT_READ_TIMEOUT must be 0 (no limit) or between 100 and 2147483647, got 1');
    expect(loadConfig({ AUDIT_READ_TIMEOUT: '100' }).database.readTimeoutMs).toBe(100);
    expect(() => loadConfig({ AUDIT_READ_TIMOUT: '100' })).toThrow('did you mean AUDIT_READ_TIMEOUT?');
  });

  test('the worker Redis client is bun or ioredis, nothing else', () => {
    expect(loadConfig({ WORKER_REDIS_CLIENT: 'ioredis' }).worker.redisClient).toBe('ioredis');
    expect(() => loadConfig({ WORKER_REDIS_CLIENT: 'redis' })).toThrow('WORKER_REDIS_CLIENT must be one of');
  });

  test('DATA_DIR: ~ is the home directory, as a shell would read it, and ~name is refused', () => {
    expect(loadConfig({}).database.dataDir).toBe('.data');
    expect(loadConfig({ DATA_DIR: '~/sluice-data' }).database.dataDir).toBe(join(homedir(), 'sluice-data'));
    expect(loadConfig({ DATA_DIR: '~' }).database.dataDir).toBe(homedir());
    expect(loadConfig({ DATA_DIR: '/srv/sluice/~data' }).database.dataDir).toBe('/srv/sluice/~data');
    expect(() => loadConfig({ DATA_DIR: '~bob/data' })).toThrow('DATA_DIR starts with "~bob", which is not expanded: write the whole path, got "~bob/data"');
  });

  test('valid values are parsed, defaults filled in, and the result is frozen', () => {
    const config = loadConfig({ WORKER_COUNT: '2', WORKER_QUEUE_CONCURRENCY: '3', REDIS_URL: 'redis://127.0.0.1:6390/2' });
    expect(config.worker).toMatchObject({ count: 2, concurrency: 3, attempts: 3, stalledIntervalMs: 30_000, redisClient: 'bun' });
    expect(config.redis.url).toBe('redis://127.0.0.1:6390/2');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.worker)).toBe(true);
  });
});
