/** Small, composable parsers for environment values. Each returns a value or throws a message. */
import { homedir } from 'node:os';
import { join } from 'node:path';

export type Parser<T> = (raw: string) => T;

export class ParseProblem extends Error {
  override name = 'ParseProblem';
}

const fail = (message: string): never => {
  throw new ParseProblem(message);
};

export const str: Parser<string> = (raw) => raw;

/**
 * A directory. A shell expands `~` in `DATA_DIR=~/data bun run dev`, but an env file does
 * not, and the path would become a directory named `~` here: `~` and `~/…` are the home
 * directory, and `~name/…` (another user's home) is refused.
 */
export const directory: Parser<string> = (raw) => {
  if (raw === '~') return homedir();
  if (raw.startsWith('~/')) return join(homedir(), raw.slice(2));
  if (raw.startsWith('~')) fail(`starts with "${raw.split('/', 1)[0]}", which is not expanded: write the whole path, got "${raw}"`);
  return raw;
};

export const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): Parser<number> =>
  (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) fail(`must be a whole number, got "${raw}"`);
    const value = Number(raw);
    if (value < min || value > max) fail(`must be between ${min} and ${max}, got ${value}`);
    return value;
  };

/** 0 (none), or a whole number from `min` to `max`. */
export const offOrInt =
  (min: number, max = Number.MAX_SAFE_INTEGER): Parser<number> =>
  (raw) => {
    const value = int(0, max)(raw);
    if (value !== 0 && value < min) fail(`must be 0 (no limit) or between ${min} and ${max}, got ${value}`);
    return value;
  };

export const bool: Parser<boolean> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return fail(`must be true or false, got "${raw}"`);
};

export const oneOf =
  <const T extends string>(...choices: T[]): Parser<T> =>
  (raw) =>
    (choices as string[]).includes(raw) ? (raw as T) : fail(`must be one of ${choices.join(', ')}, got "${raw}"`);

const ENCODE_HINT = ' (if the password holds # / ? @ or %, percent-encode them: %23 %2F %3F %40 %25)';

/**
 * A URL as an error message may show it: what lies between the first `:` after the scheme and
 * the last `@` (a password) is `***`. Works on text no URL parser accepts, which is when it is
 * shown: `redis://:pa#ss@host`, a user with an `@` (`me@corp:pw@host`), no scheme at all.
 */
export function maskUrlPassword(raw: string): string {
  const at = raw.lastIndexOf('@');
  const afterScheme = /^[a-z][a-z0-9+.-]*:\/{0,2}/i.exec(raw)?.[0].length ?? 0;
  const colon = raw.indexOf(':', afterScheme);
  return at > 0 && colon >= 0 && colon < at ? `${raw.slice(0, colon + 1)}***${raw.slice(at)}` : raw;
}

export const url =
  (...protocols: string[]): Parser<string> =>
  (raw) => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      const masked = maskUrlPassword(raw);
      return fail(`must be a URL like ${protocols[0]}//host:port, got "${masked}"${masked !== raw ? ENCODE_HINT : ''}`);
    }
    if (!protocols.includes(parsed.protocol)) {
      fail(`must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
    }
    // `redis://` alone would quietly mean localhost, `postgres:foo` a role named after nobody.
    if (parsed.hostname === '') fail(`must name a host, like ${protocols[0]}//host:port, got "${maskUrlPassword(raw)}"`);
    // An `@` after the host is a password's: one with a `/` ends the authority early (`redis://u:ab/cd@host`).
    if (`${parsed.pathname}${parsed.search}${parsed.hash}`.includes('@')) {
      fail(`holds an "@" after its host, so its password is probably not percent-encoded: got "${maskUrlPassword(raw)}"${ENCODE_HINT}`);
    }
    for (const part of [parsed.username, parsed.password]) {
      try {
        decodeURIComponent(part);
      } catch {
        fail(`has a "%" in its user or password that is not percent-encoding: got "${maskUrlPassword(raw)}"${ENCODE_HINT}`);
      }
    }
    return raw;
  };

/**
 * A Postgres URL. `postgres:///db` (no host) is allowed: postgres.js then takes the host from
 * PGHOST, which may be a Unix socket directory such as /var/run/postgresql.
 */
export const postgresUrl: Parser<string> = (raw) => {
  if (/^postgres(ql)?:\/\/\//.test(raw)) return raw;
  return url('postgres:', 'postgresql:')(raw);
};

/** A Redis URL whose path, if any, is a database number: `redis://host:6379/2`. */
export const redisUrl: Parser<string> = (raw) => {
  const checked = url('redis:', 'rediss:')(raw);
  const path = new URL(checked).pathname;
  if (path !== '' && path !== '/' && !/^\/\d+$/.test(path)) fail(`path must be a database number like /0, got "${path}"`);
  return checked;
};

/** `cpus` or a positive count. */
export const countOrCpus: Parser<number | 'cpus'> = (raw) =>
  raw.trim() === 'cpus' ? 'cpus' : int(1, 256)(raw);

/** `a.example.com, b.example.com` (or `*`): host names without scheme or port, lower-cased. */
export const hostList: Parser<string[]> = (raw) => {
  const hosts = raw.split(',').map((host) => host.trim().toLowerCase()).filter(Boolean);
  for (const host of hosts) {
    if (host !== '*' && !/^[a-z0-9._-]+$|^\[[0-9a-f:]+\]$/.test(host)) fail(`must be host names separated by commas (no scheme or port), like app.example.com, got "${host}"`);
  }
  return hosts;
};

export const hex32: Parser<`0x${string}`> = (raw) =>
  /^0x[0-9a-fA-F]{64}$/.test(raw) ? (raw as `0x${string}`) : fail('must be 0x followed by 64 hex digits');
