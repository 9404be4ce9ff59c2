/** `--since`/`--until` times as the local clock reads them, in zones whose clocks jump or repeat. */
import { afterEach, expect, test } from 'bun:test';
import { instant, writtenAt } from '../../apps/cli/src/time-flag.ts';

const zoneBefore = process.env.TZ;
afterEach(() => {
  // Assigning undefined would set the zone "undefined" for every later file in this run.
  if (zoneBefore === undefined) delete process.env.TZ;
  else process.env.TZ = zoneBefore;
});

/** `value` read as `--since` (start) and `--until` (end) in `zone`. */
function range(zone: string, value: string): [string, string] {
  process.env.TZ = zone;
  return [instant('since', value), instant('until', value, { end: true })];
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

test('a local time the clocks skip starts, or ends just before, where they jumped', () => {
  // New York jumps from 02:00 to 03:00 on 2026-03-08 (07:00Z): a row printed 03:10 is after --since 02:30, not before --until 02:30.
  expect(range('America/New_York', '2026-03-08 02:30')).toEqual(['2026-03-08T07:00:00.000Z', '2026-03-08T06:59:59.999Z']);
  expect(range('America/New_York', '2026-03-08 02:59:59.500')).toEqual(['2026-03-08T07:00:00.000Z', '2026-03-08T06:59:59.999Z']);
  // The gap's first minute too, which Date reads as the jump itself.
  expect(range('America/New_York', '2026-03-08 02:00')).toEqual(['2026-03-08T07:00:00.000Z', '2026-03-08T06:59:59.999Z']);
  // Lord Howe Island jumps half an hour, from 02:00 to 02:30 on 2026-10-04 (15:30Z the day before).
  expect(range('Australia/Lord_Howe', '2026-10-04 02:15')).toEqual(['2026-10-03T15:30:00.000Z', '2026-10-03T15:29:59.999Z']);
  // The minute after the jump is itself.
  expect(range('America/New_York', '2026-03-08 03:00')).toEqual(['2026-03-08T07:00:00.000Z', '2026-03-08T07:00:59.999Z']);
  // As written, whatever the zone: the order the user meant, for telling an empty range from a reversed one.
  process.env.TZ = 'America/New_York';
  expect(writtenAt('2026-03-08 02:30')).toBe(Date.UTC(2026, 2, 8, 2, 30));
  expect(writtenAt('2026-03-08 02:30', { end: true })).toBe(Date.UTC(2026, 2, 8, 2, 31) - 1);
  expect(writtenAt('2026-09-06', { end: true })).toBe(Date.UTC(2026, 8, 7) - 1);
  expect([writtenAt('2026-03-08T02:30:00Z'), writtenAt('2h')]).toEqual([null, null]);
});

test('digits past the millisecond are kept, for the store to read to the microsecond', () => {
  expect(range('America/New_York', '2026-12-01T03:00:00.1234567Z')).toEqual(['2026-12-01T03:00:00.1234567Z', '2026-12-01T03:00:00.1234567Z']);
  expect(range('Asia/Kolkata', '2026-12-01 03:00:00.000250')).toEqual(['2026-11-30T21:30:00.000250Z', '2026-11-30T21:30:00.000250Z']);
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
  // A range that lies wholly past either end matches nothing: refused, not moved onto the edge rows.
  process.env.TZ = 'America/New_York';
  expect(() => instant('since', '9999-12-31 20:00')).toThrow('--since 9999-12-31 20:00 is after 9999-12-31T23:59:59.999Z, outside what the audit table holds');
  process.env.TZ = 'Pacific/Chatham';
  expect(() => instant('until', '0001-01-01 12:00', { end: true })).toThrow('--until 0001-01-01 12:00 is before 0001-01-01T00:00:00Z');
});

test('a span ago counts back from now', () => {
  const now = Date.UTC(2026, 11, 2, 12);
  expect(instant('since', '90s', { now })).toBe('2026-12-02T11:58:30.000Z');
  expect(instant('since', '2h', { now })).toBe('2026-12-02T10:00:00.000Z');
  expect(instant('until', '7d', { now, end: true })).toBe('2026-11-25T12:00:00.000Z');
});
