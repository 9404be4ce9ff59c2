/** The producer side: validated submits, schedules, health and pause/resume on the `jobs` queue. */
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '@sluice/config';
import {
  createPayloadValidator,
  payloadDepthProblem,
  type JobData,
  type JobDataForEach,
  type JobRegistry,
  type JobSubmitter,
  type JobType,
  type SubmitOptions,
} from '@sluice/jobs';
import { canonicalZone, checkCronPattern } from './cron-pattern.ts';
import { BEING_ADDED, InvalidJobDataError, InvalidOptionError, JobExistsError, UnknownJobTypeError } from './errors.ts';
import { buildJobOptions, checkScheduleKey, checkUserId, MAX_DELAY_MS, MIN_EVERY_MS, type JobEnvelope } from './job-options.ts';
import { QUEUE_NAME, sluiceKeys } from './queue-keys.ts';
import { checkRedis, connectRedis, type RedisHealth } from './redis.ts';

export interface CronSpec {
  /** Cron pattern; a 6-field pattern has seconds first. */
  pattern?: string;
  everyMs?: number;
  tz?: string;
}

export interface ScheduleInfo {
  key: string;
  type: string;
  pattern: string | null;
  everyMs: number | null;
  tz: string | null;
  next: Date | null;
  data: unknown;
}

export const JOB_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed', 'paused'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface QueueHealth {
  counts: Record<JobState, number>;
  paused: boolean;
  redis: RedisHealth;
  lastProcessedAt: Date | null;
}

/** One job of a bulk submit: its payload is checked against its own type by the compiler. */
export type BulkItem<R extends JobRegistry> = { [T in JobType<R>]: { type: T; data: JobData<T, R>; options?: SubmitOptions } }[JobType<R>];

export interface QueueManagerOptions<R extends JobRegistry> {
  config: Config;
  registry: R;
  /** A producer connection; one is opened (and later closed) when omitted. */
  connection?: Redis;
}

/** Throws InvalidOptionError unless `spec` is one cron pattern (with an optional zone) or one interval BullMQ can keep. */
export function checkCronSpec(spec: CronSpec): void {
  if ((spec.pattern === undefined) === (spec.everyMs === undefined)) {
    throw new InvalidOptionError('schedule', 'a schedule needs exactly one of a cron pattern or an interval (everyMs)');
  }
  if (spec.everyMs !== undefined && (!Number.isInteger(spec.everyMs) || spec.everyMs < MIN_EVERY_MS || spec.everyMs > MAX_DELAY_MS)) {
    throw new InvalidOptionError('every', `every must be a whole number of milliseconds from ${MIN_EVERY_MS} (1 s) to ${MAX_DELAY_MS} (365 days), got "${spec.everyMs}"`);
  }
  if (spec.everyMs !== undefined && spec.tz !== undefined) throw new InvalidOptionError('tz', 'tz only applies to a cron pattern, not to everyMs');
  if (spec.pattern !== undefined) checkCronPattern(spec.pattern, spec.tz);
}

/** Deletes a key only while it still holds the caller's token. */
const RELEASE_CLAIM = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

export class QueueManager<R extends JobRegistry> implements JobSubmitter {
  readonly queue: Queue;
  private readonly validate;

  private constructor(
    private readonly config: Config,
    private readonly registry: R,
    readonly connection: Redis,
    private readonly ownsConnection: boolean,
  ) {
    this.validate = createPayloadValidator(registry);
    this.queue = new Queue(QUEUE_NAME, { connection, prefix: config.redis.prefix });
    // Errors surface on the awaited calls; the emitter must not crash the process.
    this.queue.on('error', () => {});
  }

  static async open<R extends JobRegistry>({ config, registry, connection }: QueueManagerOptions<R>): Promise<QueueManager<R>> {
    const redis = connection ?? (await connectRedis(config.redis.url, { role: 'producer', connectionName: 'sluice-producer', commandTimeoutMs: config.redis.commandTimeoutMs }));
    return new QueueManager(config, registry, redis, connection === undefined);
  }

  get types(): JobType<R>[] {
    return Object.keys(this.registry) as JobType<R>[];
  }

