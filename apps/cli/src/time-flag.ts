/** Reads an instant from a flag (`--since`, `--until`): a span ago, a zoned time, or local time as the tables print it. */
import { UsageError } from './errors.ts';

const AGO_UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DAY_MS = 86_400_000;
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
 * UsageError naming the flag. The result is an ISO 8601 date-time in UTC that keeps every
 * fraction digit given (the audit store reads it to the microsecond).
 *
 * A time names a whole second, minute or day (the tables print whole seconds, and a row
 * finished at 05:40:19.500 shows as 05:40:19). `end: true` gives the last millisecond of it,
 * for the inclusive end of a range: `--until 05:40:19` keeps that row. A local time the clocks
 * pass twice (the hour daylight saving repeats) starts at its first pass and ends at its second;
 * one they skip is the moment they jumped, where `--since` starts and `--until` stops.
 */
export function instant(flag: string, raw: string, { now = Date.now(), end = false }: { now?: number; end?: boolean } = {}): string {
  const value = raw.trim();
  const ago = /^(\d+)([smhd])$/.exec(value);
  const time = TIME.exec(value);
  let at = Number.NaN;
  /** Fraction digits past the millisecond, kept when the instant is the one written. */
  let finer = '';
  if (ago) at = now - Number(ago[1]) * AGO_UNIT_MS[ago[2] as keyof typeof AGO_UNIT_MS];
  else if (time) {
    ({ at, finer } = timeOf(time, end));
    // A zone's offset can carry year 1's first or year 9999's last day past what Postgres
    // holds: a range reaching past either end is cut there, one lying wholly past it refused.
    if (time[1] === '0001' && !end && at < EARLIEST_MS && at >= EARLIEST_MS - DAY_MS) [at, finer] = [EARLIEST_MS, ''];
    if (time[1] === '9999' && end && at > LATEST_MS && at <= LATEST_MS + DAY_MS) [at, finer] = [LATEST_MS, ''];
    if ((time[1] === '0001' && at < EARLIEST_MS) || (time[1] === '9999' && at > LATEST_MS)) {
      throw new UsageError(
        `--${flag} ${raw} is ${at < EARLIEST_MS ? 'before 0001-01-01T00:00:00Z' : 'after 9999-12-31T23:59:59.999Z'}, outside what the audit table holds: no execution can match`,
        `--${flag}`,
      );
    }
  }
  // Postgres timestamps hold years 1..9999 (a longer "ago" runs off the start).
  if (!Number.isFinite(at) || at < EARLIEST_MS || at > LATEST_MS) {
    throw new UsageError(
      `--${flag} must be a time like 2026-12-01T03:00:00Z, 2026-12-01 03:00 (local time) or 2026-12-01, or a span ago like 30m, 2h or 7d; got "${raw}"`,
      `--${flag}`,
    );
  }
  // Digits past the millisecond are the same in every zone: kept as given.
  return `${new Date(at).toISOString().slice(0, -1)}${finer}Z`;
}

/**
 * A local time (no zone) as written, counted as if the clocks never jumped (the instant its
 * fields name in UTC, the end of its second, minute or day with `end`); null for a span or a
 * zoned time. Two of these are in the order the user wrote them, whatever daylight saving did.
 */
export function writtenAt(raw: string, { end = false }: { end?: boolean } = {}): number | null {
  const time = TIME.exec(raw.trim());
  if (!time || time[8] !== undefined) return null;
  const start = utc(fieldsOf(time));
  if (!end || time[7] !== undefined) return start;
  const unitMs = time[4] === undefined ? DAY_MS : time[6] === undefined ? 60_000 : 1000;
  return start + unitMs - 1;
}

interface Fields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
}

/**
 * Epoch ms of a TIME match (its last millisecond with `end`), or NaN when a field is out of
 * range (Date itself would roll 02-30 into March); with the fraction digits past the
 * millisecond (`finer`) when the instant is the one written.
 */
