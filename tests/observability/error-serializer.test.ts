/** The logger's error serializer: what an error brings into a log line is bounded, however the error is built. */
import { describe, expect, test } from 'bun:test';
import { boundedErrorSerializer, LOGGED_ERROR_LIMITS } from '@sluice/observability';

const size = (value: unknown) => JSON.stringify(value).length;

describe('boundedErrorSerializer', () => {
  test('an ordinary error keeps its type, message, stack, code and cause', () => {
    const error = Object.assign(new Error('upstream refused', { cause: new Error('ECONNRESET') }), { code: 'E_UPSTREAM' });
    expect(boundedErrorSerializer(error)).toMatchObject({
      type: 'Error',
      message: 'upstream refused: ECONNRESET',
      code: 'E_UPSTREAM',
      stack: expect.stringContaining('Error: upstream refused'),
    });
  });

  test('a long string anywhere in it is cut, saying how much went', () => {
    const error = Object.assign(new Error('HTTP 500'), { body: 'b'.repeat(900_000) });
    const logged = boundedErrorSerializer(error) as { body: string };
    expect(logged.body).toBe(`${'b'.repeat(LOGGED_ERROR_LIMITS.chars)}… [truncated ${900_000 - LOGGED_ERROR_LIMITS.chars} chars]`);
  });

  test('a wide graph with cycles (a client request with its socket and agent) stays small and quick', () => {
    const nodes = Array.from({ length: 40 }, () => ({}) as Record<string, unknown>);
    for (const node of nodes) nodes.forEach((other, i) => (node[`k${i}`] = other));
    // Without a budget this walks 40^5 values.
    const logged = boundedErrorSerializer(Object.assign(new Error('socket hang up'), { request: nodes[0] }));
    expect(size(logged)).toBeLessThan(50_000);
    expect(JSON.stringify(logged)).toContain('[more]');
  });

  test('a cycle is shown once as [Circular], and many long strings share one budget', () => {
    const response: Record<string, unknown> = { status: 500 };
    for (let i = 0; i < 45; i++) response[`h${i}`] = response;
    const cyclic = boundedErrorSerializer(Object.assign(new Error('request failed'), { response }));
    // Before the cycle marks: 107 MB.
    expect(size(cyclic)).toBeLessThan(5_000);
    expect(JSON.stringify(cyclic)).toContain('[Circular]');
    // 50 x 50 x 50 properties, each the same 8 KB string: a gigabyte before the budget.
    const page = 'x'.repeat(8192);
    const level = <T>(make: () => T) => Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, make()]));
    const wide = boundedErrorSerializer(Object.assign(new Error('wide'), { response: level(() => level(() => level(() => page))) }));
    expect(size(wide)).toBeLessThan(LOGGED_ERROR_LIMITS.totalChars + 10_000);
  });

  test('a value that is not an error passes through, strings cut', () => {
    expect(boundedErrorSerializer('plain')).toBe('plain');
    expect(boundedErrorSerializer(42)).toBe(42);
    expect((boundedErrorSerializer('s'.repeat(10_000)) as string).length).toBeLessThan(LOGGED_ERROR_LIMITS.chars + 40);
  });
});