  /** Validates without enqueuing; throws the same errors `submit` would. */
  check(type: string, data: unknown): asserts type is JobType<R> {
    if (!Object.hasOwn(this.registry, type)) throw new UnknownJobTypeError(type, this.types);
    const problem = payloadDepthProblem(data) ?? this.validate(type, data);
    if (problem) throw new InvalidJobDataError(type, problem.path, problem.message);
  }

  /** Queues a job of a type the code names: the compiler checks `type` and `data` against the registry. */
  submit<T extends JobType<R>>(type: T, data: JobDataForEach<T, R>, options: SubmitOptions = {}): Promise<{ id: string }> {
    return this.submitByName(type, data, options);
  }

  /**
   * Queues a job whose type arrives as text at run time (an API body, a CLI argument): the
   * type and payload are checked here, at run time only, like every submit's.
   */
  async submitByName(type: string, data: unknown, options: SubmitOptions = {}): Promise<{ id: string }> {
    this.check(type, data);
    const opts = buildJobOptions(this.registry[type]!, options, this.config);
    const envelope: JobEnvelope = { data, userId: checkUserId(options.userId) };
    if (options.jobId === undefined) return { id: (await this.queue.add(type, envelope, opts)).id! };
    return this.addWithCustomId(options.jobId, () => this.queue.add(type, envelope, opts));
  }

  /**
   * BullMQ keeps the existing job when an id is added twice and reports nothing, so two
   * concurrent submits of one id would both look successful while one payload is dropped.
   * A short-lived claim makes it one winner: claim, then check, then add, then release. A
   * submit that loses either step gets JobExistsError. The claim expires by itself if this
   * process dies in between.
   */
  private async addWithCustomId(jobId: string, add: () => Promise<unknown>): Promise<{ id: string }> {
    const claim = sluiceKeys(this.config.redis.prefix).jobIdClaim(jobId);
    const token = crypto.randomUUID();
    if ((await this.connection.set(claim, token, 'PX', 10_000, 'NX')) === null) throw new JobExistsError(jobId, BEING_ADDED);
    try {
      const state = await this.queue.getJobState(jobId);
      if (state !== 'unknown') throw new JobExistsError(jobId, state);
      await add();
      return { id: jobId };
    } finally {
      // Only our own claim: if this took longer than its 10 s, another submit may hold the key now.
      await this.connection.eval(RELEASE_CLAIM, 1, claim, token).catch(() => {});
    }
  }

  /**
   * All or nothing: every item is validated before any is enqueued. Jobs get generated ids:
   * BullMQ's addBulk would silently keep an existing job for a taken id, so a custom `jobId`
   * is refused here; `submit` takes one and refuses it when taken.
   */
  async submitBulk(items: readonly BulkItem<R>[]): Promise<{ id: string }[]> {
    const prepared = items.map(({ type, data, options = {} }) => {
      if (options.jobId !== undefined) {
        throw new InvalidOptionError('jobId', 'submitBulk takes no jobId (a taken id would be dropped silently); submit jobs with your own ids one at a time with submit');
      }
      this.check(type, data);
      const envelope: JobEnvelope = { data, userId: checkUserId(options.userId) };
      return { name: type, data: envelope, opts: buildJobOptions(this.registry[type]!, options, this.config) };
    });
    const jobs = await this.queue.addBulk(prepared);
    return jobs.map((job) => ({ id: job.id! }));
  }

  /** Creates or replaces the Job Scheduler `key` (idempotent: one scheduler per key). */
  async scheduleCron(type: string, spec: CronSpec, data: unknown, key: string, options: SubmitOptions = {}): Promise<ScheduleInfo> {
    this.check(type, data);
    checkCronSpec(spec);
    checkScheduleKey(key);
    const opts = this.scheduledJobOptions(type, options);
    const tz = spec.tz === undefined ? undefined : canonicalZone(spec.tz);
    const repeat = spec.pattern !== undefined ? { pattern: spec.pattern, tz } : { every: spec.everyMs, tz };
    const firstRun = await this.queue.upsertJobScheduler(key, repeat, { name: type, data: { data, userId: checkUserId(options.userId) }, opts });
    // The schedule as this call saved it, not read back: a removal right after (another
    // request's DELETE) must not turn a save that happened into an error. The first run's id
    // is `repeat:<key>:<next run, epoch ms>`, and a key holds no `:`.
    const next = Number(firstRun?.id?.slice(firstRun.id.lastIndexOf(':') + 1));
    // BullMQ saves nothing, without an error, when it finds no next run; checkCronPattern refuses such a pattern first.
    if (!Number.isSafeInteger(next)) throw new Error(`schedule "${key}" was not saved: BullMQ found no next run for it`);
    return { key, type, pattern: spec.pattern ?? null, everyMs: spec.everyMs ?? null, tz: tz ?? null, next: new Date(next), data };
  }

