/** describeError: what a worker puts in the audit stream for a failure is bounded before it reaches Redis, and never throws. */
import { describe, expect, test } from 'bun:test';
import { cutText, describeError, ERROR_TEXT_LIMITS } from '@sluice/queue';

describe('describeError', () => {
  test('a huge name, message and stack are cut to their limits, each saying how much was dropped', () => {
    const error = new Error('m'.repeat(1_000_000));
    error.name = 'N'.repeat(1_000_000);
    error.stack = `${'s'.repeat(20_000)}\n    at somewhere`;
    const described = describeError(error);
    expect(described.name).toBe(`${'N'.repeat(ERROR_TEXT_LIMITS.nameChars)}… [truncated ${1_000_000 - ERROR_TEXT_LIMITS.nameChars} chars]`);
    expect(described.message).toStartWith('m'.repeat(ERROR_TEXT_LIMITS.messageChars));
    expect(described.message).toEndWith(`… [truncated ${1_000_000 - ERROR_TEXT_LIMITS.messageChars} chars]`);
    expect(described.stack!.length).toBeLessThan(ERROR_TEXT_LIMITS.stackChars + 40);
  });

  test('short errors and thrown non-errors are kept as they are', () => {
    expect(describeError(new TypeError('bad input'))).toMatchObject({ name: 'TypeError', message: 'bad input' });
    expect(describeError('plain string')).toEqual({ name: 'Error', message: 'plain string' });
  });

  test('never throws: a part that cannot be read is replaced, and the rest kept', () => {
    const explode = () => {
      throw new Error('exploded');
    };
    const noMessage = Object.defineProperty(new RangeError('never seen'), 'message', { get: explode });
    expect(describeError(noMessage)).toMatchObject({ name: 'RangeError', message: '[unprintable thrown value: [object Error]]' });
    expect(describeError(noMessage).stack).toContain('RangeError');
    const noName = Object.defineProperty(new Error('kept'), 'name', { get: explode });
    expect(describeError(noName)).toMatchObject({ name: 'Error', message: 'kept' });
    expect(describeError(Object.create(null))).toEqual({ name: 'Error', message: '[unprintable thrown value: [object Object]]' });
    expect(describeError({ toString: explode })).toEqual({ name: 'Error', message: '[unprintable thrown value: [object Object]]' });
    const noPrototype = new Proxy({}, { getPrototypeOf: explode });
    expect(describeError(noPrototype).name).toBe('Error');
  });

  test('a thrown non-Error is described by its text, or by what it was', () => {
    expect(describeError({ message: 'plain object' })).toEqual({ name: 'Error', message: 'plain object' });
    expect(describeError(null)).toEqual({ name: 'Error', message: 'handler threw a non-Error value: null' });
    expect(describeError(undefined).message).toBe('handler threw a non-Error value: undefined');
    expect(describeError(Symbol('s')).message).toBe('handler threw a non-Error value: Symbol(s)');
    expect(describeError(7n).message).toBe('handler threw a non-Error value: 7n');
    expect(describeError({ code: 7 }).message).toBe('handler threw a non-Error value: {"code":7}');
    expect(describeError({ toString: () => 'custom text' }).message).toBe('handler threw a non-Error value: custom text');
  });

  test('text cut once is not cut again, and a second cut counts everything dropped', () => {
    const once = cutText('m'.repeat(10_000), 4096);
    expect(once).toBe(`${'m'.repeat(4096)}… [truncated 5904 chars]`);
    // The worker cuts, then the audit writer applies the same limit.
    expect(cutText(once, 4096)).toBe(once);
    expect(cutText(once, 100)).toBe(`${'m'.repeat(100)}… [truncated 9900 chars]`);
    // A message that merely ends like a marker is still cut to the limit.
    const lookalike = `${'m'.repeat(5000)}… [truncated 3 chars]`;
    expect(cutText(lookalike, 4096)).toBe(`${'m'.repeat(4096)}… [truncated 907 chars]`);
    // A "marker" no cut could have written leaves nothing unbounded.
    const forged = `${'x'.repeat(4000)}… [truncated ${'9'.repeat(500_000)} chars]`;
    expect(cutText(forged, 4096).length).toBeLessThan(4096 + 40);
  });

  test('a cut never splits a surrogate pair (Postgres refuses half of one)', () => {
    const text = `${'a'.repeat(9)}🚀🚀`;
    expect(cutText(text, 10)).toBe(`${'a'.repeat(9)}… [truncated 4 chars]`);
  });
});
