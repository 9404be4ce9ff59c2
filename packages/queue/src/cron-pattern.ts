/** Validates cron patterns and time zones before anything reaches Redis. */
import { defaultRepeatStrategy } from 'bullmq';
import { InvalidOptionError } from './errors.ts';

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
  // BullMQ's parser fills in missing fields, so `0 3 * *` (one forgotten) would run at midnight
  // every few days instead of being refused. Macros such as @daily are left to the parser.
  const fields = pattern.trim().split(/\s+/).length;
  if (!pattern.trim().startsWith('@') && fields !== 5 && fields !== 6) {
    throw new InvalidOptionError(
      'cron',
      `invalid cron pattern "${pattern}": expected 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first, got ${fields}`,
    );
  }
  try {
    defaultRepeatStrategy(Date.now(), { pattern, tz });
  } catch (error) {
    throw new InvalidOptionError('cron', `invalid cron pattern "${pattern}": ${error instanceof Error ? error.message : String(error)}`);
  }
}
