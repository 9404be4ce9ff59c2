/** `--since`/`--until` times as the local clock reads them, in zones whose clocks jump or repeat. */
import { afterEach, expect, test } from 'bun:test';
import { instant } from '../../apps/cli/src/time-flag.ts';

const zoneBefore = process.env.TZ;
afterEach(() => {
  // Assigning undefined would set the zone "undefined" for every later file in this run.
  if (zoneBefore === undefined) delete process.env.TZ;
  else process.env.TZ = zoneBefore;
});

/** `value` read as `--since` (start) and `--until` (end) in `zone`, as ISO strings. */
function range(zone: string, value: string): [string, string] {
  process.env.TZ = zone;
  return [instant('since', value).toISOString(), instant('until', value, { end: true }).toISOString()];
}

test('a day is local midnight to the next local midnight, when daylight saving skips midnight too', () => {
  expect(range('UTC', '2026-12-31')).toEqual(['2026-12-31T00:00:00.000Z', '2026-12-31T23:59:59.999Z']);
  expect(range('Asia/Kolkata', '2026-12-01')).toEqual(['2026-11-30T18:30:00.000Z', '2026-12-01T18:29:59.999Z']);
  // Santiago skips 00:00-01:00 on 2026-09-06: that day starts at 01:00 and ends at midnight, 23 hours later.
  expect(range('America/Santiago', '2026-09-06')).toEqual(['2026-09-06T04:00:00.000Z', '2026-09-07T02:59:59.999Z']);
  // New York's spring-forward day has 23 hours, its fall-back day 25.
  expect(range('America/New_York', '2026-03-08')).toEqual(['2026-03-08T05:00:00.000Z', '2026-03-09T03:59:59.999Z']);
  expect(range('America/New_York', '2026-11-01')).toEqual(['2026-11-01T04:00:00.000Z', '2026-11-02T04:59:59.999Z']);
});

test('a minute or second the clocks pass twice starts at the first pass and ends at the second', () => {
  expect(range('America/New_York', '2026-11-01 01:30')).toEqual(['2026-11-01T05:30:00.000Z', '2026-11-01T06:30:59.999Z']);
  expect(range('America/New_York', '2026-11-01 01:30:15')).toEqual(['2026-11-01T05:30:15.000Z', '2026-11-01T06:30:15.999Z']);
  // Lord Howe Island repeats half an hour.
  expect(range('Australia/Lord_Howe', '2026-04-05 01:45')).toEqual(['2026-04-04T14:45:00.000Z', '2026-04-04T15:15:59.999Z']);
  // Troll (Antarctica) repeats two hours.
  expect(range('Antarctica/Troll', '2026-10-25 01:30')).toEqual(['2026-10-24T23:30:00.000Z', '2026-10-25T01:30:59.999Z']);
  // Any other time passes once.
  expect(range('America/New_York', '2026-11-01 03:30')).toEqual(['2026-11-01T08:30:00.000Z', '2026-11-01T08:30:59.999Z']);
});

test('zoned times ignore the local zone; milliseconds are exact at both ends', () => {
  expect(range('America/New_York', '2026-12-01T01:00:00+05:00')).toEqual(['2026-11-30T20:00:00.000Z', '2026-11-30T20:00:00.999Z']);
  expect(range('Asia/Kolkata', '2026-12-01T03:00Z')).toEqual(['2026-12-01T03:00:00.000Z', '2026-12-01T03:00:59.999Z']);
  expect(range('Asia/Kolkata', '2026-12-01 03:00:00.25')).toEqual(['2026-11-30T21:30:00.250Z', '2026-11-30T21:30:00.250Z']);
});

test("year 1's first and year 9999's last day are kept whole whatever the zone; earlier or later is refused", () => {
  expect(range('Asia/Kolkata', '0001-01-01')[0]).toBe('0001-01-01T00:00:00.000Z');
  expect(range('America/New_York', '9999-12-31')[1]).toBe('9999-12-31T23:59:59.999Z');
  process.env.TZ = 'UTC';
  for (const value of ['0000-06-01', '0000-12-31 12:00', '10000-01-01', '2026-02-30T00:00:00Z', '2026-12-01T03:00+24:00', '99999999999d']) {
    expect(() => instant('since', value)).toThrow(`--since must be a time like`);
  }
});

test('a span ago counts back from now', () => {
  const now = Date.UTC(2026, 11, 2, 12);
  expect(instant('since', '90s', { now }).toISOString()).toBe('2026-12-02T11:58:30.000Z');
  expect(instant('since', '2h', { now }).toISOString()).toBe('2026-12-02T10:00:00.000Z');
  expect(instant('until', '7d', { now, end: true }).toISOString()).toBe('2026-11-25T12:00:00.000Z');
});