function timeOf(match: RegExpExecArray, end: boolean): { at: number; finer: string } {
  const fraction = match[7];
  const f = fieldsOf(match);
  const refused = { at: Number.NaN, finer: '' };
  if (f.hour > 23 || f.minute > 59 || f.second > 59) return refused;
  const zone = match[8];
  const offsetMs = zone ? zoneOffsetMs(zone) : 0;
  const wall = zone ? utc(f) : local(f);
  if (!sameDay(wall, f, zone ? 'utc' : 'local') || Number.isNaN(offsetMs)) return refused;
  // A date alone starts where Date puts a skipped midnight, which is the jump, and ends at the next.
  const jump = zone || match[4] === undefined ? null : jumpOver(wall, f);
  // Skipped by the clocks: the range starts, or ends just before, where they jumped.
  if (jump !== null) return { at: end ? jump - 1 : jump, finer: '' };
  const start = wall - offsetMs;
  if (fraction !== undefined) return { at: start, finer: fraction.slice(3) };
  if (!end) return { at: start, finer: '' };
  // A whole local day ends where the next one starts, 23, 24 or 25 hours later.
  if (match[4] === undefined) return { at: local({ ...f, day: f.day + 1 }) - 1, finer: '' };
  const unitMs = match[6] === undefined ? 60_000 : 1000;
  return { at: (zone ? start : laterPass(start, f)) + unitMs - 1, finer: '' };
}

function fieldsOf(match: RegExpExecArray): Fields {
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1, 7).map((part) => Number(part ?? 0)) as number[];
  return { year: year!, month: month!, day: day!, hour: hour!, minute: minute!, second: second!, ms: Number((match[7] ?? '').slice(0, 3).padEnd(3, '0')) };
}

function utc(f: Fields): number {
  const date = new Date(0);
  // Fields set one by one: the constructor reads years 0..99 as 1900..1999.
  date.setUTCFullYear(f.year, f.month - 1, f.day);
  date.setUTCHours(f.hour, f.minute, f.second, f.ms);
  return date.getTime();
}

/** A local time in a daylight-saving gap moves on by the gap, as Date decides (jumpOver finds the jump); a repeated one is its first pass. */
function local(f: Fields): number {
  const date = new Date(0);
  date.setFullYear(f.year, f.month - 1, f.day);
  date.setHours(f.hour, f.minute, f.second, f.ms);
  return date.getTime();
}

/**
 * Where the clocks jumped over a local time daylight saving skips (Date moves such a time on
 * by the gap, so it shows other fields), else null: the first instant that shows the offset
 * `at` has, searched back across the hours a gap can span.
 */
function jumpOver(at: number, f: Fields): number | null {
  const shown = new Date(at);
  if (shown.getHours() === f.hour && shown.getMinutes() === f.minute && shown.getSeconds() === f.second) return null;
  const offset = shown.getTimezoneOffset();
  let before = at - 6 * 3_600_000;
  if (new Date(before).getTimezoneOffset() === offset) return null;
  let after = at;
  while (after - before > 1) {
    const mid = Math.floor((before + after) / 2);
    if (new Date(mid).getTimezoneOffset() === offset) after = mid;
    else before = mid;
  }
  return after;
}

function sameDay(at: number, f: Fields, clock: 'utc' | 'local'): boolean {
  const date = new Date(at);
  return clock === 'utc'
    ? date.getUTCFullYear() === f.year && date.getUTCMonth() === f.month - 1 && date.getUTCDate() === f.day
    : date.getFullYear() === f.year && date.getMonth() === f.month - 1 && date.getDate() === f.day;
}

/**
 * The second pass of a local time the clocks show twice, else `at`. The clocks go back by the
 * rise in the offset behind UTC that follows (30 minutes, an hour, two at Troll): a second
 * pass, if any, is that much later. A repeat ends within hours, so six hours on shows it.
 */
function laterPass(at: number, f: Fields): number {
  const backMs = (new Date(at + 6 * 3_600_000).getTimezoneOffset() - new Date(at).getTimezoneOffset()) * 60_000;
  if (backMs <= 0) return at;
  const again = new Date(at + backMs);
  const same = sameDay(again.getTime(), f, 'local') && again.getHours() === f.hour && again.getMinutes() === f.minute && again.getSeconds() === f.second;
  return same ? again.getTime() : at;
}

/** `Z`, `+01:00`, `-0530` in ms east of UTC; NaN past 23:59. */
function zoneOffsetMs(zone: string): number {
  if (zone.toUpperCase() === 'Z') return 0;
  const [, sign, hours, minutes] = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
  if (Number(hours) > 23 || Number(minutes) > 59) return Number.NaN;
  return (sign === '-' ? -1 : 1) * (Number(hours) * 60 + Number(minutes)) * 60_000;
}
