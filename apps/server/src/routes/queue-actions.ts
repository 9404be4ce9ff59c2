/** /api/v1/jobs/queue/*: pause, resume, retry every failed job, clean finished jobs by age. */
import { Elysia } from 'elysia';
import type { ServerDeps } from '../deps.ts';
import { CleanBody, strictBody } from './schemas.ts';

export function createQueueActionRoutes({ queue, log }: Pick<ServerDeps, 'queue' | 'log'>) {
  const tags = ['queue'];
  return new Elysia({ name: 'queue-actions', prefix: '/api/v1/jobs/queue' })
    .post(
      '/pause',
      async () => {
        await queue.pause();
        log.info('queue paused');
        return { paused: true };
      },
      { detail: { summary: 'Pause the queue: workers finish active jobs and take no new ones', tags } },
    )
    .post(
      '/resume',
      async () => {
        await queue.resume();
        log.info('queue resumed');
        return { paused: false };
      },
      { detail: { summary: 'Resume a paused queue', tags } },
    )
    .post(
      '/retry-failed',
      async () => {
        const failed = await queue.queue.getFailedCount();
        // BullMQ moves them in batches until the failed set is empty.
        await queue.queue.retryJobs({ state: 'failed' });
        log.info({ count: failed }, 'failed jobs retried');
        return { retried: failed };
      },
      { detail: { summary: 'Move every failed job back to waiting', tags } },
    )
    .post(
      '/clean',
      async ({ body }) => {
        // BullMQ reads a limit of 0 as "no limit".
        const removed = await queue.queue.clean(body.olderThanMs, body.limit ?? 0, body.state);
        log.info({ state: body.state, olderThanMs: body.olderThanMs, count: removed.length }, 'queue cleaned');
        return { state: body.state, removed: removed.length };
      },
      // parse 'json' names the body's type for the OpenAPI document; the request guard's parser reads it first.
      { body: CleanBody, parse: 'json', transform: strictBody(CleanBody), detail: { summary: 'Remove completed or failed jobs that finished more than olderThanMs ago', tags } },
    );
}
