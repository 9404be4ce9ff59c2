/** startAuditTrail's close: what it says about records left in Redis (a start that failed closes it without waiting). */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import pino from 'pino';
import { startAuditTrail } from '@sluice/db';
import { postgresDatabase, type TestDatabase } from '../helpers/db.ts';
import { testConfig, uniquePrefix } from '../helpers/env.ts';

let db: TestDatabase;

// Each test starts a trail on a store: on PGlite (where no Postgres runs) opening it takes
// 11-14 s on a loaded two-core machine. Limits, not speed claims.
setDefaultTimeout(120_000);

beforeAll(async () => {
  db = await postgresDatabase('audit_trail_close');
}, 120_000);

afterAll(async () => {
  await db?.drop();
}, 120_000);

/** A logger whose lines the test can read. */
function capturingLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

test('closed without waiting and with nothing waiting: no warning of a backlog', async () => {
  const { log, lines } = capturingLog();
  const trail = await startAuditTrail({ config: testConfig({ QUEUE_PREFIX: uniquePrefix('trail-close'), ...db.env }), log });
  await trail.ready;
  // What a start that cannot listen does: close(0). Before, this always warned, with "backlog": 0.
  await trail.close(0);
  expect(lines.map((line) => line.msg)).toContain('audit writer stopped');
  expect(lines.filter((line) => line.msg === 'audit backlog left in redis for the next start')).toEqual([]);
});
