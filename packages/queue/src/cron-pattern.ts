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
  try {
    defaultRepeatStrategy(Date.now(), { pattern, tz });
  } catch (error) {
    throw new InvalidOptionError('cron', `invalid cron pattern "${pattern}": ${error instanceof Error ? error.message : String(error)}`);
  }
}
