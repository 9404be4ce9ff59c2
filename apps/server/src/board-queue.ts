/**
 * The `jobs` queue as Bull Board sees it: its "Add job" and "Duplicate" actions go through
 * QueueManager.submit, like the jobs API, instead of adding a raw BullMQ job. A raw job has no
 * envelope (so its handler fails it for good), escapes the registry (any name reaches the
 * workers and the `type` label of the job metrics) and, duplicated with its custom id, is
 * silently dropped by BullMQ.
 */
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { Job, type JobsOptions } from 'bullmq';
import type { JobRegistry } from '@sluice/jobs';
import type { Logger } from '@sluice/observability';
import { BUILTIN_SCHEDULE_PREFIX, canNameJob, checkCronPattern, MAX_DELAY_MS, MIN_EVERY_MS, type JobEnvelope, type QueueManager } from '@sluice/queue';
import { InvalidInputError } from './http-errors.ts';

/** Job options the board may set; the rest come from the job type, as for any submit. */
const SUBMIT_OPTIONS = ['delay', 'priority', 'attempts'] as const;
/** What a schedule's run carries besides: a duplicate of one is a one-off job, not another run. */
const SCHEDULE_RUN_OPTIONS = ['repeat', 'repeatJobKey', 'timestamp', 'prevMillis'];

/**
 * Options a duplicated job carries that Sluice set itself: derived again from the job type,
 * except `jobId`, which a copy must not take (its original still holds it).
 */
const DERIVED_OPTIONS = new Set(['jobId', 'backoff', 'removeOnComplete', 'removeOnFail', ...SCHEDULE_RUN_OPTIONS]);

/**
 * The board shows a job's data as stored, the envelope, and "Duplicate" sends it back as is:
 * "Add job" takes the same shape, and its editor starts from this example. `userId` is not
 * taken: a job added from the board is asked for by an admin, not by the original's user (and
 * the jobs API does not let HTTP callers set it either).
 */
const ENVELOPE_SCHEMA = {
  type: 'object',
  description: 'The stored envelope: the payload under "data", validated against the job type. A "userId" is ignored.',
  properties: { data: {}, userId: { type: ['string', 'null'] } },
  required: ['data'],
  additionalProperties: false,
  examples: [{ data: { message: 'hello from the board' } }],
};

function payloadOf(envelope: unknown): unknown {
  const isEnvelope =
    typeof envelope === 'object' && envelope !== null && !Array.isArray(envelope) && Object.hasOwn(envelope, 'data') && Object.keys(envelope).every((key) => key === 'data' || key === 'userId');
  if (!isEnvelope) {
    throw new InvalidInputError('body', 'job data in the board is the stored envelope, {"data": <the payload>}, as a job shows it', 'data');
  }
  return (envelope as { data: unknown }).data;
}

function submitOptions(options: JobsOptions = {}) {
  const unsupported = Object.keys(options).filter((name) => !(SUBMIT_OPTIONS as readonly string[]).includes(name) && !DERIVED_OPTIONS.has(name));
  if (unsupported.length > 0) {
    throw new InvalidInputError('body', `the board can set the job options ${SUBMIT_OPTIONS.join(', ')}; not ${unsupported.join(', ')}`, `options/${unsupported[0]}`);
  }
  const { delay, priority, attempts } = options;
  return { delayMs: delay || undefined, priority, attempts };
}

export class BoardQueueAdapter extends BullMQAdapter {
  constructor(
    private readonly manager: QueueManager<JobRegistry>,
    private readonly log: Logger,
    options: ConstructorParameters<typeof BullMQAdapter>[1] = {},
  ) {
    super(manager.queue, { ...options, jobDataSchema: ENVELOPE_SCHEMA });
  }

  /**
   * A job as the board's per-job actions get it. The queue's own keys (`meta`, `repeat:<key>`)
   * are not jobs, as in the jobs API. "Update data" writes what the board's editor holds as
   * the stored data: it is held to the envelope and the type's schema, or the job would be
   * left to fail for good on data its handler cannot take.
   */
  override async getJob(id: string) {
    if (!canNameJob(id)) return undefined;
    const job = await super.getJob(id);
    if (!job) return job;
    const update = job.updateData.bind(job);
    job.updateData = async (envelope: unknown) => {
      const data = payloadOf(envelope);
      this.manager.check(job.name, data);
      // Whose job it is stays as it was: the board's admin edits the payload, not the owner.
      return update({ data, userId: (job.data as JobEnvelope | undefined)?.userId ?? null });
    };
    return job;
  }

  /**
   * The board's schedule edit, held to the jobs API's rules: a cron pattern that parses and
   * matches a date, an interval within a year, and no built-in schedule (its definition owns
   * it, and the server sets it back at start). A pattern given without a zone keeps the
   * schedule's own, or UTC: never the zone of whichever process computes a run.
   */
  override async updateJobScheduler(id: string, repeat: Parameters<BullMQAdapter['updateJobScheduler']>[1]) {
    if (id.startsWith(BUILTIN_SCHEDULE_PREFIX)) {
      throw new InvalidInputError('body', `schedule "${id}" is built in: its job type's definition sets it, at every server start`, 'key');
    }
    const current = await this.manager.queue.getJobScheduler(id);
    if (!current) return 'not-found';
    if (repeat.pattern !== undefined) {
      const tz = repeat.tz ?? current.tz ?? 'UTC';
      checkCronPattern(repeat.pattern, tz);
      repeat = { ...repeat, tz };
    } else if (repeat.every !== undefined && (!Number.isInteger(repeat.every) || repeat.every < MIN_EVERY_MS || repeat.every > MAX_DELAY_MS)) {
      throw new InvalidInputError('body', `every must be a whole number of milliseconds from ${MIN_EVERY_MS} (1 s) to ${MAX_DELAY_MS} (365 days)`, 'every');
    }
    return super.updateJobScheduler(id, repeat);
  }

  /** The board's schedule removal: as the jobs API's DELETE, not a built-in schedule (the next start would set it back). */
  override async removeJobScheduler(id: string) {
    if (id.startsWith(BUILTIN_SCHEDULE_PREFIX)) {
      throw new InvalidInputError('body', `schedule "${id}" is built in: its job type's definition sets it at every server start; bun run queue:scheduler remove takes the built-in schedules off`, 'key');
    }
    return super.removeJobScheduler(id);
  }

  /** Validated against the registry like any submit: an unknown type or invalid data is a 400 the board shows. */
  override async addJob(name: string, envelope: unknown, options: JobsOptions) {
    const data = payloadOf(envelope);
    const { id } = await this.manager.submitByName(name, data, submitOptions(options));
    this.log.info({ jobId: id, type: name }, 'job submitted from the dashboard');
    // A job already gone (it ran and was not kept) is shown from what was sent.
    return (await this.manager.queue.getJob(id)) ?? new Job(this.manager.queue, name, { data, userId: null } satisfies JobEnvelope, {}, id);
  }
}
