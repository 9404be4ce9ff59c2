/** Turns a MonitorSnapshot into plain aligned text, one section per function so sections can be added. */
import { JOB_STATES } from '@sluice/queue';
import { describeRepeat, formatTime, relative, table, when } from '../format.ts';
import type { MonitorSnapshot } from './snapshot.ts';

export type Section = (snapshot: MonitorSnapshot, now: number) => string[];

export function renderHeader(s: MonitorSnapshot): string[] {
  const redis = s.redis.status === 'up' ? `up, ${s.redis.latencyMs}ms` : `DOWN: ${s.redis.error ?? 'no answer'}`;
  const state = s.paused ? 'PAUSED (workers take no new jobs)' : 'running';
  return [
    `Sluice queue "${s.queue}" (prefix ${s.prefix})  ${formatTime(new Date(s.at))}`,
    `Redis ${s.redis.url} (${redis})  queue ${state}  last processed ${s.lastProcessedAt ? relative(new Date(s.lastProcessedAt), new Date(s.at).getTime()) : 'never'}`,
  ];
}

export function renderCounts(s: MonitorSnapshot): string[] {
  const rows = table([...JOB_STATES], [JOB_STATES.map((state) => String(s.counts[state]))]);
  return ['Jobs per state', ...rows.map((row) => `  ${row}`)];
}

export function renderJobs(s: MonitorSnapshot, now: number): string[] {
  if (s.jobs.length === 0) return ['Next jobs', '  none active, waiting, prioritized or delayed'];
  // The id goes last: scheduler-made ids are long, and a narrow window cuts the end of a line.
  const rows = s.jobs.map((job) => [
    job.state,
    job.type,
    job.priority,
    when(job.addedAt, now),
    job.runAt ? when(job.runAt, now) : '-',
    job.attemptsMade > 0 ? String(job.attemptsMade) : '-',
    job.id,
  ]);
  const shown = s.jobs.length;
  const queued = s.counts.active + s.counts.waiting + s.counts.prioritized + s.counts.delayed;
  const title = shown < queued ? `Next jobs (${shown} of ${queued})` : 'Next jobs';
  return [title, ...table(['STATE', 'TYPE', 'PRIORITY', 'ADDED', 'RUNS AT', 'TRIED', 'ID'], rows).map((row) => `  ${row}`)];
}

export function renderSchedules(s: MonitorSnapshot, now: number): string[] {
  if (s.schedules.length === 0) return ['Schedules', '  none (bun run queue:scheduler setup <test|production>, or queue:add --every/--cron)'];
  const rows = s.schedules.map((schedule) => [
    schedule.key,
    schedule.type,
    describeRepeat(schedule),
    when(schedule.next, now),
  ]);
  return [`Schedules (${s.schedules.length})`, ...table(['KEY', 'TYPE', 'REPEAT', 'NEXT RUN'], rows).map((row) => `  ${row}`)];
}

/** The sections, top to bottom. */
export const SECTIONS: readonly Section[] = [renderHeader, renderCounts, renderJobs, renderSchedules];

export function renderSnapshot(s: MonitorSnapshot, now = Date.now(), sections: readonly Section[] = SECTIONS): string[] {
  return sections.flatMap((section, i) => (i === 0 ? section(s, now) : ['', ...section(s, now)]));
}