  /** The job options each run of a `type` schedule is queued with, as scheduleCron saves them. */
  scheduledJobOptions(type: JobType<R> | string, options: SubmitOptions = {}): JobsOptions {
    const { delay: _delay, jobId: _jobId, ...opts } = buildJobOptions(this.registry[type]!, options, this.config);
    return opts;
  }

  /** The job options saved with each schedule (priority, attempts, backoff...), by key. */
  async savedJobOptions(): Promise<Map<string, unknown>> {
    const schedulers = await this.queue.getJobSchedulers(0, -1, true);
    return new Map(schedulers.map((s) => [s.key, s.template?.opts ?? null]));
  }

  removeCron(key: string): Promise<boolean> {
    return this.queue.removeJobScheduler(key);
  }

  async listCrons(): Promise<ScheduleInfo[]> {
    const schedulers = await this.queue.getJobSchedulers(0, -1, true);
    return schedulers.map((s) => ({
      key: s.key,
      type: s.name,
      pattern: s.pattern ?? null,
      everyMs: s.every ? Number(s.every) : null,
      tz: s.tz ?? null,
      // A schedule written by another producer may hold a next run no date can show.
      next: s.next && Number.isFinite(new Date(Number(s.next)).getTime()) ? new Date(Number(s.next)) : null,
      data: (s.template?.data as JobEnvelope | undefined)?.data ?? null,
    }));
  }

  /**
   * Jobs per state. BullMQ 6 keeps a paused queue's jobs in place, so `paused` counts
   * the waiting and prioritized jobs held back while the queue is paused (else 0).
   */
  async getCounts(): Promise<Record<JobState, number>> {
    const [counts, paused] = await Promise.all([
      this.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed'),
      this.queue.isPaused(),
    ]);
    const held = paused ? (counts.waiting ?? 0) + (counts.prioritized ?? 0) : 0;
    return Object.fromEntries(JOB_STATES.map((state) => [state, state === 'paused' ? held : (counts[state] ?? 0)])) as Record<JobState, number>;
  }

  async getHealth(): Promise<QueueHealth> {
    const redis = await checkRedis(this.connection);
    if (redis.status === 'down') {
      return { counts: Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>, paused: false, redis, lastProcessedAt: null };
    }
    const [counts, paused, completed, failed] = await Promise.all([
      this.getCounts(),
      this.queue.isPaused(),
      this.queue.getJobs(['completed'], 0, 0, false),
      this.queue.getJobs(['failed'], 0, 0, false),
    ]);
    const finished = [...completed, ...failed].map((job) => job.finishedOn ?? 0);
    const last = Math.max(0, ...finished);
    return { counts, paused, redis, lastProcessedAt: last > 0 ? new Date(last) : null };
  }

  /**
   * When each of these delayed jobs becomes runnable, from the delayed set's scores (run-at
   * ms * 0x1000 + a tie-breaker). A retry's run-at is not timestamp + delay: its timestamp is
   * when the job was first added, and its delay counts from the failure. Ids not in the set
   * (the job moved on) are left out.
   */
  async delayedRunTimes(jobIds: readonly string[]): Promise<Map<string, Date>> {
    if (jobIds.length === 0) return new Map();
    const scores = await this.connection.zmscore(this.queue.keys.delayed!, ...jobIds);
    const runAt = new Map<string, Date>();
    jobIds.forEach((id, i) => {
      if (scores[i] != null) runAt.set(id, new Date(Math.floor(Number(scores[i]) / 0x1000)));
    });
    return runAt;
  }

  pause(): Promise<void> {
    return this.queue.pause();
  }

  resume(): Promise<void> {
    return this.queue.resume();
  }

  async close(): Promise<void> {
    await this.queue.close();
    if (this.ownsConnection) await this.connection.quit().catch(() => this.connection.disconnect());
  }
}
