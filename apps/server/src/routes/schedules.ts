/** /api/v1/jobs/schedules: list, read, upsert and delete Job Schedulers (cron patterns or fixed intervals). */
import { Elysia } from 'elysia';
import { BUILTIN_SCHEDULE_PREFIX, InvalidOptionError } from '@sluice/queue';
import type { ServerDeps } from '../deps.ts';
import { ScheduleNotFoundError } from '../http-errors.ts';
import { ScheduleBody, ScheduleKeyParams, strictBody } from './schemas.ts';

/**
 * Built-in schedulers are reconciled from the job definitions at every start (ENABLE_SCHEDULED_JOBS):
 * an edit or a removal here would be undone by the next one.
 */
function refuseBuiltin(key: string, how: string): void {
  if (key.startsWith(BUILTIN_SCHEDULE_PREFIX)) {
    throw new InvalidOptionError('key', `keys starting with "${BUILTIN_SCHEDULE_PREFIX}" belong to the job definitions' own schedules, ${how}`);
  }
}

export function createScheduleRoutes({ queue, log }: Pick<ServerDeps, 'queue' | 'log'>) {
  const tags = ['schedules'];
  const find = async (key: string) => {
    const schedule = (await queue.listCrons()).find((s) => s.key === key);
    if (!schedule) throw new ScheduleNotFoundError(key);
    return schedule;
  };

  return new Elysia({ name: 'schedules', prefix: '/api/v1/jobs/schedules' })
    .get('/', async () => ({ schedules: await queue.listCrons() }), { detail: { summary: 'Every Job Scheduler with its next run', tags } })
    .get('/:key', ({ params }) => find(params.key), { params: ScheduleKeyParams, detail: { summary: 'One Job Scheduler', tags } })
    .put(
      '/:key',
      async ({ params, body }) => {
        refuseBuiltin(params.key, 'set by their job definitions at start');
        const { type, data = {}, pattern, everyMs, priority, attempts } = body;
        // A pattern without tz means UTC, saved as such: left out, BullMQ would compute the first
        // run in the server's zone and each later one in the zone of whichever worker ran the last.
        const tz = pattern !== undefined ? (body.tz ?? 'UTC') : body.tz;
        const saved = await queue.scheduleCron(type, { pattern, everyMs, tz }, data, params.key, { priority, attempts });
        log.info({ key: params.key, type, pattern, everyMs }, 'schedule saved');
        return saved;
      },
      // parse 'json' names the body's type for the OpenAPI document; the request guard's parser reads it first.
      { params: ScheduleKeyParams, body: ScheduleBody, parse: 'json', transform: strictBody(ScheduleBody), detail: { summary: 'Create or replace a Job Scheduler (exactly one of pattern or everyMs)', tags } },
    )
    .delete(
      '/:key',
      async ({ params }) => {
        refuseBuiltin(params.key, 'which bun run queue:scheduler remove takes off');
        if (!(await queue.removeCron(params.key))) throw new ScheduleNotFoundError(params.key);
        log.info({ key: params.key }, 'schedule removed');
        return { key: params.key, removed: true };
      },
      { params: ScheduleKeyParams, detail: { summary: 'Remove a Job Scheduler (jobs it already queued stay)', tags } },
    );
}
