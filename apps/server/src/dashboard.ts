/** Bull Board at /admin/queues over the `jobs` queue (Job Schedulers included). Auth is applied by auth.ts; jobs it adds go through board-queue.ts. */
import { createBullBoard } from '@bull-board/api';
import { ElysiaAdapter } from '@bull-board/elysia';
import type { JobRegistry } from '@sluice/jobs';
import type { Logger } from '@sluice/observability';
import type { QueueManager } from '@sluice/queue';
import { BoardQueueAdapter } from './board-queue.ts';

export const DASHBOARD_PATH = '/admin/queues';

export async function createDashboard({ queue, log }: { queue: QueueManager<JobRegistry>; log: Logger }) {
  const serverAdapter = new ElysiaAdapter(DASHBOARD_PATH);
  createBullBoard({
    queues: [new BoardQueueAdapter(queue, log, { description: 'Every Sluice job type runs on this one queue.' })],
    // @bull-board/elysia 6.21.3 is typed against @bull-board/api 6; the 9.x api it runs with
    // (package.json overrides) calls the same adapter methods.
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: {
      uiConfig: {
        boardTitle: 'Sluice',
        miscLinks: [
          { text: 'API docs', url: '/docs' },
          { text: 'Metrics', url: '/metrics' },
        ],
      },
    },
  });
  return serverAdapter.registerPlugin();
}
