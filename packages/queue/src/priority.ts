/** Maps named priority levels to BullMQ numbers, where a SMALLER number runs FIRST. */
import { PRIORITY_LEVELS, type PriorityLevel } from '@sluice/jobs';
import { InvalidOptionError } from './errors.ts';

/**
 * Gaps leave room for numeric overrides between levels. Every Sluice job carries a
 * priority: BullMQ serves un-prioritised jobs before all prioritised ones, so a job
 * with none would jump every queue.
 */
export const PRIORITY_NUMBERS: Record<PriorityLevel, number> = {
  critical: 1,
  high: 10,
  normal: 100,
  low: 1000,
};

/**
 * The largest priority BullMQ takes: 2^21 - 1 (it refuses 2^21 itself, "Priority should be
 * between 0 and 2097151"). Sluice numbers are BullMQ numbers as they are, so this is ours too.
 */
export const MAX_PRIORITY = 2_097_151;

export function resolvePriority(priority: PriorityLevel | number | string): number {
  if (typeof priority === 'string' && (PRIORITY_LEVELS as readonly string[]).includes(priority)) {
    return PRIORITY_NUMBERS[priority as PriorityLevel];
  }
  // Digits only: Number() would also take `0x10`, `1e3` and ` 5 `.
  const n = typeof priority === 'number' ? priority : /^\d+$/.test(priority) ? Number(priority) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PRIORITY) {
    throw new InvalidOptionError(
      'priority',
      `priority must be one of ${PRIORITY_LEVELS.join(', ')} or a whole number from 1 to ${MAX_PRIORITY}, got "${priority}"`,
    );
  }
  return n;
}

/** The level name for a BullMQ number, or the number itself when it sits between levels. */
export function priorityName(n: number): string {
  const entry = Object.entries(PRIORITY_NUMBERS).find(([, value]) => value === n);
  return entry ? entry[0] : String(n);
}
