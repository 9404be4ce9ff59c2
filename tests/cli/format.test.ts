/** Table cells from elsewhere (error messages, old job ids) cannot drive the operator's terminal. */
import { expect, test } from 'bun:test';
import { table } from '../../apps/cli/src/format.ts';

test('control characters in cells are shown escaped: no screen clear, no broken row', () => {
  const lines = table(['JOB', 'ERROR'], [['c-delay\u001b[2J\u001b[HFAKE\u009b2J', 'line one\nline two\ttab\u0007\u007f']]);
  expect(lines).toHaveLength(2);
  // C1's CSI (U+009B) and DEL too: JSON.stringify would leave those raw.
  expect(lines[1]).toBe('c-delay\\u001b[2J\\u001b[HFAKE\\u009b2J  line one\\nline two\\ttab\\u0007\\u007f');
  expect(lines.join('')).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
});

test('printable text is left as it is', () => {
  expect(table(['A'], [['émoji 🚀 RTL \u05d0']])[1]).toBe('émoji 🚀 RTL \u05d0');
});
