/**
 * Built-in schedules: turns each job definition's `schedule` into a Job Scheduler keyed
 * `builtin-<type>`, and removes the ones no definition asks for any more. Used by
 * `queue:scheduler` and by the server at start; free of CLI and HTTP concerns.
 */
import type { Config } from '@sluice/config';
import type { JobDefinition, JobRegistry } from '@sluice/jobs';
import { canonicalZone, checkCronPattern } from './cron-pattern.ts';
import { InvalidOptionError, InvalidScheduleDefinitionError } from './errors.ts';
import { checkCronSpec, type CronSpec, type QueueManager, type ScheduleInfo } from './queue-manager.ts';

/** `production` uses each definition's pattern/everyMs; `test` repeats every `testEveryMs` instead. */
export type ScheduleMode = 'test' | 'production';
export const SCHEDULE_MODES: readonly ScheduleMode[] = ['test', 'production'];

export const DEFAULT_TEST_EVERY_MS = 10_000;

/** Keys under this prefix belong to setupSchedules; user schedules must not use it. */
export const BUILTIN_SCHEDULE_PREFIX = 'builtin-';

export function builtinScheduleKey(type: string): string {
  return `${BUILTIN_SCHEDULE_PREFIX}${type}`;
}

export type ScheduleAction =
  /** Upserted (`created`/`updated`) or already exactly as wanted (`unchanged`, left alone so its next run stays put). */
  | { action: 'created' | 'updated' | 'unchanged'; key: string; type: string; spec: CronSpec; next: Date | null }
  /** The definition's `enabled(config)` said no, and no scheduler existed. */
  | { action: 'skipped'; key: string; type: string; reason: string }
  /** A `builtin-` scheduler that is disabled by config or no longer defined. */
  | { action: 'removed'; key: string; type: string; reason: string };

export interface ScheduleSetupResult {
  mode: ScheduleMode;
  actions: ScheduleAction[];
}

/** The spec a definition's schedule gets in `mode`. Throws InvalidOptionError for a malformed schedule. */
export function scheduleSpecFor(type: string, definition: JobDefinition, mode: ScheduleMode): CronSpec | null {
  const schedule = definition.schedule;
  if (!schedule) return null;
  if ((schedule.pattern === undefined) === (schedule.everyMs === undefined)) {
    throw new InvalidOptionError('schedule', 'a schedule needs exactly one of pattern or everyMs');
  }
  if (schedule.pattern !== undefined) checkCronPattern(schedule.pattern, schedule.tz);
  if (mode === 'test') return { everyMs: schedule.testEveryMs ?? DEFAULT_TEST_EVERY_MS };
  // A pattern without a zone would be read in the zone of whichever process computes the next
  // run: the server's for the first, each worker's after. A built-in runs on UTC unless it says.
  return schedule.pattern !== undefined ? { pattern: schedule.pattern, tz: schedule.tz ?? 'UTC' } : { everyMs: schedule.everyMs, tz: schedule.tz };
}

/**
 * Makes the `builtin-*` schedulers match the registry in `mode`. Idempotent: running it
 * again changes nothing, and an unchanged scheduler is not touched (its next run stays).
 * Every definition is checked before anything is written, so a bad one changes nothing.
 */
export async function setupSchedules<R extends JobRegistry>(
  queue: QueueManager<R>,
  registry: R,
  config: Config,
  mode: ScheduleMode,
): Promise<ScheduleSetupResult> {
  const wanted = Object.entries(registry).map(([type, definition]) => ({
    type,
    definition,
    spec: checkedScheduleSpec(queue, type, definition, mode),
    enabled: definition.schedule?.enabled?.(config) ?? true,
  }));
  const existing = new Map((await queue.listCrons()).map((s) => [s.key, s]));
  const savedOptions = await queue.savedJobOptions();
  const actions: ScheduleAction[] = [];
  const handled = new Set<string>();

  for (const { type, definition, spec, enabled } of wanted) {
    if (!spec) continue;
    const key = builtinScheduleKey(type);
    handled.add(key);
    const current = existing.get(key);
    if (!enabled) {
      if (current && (await queue.removeCron(key))) actions.push({ action: 'removed', key, type, reason: 'disabled by config' });
      else actions.push({ action: 'skipped', key, type, reason: 'disabled by config' });
      continue;
    }
    const data = definition.schedule!.data;
    // The job options count too: a definition's priority or backoff, or WORKER_QUEUE_JOB_ATTEMPTS,
    // may have changed since, and each run is queued with the options saved here.
    if (current && sameSchedule(current, type, spec, data) && sameJson(savedOptions.get(key), queue.scheduledJobOptions(type))) {
      actions.push({ action: 'unchanged', key, type, spec, next: current.next });
      continue;
    }
    const saved = await queue.scheduleCron(type, spec, data, key);
    actions.push({ action: current ? 'updated' : 'created', key, type, spec, next: saved.next });
  }

  for (const [key, current] of existing) {
    if (!key.startsWith(BUILTIN_SCHEDULE_PREFIX) || handled.has(key)) continue;
    if (await queue.removeCron(key)) actions.push({ action: 'removed', key, type: current.type, reason: 'no longer defined' });
  }
  return { mode, actions };
}

/** The definition's schedule, its pattern and data checked; a fault names the definition. */
function checkedScheduleSpec<R extends JobRegistry>(queue: QueueManager<R>, type: string, definition: JobDefinition, mode: ScheduleMode): CronSpec | null {
  try {
    const spec = scheduleSpecFor(type, definition, mode);
    if (spec) {
      checkCronSpec(spec);
      queue.check(type, definition.schedule!.data);
    }
    return spec;
  } catch (error) {
    throw new InvalidScheduleDefinitionError(type, error);
  }
}

/** Removes the `builtin-*` schedulers, or every scheduler with `all`. Returns the removed keys. */
export async function removeSchedules<R extends JobRegistry>(queue: QueueManager<R>, { all = false }: { all?: boolean } = {}): Promise<string[]> {
  const removed: string[] = [];
  for (const { key } of await queue.listCrons()) {
    if (!all && !key.startsWith(BUILTIN_SCHEDULE_PREFIX)) continue;
    if (await queue.removeCron(key)) removed.push(key);
  }
  return removed;
}

function sameSchedule(current: ScheduleInfo, type: string, spec: CronSpec, data: unknown): boolean {
  return (
    current.type === type &&
    current.pattern === (spec.pattern ?? null) &&
    current.everyMs === (spec.everyMs ?? null) &&
    // Saved in one spelling (`Etc/UTC` as `UTC`): a definition that writes its zone another way is not a change.
    (current.tz === null ? null : canonicalZone(current.tz)) === (spec.tz === undefined ? null : canonicalZone(spec.tz)) &&
    JSON.stringify(current.data) === JSON.stringify(data)
  );
}

/** Equal as JSON, whatever the order of object keys (Redis hands the saved options back in its own). */
function sameJson(a: unknown, b: unknown): boolean {
  const sorted = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(sorted)
    : typeof value === 'object' && value !== null ? Object.fromEntries(Object.entries(value).sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, v]) => [k, sorted(v)]))
    : value;
  return JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
}
