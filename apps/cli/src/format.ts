/** Plain-text formatting shared by the commands: aligned tables, times, durations. */

/** Left-aligned columns separated by two spaces; trailing spaces trimmed. Control characters in cells are shown escaped. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  rows = rows.map((row) => row.map(printable));
  const widths = headers.map((header, col) => Math.max(header.length, ...rows.map((row) => (row[col] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, col) => cell.padEnd(widths[col]!)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)];
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * `text` with control characters written as escapes (`\n`, `\u001b`): an error message or a
 * job id from elsewhere must not move the cursor, clear the operator's screen or break a row.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const SHORT_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `2026-11-22 09:26:03` in local time. */
export function formatTime(at: Date | number | null | undefined): string {
  if (at === null || at === undefined) return '-';
  const d = new Date(at);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `09:26:03 (in 4s)` today, `2026-11-23 02:00:00 (in 16h 30m)` on another day; `-` for none. */
export function when(at: Date | number | string | null | undefined, now = Date.now()): string {
  if (at === null || at === undefined) return '-';
  const d = new Date(at);
  const full = formatTime(d);
  const clock = full.slice(0, 10) === formatTime(now).slice(0, 10) ? full.slice(11) : full;
  return `${clock} (${relative(d, now)})`;
}

/** `1h 5m`, `42s`, `250ms`: the two largest units, rounded down. */
export function formatDuration(ms: number): string {
  return durationParts(ms).slice(0, 2).join(' ') || `${Math.round(ms)}ms`;
}

/** Every unit, so nothing is lost: `1h 0m 5s`, `10500ms`. For configured intervals. */
export function exactDuration(ms: number): string {
  if (ms % 1000 !== 0) return `${ms}ms`;
  return durationParts(ms).join(' ');
}

function durationParts(ms: number): string[] {
  if (ms < 1000) return [];
  const units: [string, number][] = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [name, size] of units) {
    if (parts.length === 0 && rest < size) continue;
    parts.push(`${Math.floor(rest / size)}${name}`);
    rest %= size;
  }
  while (parts.length > 1 && parts.at(-1)!.startsWith('0')) parts.pop();
  return parts;
}

/** `in 4s` / `12s ago` relative to `now`. */
export function relative(at: Date | number | string | null | undefined, now = Date.now()): string {
  if (at === null || at === undefined) return '';
  const diff = new Date(at).getTime() - now;
  if (Math.abs(diff) < 1000) return 'now';
  return diff > 0 ? `in ${formatDuration(diff)}` : `${formatDuration(-diff)} ago`;
}

/** How a schedule repeats: its cron pattern (and zone) or its interval. */
export function describeRepeat(s: { pattern: string | null; everyMs: number | null; tz: string | null }): string {
  if (s.pattern) return s.tz ? `cron ${s.pattern} (${s.tz})` : `cron ${s.pattern}`;
  return s.everyMs ? `every ${exactDuration(s.everyMs)}` : '-';
}
