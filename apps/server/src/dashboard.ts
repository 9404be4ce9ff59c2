/** Bull Board at /admin/queues over the `jobs` queue (Job Schedulers included). Auth is applied by auth.ts. */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ElysiaAdapter } from '@bull-board/elysia';
import type { Queue } from 'bullmq';

export const DASHBOARD_PATH = '/admin/queues';

export async function createDashboard(queue: Queue) {
  const serverAdapter = new ElysiaAdapter(DASHBOARD_PATH);
  createBullBoard({
    queues: [new BullMQAdapter(queue, { description: 'Every Sluice job type runs on this one queue.' })],
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
