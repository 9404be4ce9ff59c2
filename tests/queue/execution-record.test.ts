/** describeError: what a worker puts in the audit stream for a failure is bounded before it reaches Redis. */
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

  test('a cut never splits a surrogate pair (Postgres refuses half of one)', () => {
    const text = `${'a'.repeat(9)}🚀🚀`;
    expect(cutText(text, 10)).toBe(`${'a'.repeat(9)}… [truncated 4 chars]`);
  });
});
