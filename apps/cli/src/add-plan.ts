/** Parses and checks `queue:add` arguments into a plan: every check that needs no Redis happens here. */
import { createHash } from 'node:crypto';
import type { Config } from '@sluice/config';
import { createPayloadValidator, type JobRegistry, type SubmitOptions } from '@sluice/jobs';
import {
  BUILTIN_SCHEDULE_PREFIX,
  buildJobOptions,
  canonicalZone,
  checkCronPattern,
  checkScheduleKey,
  InvalidJobDataError,
  MAX_ATTEMPTS,
  MAX_DELAY_MS,
  MAX_PRIORITY,
  MAX_SCHEDULE_KEY_CHARS,
  MIN_EVERY_MS,
  resolvePriority,
  UnknownJobTypeError,
  type CronSpec,
} from '@sluice/queue';
import { UsageError } from './errors.ts';
import { noMorePositionals, parseFlags, wholeNumber, type FlagSpec } from './flags.ts';

const FLAGS = {
  data: { type: 'string' },
  priority: { type: 'string' },
  delay: { type: 'string' },
  attempts: { type: 'string' },
  'remove-on-complete': { type: 'boolean', aliases: ['removeOnComplete'] },
  'job-id': { type: 'string' },
  // Seed 000 spelled the interval --repeat; BullMQ's `repeat` option itself is gone.
  every: { type: 'string', aliases: ['repeat'] },
  cron: { type: 'string' },
  tz: { type: 'string' },
  key: { type: 'string' },
} as const satisfies Record<string, FlagSpec>;

/** Queue-layer option fields, as the flag a CLI user typed. */
const FLAG_FOR_FIELD: Record<string, string> = {
  priority: '--priority',
  delay: '--delay',
  attempts: '--attempts',
  jobId: '--job-id',
  every: '--every',
  cron: '--cron',
  tz: '--tz',
  key: '--key',
  schedule: '--every/--cron',
};

export interface AddPlan {
  type: string;
  data: unknown;
  options: SubmitOptions;
  /**
   * `legacyKeys`: the keys earlier Sluice versions derived for the same cron schedule, where they differ from `key`.
   * `zoneFromLocal`: no --tz was given, so `spec.tz` is this machine's zone (schedules saved before it was pinned have none).
   * `keyGiven`: --key named the schedule; otherwise `key` was derived from the schedule itself.
   */
  schedule?: { spec: CronSpec; key: string; legacyKeys?: string[]; zoneFromLocal?: boolean; keyGiven?: boolean };
}

/** Turns arguments into a checked plan, or throws a usage/validation error. Never touches Redis. */
export function planAdd(args: readonly string[], registry: JobRegistry, config: Config): AddPlan {
  const { flags, positionals } = parseFlags(args, FLAGS);
  const type = positionals[0];
  if (type === undefined) throw new UsageError(`missing <type> (known types: ${Object.keys(registry).join(', ')})`, '<type>');
  noMorePositionals(positionals, 1);
  if (!Object.hasOwn(registry, type)) throw new UnknownJobTypeError(type, Object.keys(registry));

  let data: unknown = {};
  if (flags.data !== undefined) {
    try {
      data = JSON.parse(flags.data);
    } catch (error) {
      throw new UsageError(`--data is not valid JSON: ${(error as Error).message}`, '--data');
    }
  }
  const options: SubmitOptions = {};
  if (flags.priority !== undefined) options.priority = parsePriority(flags.priority);
  if (flags.delay !== undefined) options.delayMs = wholeNumber('delay', flags.delay, { max: MAX_DELAY_MS, unit: 'milliseconds' });
  if (flags.attempts !== undefined) options.attempts = wholeNumber('attempts', flags.attempts, { min: 1, max: MAX_ATTEMPTS });
  if (flags['remove-on-complete']) options.removeOnComplete = true;
  if (flags['job-id'] !== undefined) options.jobId = flags['job-id'];

  const schedule = planSchedule(type, flags);
  if (schedule && options.delayMs !== undefined) throw new UsageError('--delay cannot be combined with --every/--cron: a schedule runs on its own clock', '--delay');
  if (schedule && options.jobId !== undefined) throw new UsageError('--job-id cannot be combined with --every/--cron: name a schedule with --key', '--job-id');

  // The payload last, so a mistyped flag is reported as such rather than as a payload problem.
  const problem = createPayloadValidator(registry)(type, data);
  if (problem) throw new InvalidJobDataError(type, problem.path, problem.message);
  try {
    buildJobOptions(registry[type]!, options, config);
  } catch (error) {
    throw underFlag(error);
  }
  return { type, data, options, schedule };
}

/**
 * This machine's zone, as a cron schedule saves it. A `TZ` the runtime does not know is read as
 * UTC without a word, which would save a schedule to the wrong clock: refused instead.
 */
function localZone(): string {
  const tz = process.env.TZ;
  // `:/etc/localtime` and the like name a file, not a zone: the runtime reads it.
  if (tz && !tz.startsWith(':')) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
    } catch {
      throw new UsageError(`TZ="${tz}" is not a time zone this machine knows, so the --cron pattern has no local clock: give --tz (e.g. --tz Europe/Berlin), or set TZ to an IANA zone`, '--tz');
    }
  }
  return canonicalZone(Intl.DateTimeFormat().resolvedOptions().timeZone);
}

