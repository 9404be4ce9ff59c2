/**
 * A strict long-flag parser. Written instead of node:util parseArgs because that one
 * takes a repeated flag silently, knows no long aliases, and reports over several lines.
 */
import { UsageError } from './errors.ts';

export interface FlagSpec {
  type: 'string' | 'boolean';
  /** Other spellings accepted for this flag, without dashes (`repeat` for `every`). */
  aliases?: readonly string[];
}

export type FlagValues<S extends Record<string, FlagSpec>> = {
  [K in keyof S]?: S[K]['type'] extends 'boolean' ? true : string;
};

export interface Parsed<S extends Record<string, FlagSpec>> {
  flags: FlagValues<S>;
  positionals: string[];
}

/**
 * `--name value`, `--name=value` and boolean `--name`. Everything after `--` is positional.
 * Throws UsageError naming the flag for an unknown flag, a missing value, a value given
 * to a boolean, and a flag given twice (under any of its spellings).
 */
export function parseFlags<S extends Record<string, FlagSpec>>(args: readonly string[], spec: S): Parsed<S> {
  const byName = new Map<string, string>();
  for (const [name, flag] of Object.entries(spec)) {
    byName.set(name, name);
    for (const alias of flag.aliases ?? []) byName.set(alias, name);
  }
  const flags: Record<string, string | true> = {};
  const seenAs: Record<string, string> = {};
  const positionals: string[] = [];

  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const written = eq === -1 ? arg : arg.slice(0, eq);
    const name = byName.get(written.replace(/^--?/, ''));
    if (!name || !written.startsWith('--')) throw new UsageError(`unknown flag ${written}`, written);
    if (seenAs[name]) {
      const how = seenAs[name] === written ? `${written} given twice` : `${seenAs[name]} and ${written} are the same flag; give it once`;
      throw new UsageError(how, written);
    }
    seenAs[name] = written;
    if (spec[name]!.type === 'boolean') {
      if (eq !== -1) throw new UsageError(`${written} takes no value`, written);
      flags[name] = true;
      continue;
    }
    const value = eq !== -1 ? arg.slice(eq + 1) : args[i + 1];
    if (value === undefined || (eq === -1 && value.startsWith('--'))) throw new UsageError(`${written} needs a value`, written);
    if (eq === -1) i++;
    flags[name] = value;
  }
  return { flags: flags as FlagValues<S>, positionals };
}

/** A whole number from a flag value, or a UsageError naming the flag. */
export function wholeNumber(flag: string, raw: string, { min = 0, max, unit = '' }: { min?: number; max?: number; unit?: string } = {}): number {
  const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
    const range = max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`--${flag} must be a whole number${unit ? ` of ${unit}` : ''} ${range}, got "${raw}"`, `--${flag}`);
  }
  return n;
}

/** Refuses extra positional arguments, naming the first one. */
export function noMorePositionals(positionals: readonly string[], expected: number): void {
  const extra = positionals[expected];
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`, extra);
}

const AGO_UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: what a Postgres timestamp holds, and the API takes. */
const EARLIEST_MS = -62_135_596_800_000;
const LATEST_MS = 253_402_300_799_999;
/** `2026-12-01`, `2026-12-01 03:00[:00[.123]]`, `2026-12-01T03:00:00Z`, `...+01:00`. */
const TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * An instant from a flag value: `30m`/`2h`/`7d` ago, a date-time with its zone
 * (`2026-12-01T03:00:00Z`, as the API takes), or one without (`2026-12-01 03:00:00`,
 * `2026-12-01`), read as local time because that is how the CLI's tables print it.
 * Anything else, or a date or time that does not exist (`2026-02-30`, `24:00`), is a
 * UsageError naming the flag.
 *
 * A time names a whole second, minute or day (the tables print whole seconds, and a row
 * finished at 05:40:19.500 shows as 05:40:19). `end: true` gives the last millisecond of it,
 * for the inclusive end of a range: `--until 05:40:19` keeps that row.
 */
export function instant(flag: string, raw: string, { now = Date.now(), end = false }: { now?: number; end?: boolean } = {}): Date {
  const value = raw.trim();
  const ago = /^(\d+)([smhd])$/.exec(value);
  const time = TIME.exec(value);
  let at = Number.NaN;
  if (ago) at = now - Number(ago[1]) * AGO_UNIT_MS[ago[2] as keyof typeof AGO_UNIT_MS];
  else if (time) at = timeOf(time, end);
  // Postgres timestamps hold years 1..9999 (a longer "ago" runs off the start).
  if (!Number.isFinite(at) || at < EARLIEST_MS || at > LATEST_MS) {
    throw new UsageError(
      `--${flag} must be a time like 2026-12-01T03:00:00Z, 2026-12-01 03:00 (local time) or 2026-12-01, or a span ago like 30m, 2h or 7d; got "${raw}"`,
      `--${flag}`,
    );
  }
  return new Date(at);
}

/**
 * Epoch ms of a TIME match (its last millisecond with `end`), or NaN when a field is out of
 * range (Date itself would roll 02-30 into March).
 */
function timeOf(match: RegExpExecArray, end: boolean): number {
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1, 7).map((part) => Number(part ?? 0)) as number[];
  const ms = Number((match[7] ?? '').slice(0, 3).padEnd(3, '0'));
  const zone = match[8];
  if (hour! > 23 || minute! > 59 || second! > 59) return Number.NaN;
  // Fields set one by one: the constructor reads years 0..99 as 1900..1999.
  const date = new Date(0);
  if (zone) {
    date.setUTCFullYear(year!, month! - 1, day!);
    date.setUTCHours(hour!, minute!, second!, ms);
  } else {
    date.setFullYear(year!, month! - 1, day!);
    date.setHours(hour!, minute!, second!, ms);
  }
  // A day that moved did not exist. (A local time in a daylight-saving gap moves by the gap, as Date decides.)
  const [y, m, d] = zone ? [date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()] : [date.getFullYear(), date.getMonth(), date.getDate()];
  if (y !== year || m !== month! - 1 || d !== day) return Number.NaN;
  let offsetMs = 0;
  if (zone && zone.toUpperCase() !== 'Z') {
    const [, sign, zh, zm] = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
    if (Number(zh) > 23 || Number(zm) > 59) return Number.NaN;
    offsetMs = (sign === '-' ? -1 : 1) * (Number(zh) * 60 + Number(zm)) * 60_000;
  }
  const start = date.getTime() - offsetMs;
  if (!end || match[7] !== undefined) return start;
  if (match[4] === undefined) {
    // A whole local day: up to the next midnight, which daylight saving may put 23 or 25 hours on.
    date.setDate(date.getDate() + 1);
    return date.getTime() - 1;
  }
  return start + (match[6] === undefined ? 60_000 : 1000) - 1;
}
