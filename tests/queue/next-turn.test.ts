/** nextTurn: jobs finishing in one event-loop turn share one wait, which ends after that turn. */
import { expect, test } from 'bun:test';
import { nextTurn } from '@sluice/queue';

test('calls in the same turn share one promise; the next turn gets a new one', async () => {
  const first = nextTurn();
  expect(nextTurn()).toBe(first);
  await first;
  const second = nextTurn();
  expect(second).not.toBe(first);
  await second;
});

test('it resolves after everything the turn already queued, not within the turn', async () => {
  const order: string[] = [];
  const waited = nextTurn().then(() => order.push('turn ended'));
  await Promise.resolve();
  order.push('same turn');
  setImmediate(() => order.push('queued after'));
  await waited;
  expect(order).toEqual(['same turn', 'turn ended']);
  await new Promise((resolve) => setImmediate(resolve));
  expect(order).toEqual(['same turn', 'turn ended', 'queued after']);
});