function planSchedule(type: string, flags: { every?: string; cron?: string; tz?: string; key?: string }): AddPlan['schedule'] {
  if (flags.every !== undefined && flags.cron !== undefined) throw new UsageError('--every and --cron cannot be combined; pick one', '--cron');
  if (flags.every === undefined && flags.cron === undefined) {
    if (flags.tz !== undefined) throw new UsageError('--tz only applies with --cron', '--tz');
    if (flags.key !== undefined) throw new UsageError('--key names a schedule; use it with --every or --cron', '--key');
    return undefined;
  }
  if (flags.tz !== undefined && flags.every !== undefined) throw new UsageError('--tz only applies with --cron', '--tz');
  // The schedule as typed: default keys come from it, so the same command keeps its key.
  const typed: CronSpec =
    flags.every !== undefined
      ? { everyMs: wholeNumber('every', flags.every, { min: MIN_EVERY_MS, max: MAX_DELAY_MS, unit: 'milliseconds' }) }
      : { pattern: flags.cron!.trim(), tz: flags.tz === undefined ? undefined : canonicalZone(flags.tz) };
  if (typed.pattern === '') throw new UsageError('--cron needs a pattern, e.g. "0 3 * * *"', '--cron');
  // Without --tz a pattern means local time here, so that zone is saved with it: BullMQ computes
  // each later run in the zone of the worker that ran the last one (often UTC), and a schedule
  // without a zone would move to that clock after its first run.
  const zoneFromLocal = typed.pattern !== undefined && flags.tz === undefined;
  const spec: CronSpec = zoneFromLocal ? { ...typed, tz: localZone() } : typed;
  if (spec.pattern !== undefined) {
    try {
      checkCronPattern(spec.pattern, spec.tz);
    } catch (error) {
      throw underFlag(error);
    }
  }
  const key = flags.key ?? defaultScheduleKey(type, typed);
  const legacy = flags.key === undefined && typed.pattern !== undefined ? [legacyScheduleKey(type, typed), unshortenedScheduleKey(type, typed)].filter((k) => k !== key) : [];
  try {
    checkScheduleKey(key);
  } catch (error) {
    throw underFlag(error);
  }
  if (key.startsWith(BUILTIN_SCHEDULE_PREFIX)) {
    throw new UsageError(`--key must not start with "${BUILTIN_SCHEDULE_PREFIX}" (reserved for queue:scheduler setup)`, '--key');
  }
  return { spec, key, ...(legacy.length > 0 ? { legacyKeys: [...new Set(legacy)] } : {}), ...(zoneFromLocal ? { zoneFromLocal } : {}), ...(flags.key !== undefined ? { keyGiven: true } : {}) };
}

/** The key Sluice derived for a cron schedule before the hash was added; `queue:add` still updates a schedule saved under it. */
function legacyScheduleKey(type: string, spec: CronSpec): string {
  const slug = (text: string) => text.replaceAll('*', 'x').replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return `${type}-cron-${slug(spec.pattern!)}${spec.tz ? `-${slug(spec.tz)}` : ''}`;
}

/**
 * `echo-every-5000`, `echo-cron-0-3-x-x-x`: stable, so adding the same schedule twice replaces
 * it, and different schedules never share a key. The readable slug drops characters
 * (`1-5`, `1,5` and `1/5` all read `1-5`), so a pattern with anything but digits, `*` and
 * spaces, or with a time zone, also gets a short hash of its exact text.
 */
export function defaultScheduleKey(type: string, spec: CronSpec): string {
  const key = unshortenedScheduleKey(type, spec);
  if (key.length <= MAX_SCHEDULE_KEY_CHARS) return key;
  // A long pattern (every minute listed, say): the start of its slug, and always the hash.
  return `${key.slice(0, MAX_SCHEDULE_KEY_CHARS - 9)}-${patternHash(spec)}`;
}

/** The derived key before keys were held to MAX_SCHEDULE_KEY_CHARS; `queue:add` moves a schedule saved under a longer one. */
function unshortenedScheduleKey(type: string, spec: CronSpec): string {
  if (spec.everyMs !== undefined) return `${type}-every-${spec.everyMs}`;
  const pattern = normalPattern(spec.pattern!);
  const key = legacyScheduleKey(type, spec);
  if (/^[0-9*]+( [0-9*]+)*$/.test(pattern) && !spec.tz) return key;
  return `${key}-${patternHash(spec)}`;
}

const patternHash = (spec: CronSpec) => createHash('sha256').update(`${normalPattern(spec.pattern!)}\n${spec.tz ?? ''}`).digest('hex').slice(0, 8);

/** A pattern as keys are derived from it: fields one space apart, so `1-5  * * * *` and `1-5 * * * *` are one schedule. */
export const normalPattern = (pattern: string) => pattern.trim().replace(/\s+/g, ' ');

function parsePriority(raw: string): SubmitOptions['priority'] {
  const value = /^\d+$/.test(raw) ? Number(raw) : raw;
  try {
    resolvePriority(value);
  } catch {
    throw new UsageError(`--priority must be critical, high, normal, low or a whole number from 1 to ${MAX_PRIORITY}, got "${raw}"`, '--priority');
  }
  return value as SubmitOptions['priority'];
}

/** The queue layer's InvalidOptionError, re-raised under the flag the user typed. */
export function underFlag(error: unknown): unknown {
  if (!(error instanceof Error) || error.name !== 'InvalidOptionError') return error;
  const flag = FLAG_FOR_FIELD[(error as Error & { field?: string }).field ?? ''] ?? 'option';
  return new UsageError(`${flag}: ${error.message}`, flag);
}
