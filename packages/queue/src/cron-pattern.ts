/** Validates cron patterns and time zones before anything reaches Redis. */
import { defaultRepeatStrategy } from 'bullmq';
import { InvalidOptionError } from './errors.ts';

/** UTC's other names in the IANA database; the runtime keeps each as typed. */
const UTC_ALIASES = new Set(['utc', 'etc/utc', 'uct', 'etc/uct', 'universal', 'etc/universal', 'zulu', 'etc/zulu']);

/**
 * A time zone as one spelling: the runtime's (`europe/berlin` is `Europe/Berlin`), with UTC's
 * aliases (`Etc/UTC`, `utc`, `Zulu`) read as `UTC`. So one schedule is not saved twice because
 * its zone was typed two ways. A zone the runtime does not know is returned as given.
 */
export function canonicalZone(tz: string): string {
  if (UTC_ALIASES.has(tz.toLowerCase())) return 'UTC';
  try {
    return new Intl.DateTimeFormat('en', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    return tz;
  }
}

/**
 * Checks a cron pattern and time zone with BullMQ's own parser, without touching Redis
 * (BullMQ only rejects a bad pattern after it has written the queue's meta key).
 */
export function checkCronPattern(pattern: string, tz?: string): void {
  if (tz !== undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
    } catch {
      throw new InvalidOptionError('tz', `unknown time zone "${tz}"`);
    }
  }
  // cron-parser's own word for an unknown macro is `cannot resolve alias "dia"`.
  const macro = pattern.trim();
  if (macro.startsWith('@') && !CRON_MACROS.includes(macro)) {
    throw new InvalidOptionError('cron', `invalid cron pattern "${pattern}": no such macro; use one of ${CRON_MACROS.join(', ')}, or fields such as "0 3 * * *"`);
  }
  // BullMQ's parser fills in missing fields, so `0 3 * *` (one forgotten) would run at midnight
  // every few days instead of being refused.
  const fields = pattern.trim().split(/\s+/).length;
  if (!pattern.trim().startsWith('@') && fields !== 5 && fields !== 6) {
    throw new InvalidOptionError(
      'cron',
      `invalid cron pattern "${pattern}": expected 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first, got ${fields}`,
    );
  }
  // cron-parser reads H as "a value picked by hashing a seed" (Jenkins style). BullMQ passes no
  // seed, so every computation of the next run picks a new random minute (or hour...): the
  // schedule would drift instead of repeating. `THU` is a day name, not an H.
  if (/(?<![A-Za-z])H(?![A-Za-z])/.test(pattern)) {
    throw new InvalidOptionError(
      'cron',
      `invalid cron pattern "${pattern}": H (a hashed value) is not supported: BullMQ gives it no seed, so each run would pick a new random time; write the value itself, e.g. 17 instead of H`,
    );
  }
  let next: number | undefined;
  try {
    next = defaultRepeatStrategy(Date.now(), { pattern, tz });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    // The parser refuses a day that a single month never has (`0 0 30 2 *`) rather than parse it.
    if (why === 'Invalid explicit day of month definition') throw neverMatches(pattern, tz);
    throw new InvalidOptionError('cron', `invalid cron pattern "${pattern}": ${why}`);
  }
  // A pattern no date satisfies (`0 0 31 2,4 *`: the 31st of February or April) parses, but has
  // no next time; BullMQ's upsertJobScheduler then writes nothing and says nothing, so a new
  // schedule would not exist and an updated one would silently keep its old pattern. Rare dates
  // (29 February, up to eight years away) do have a next time and stay accepted.
  if (next === undefined || !Number.isFinite(next)) throw neverMatches(pattern, tz);
}

const neverMatches = (pattern: string, tz: string | undefined) =>
  new InvalidOptionError('cron', `invalid cron pattern "${pattern}": it never matches a date (in ${tz ?? 'local time'}), so it would never run`);

/** The macros BullMQ's parser (cron-parser 5) knows. */
export const CRON_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly', '@minutely', '@secondly', '@weekdays', '@weekends'];
