/** Turns raw samples into per-figure medians and sluice/raw ratios, and renders Markdown. */
import type { BenchOptions } from './options.ts';
import { median, round } from './stats.ts';

export interface Sample {
  round: number;
  system: 'raw' | 'sluice';
  figure: string;
  value: number;
  unit: string;
}

export interface FigureSummary {
  figure: string;
  unit: string;
  raw: number | null;
  sluice: number | null;
  /**
   * sluice / raw: the median of each round's own ratio (both measured back to back), so
   * that a slow spell of the machine moves both sides of a ratio together. > 1 means
   * Sluice is higher (better for rates, worse for latencies).
   */
  ratio: number | null;
  /** How the samples were combined. */
  combine: 'median' | 'total' | 'max';
}

function combineFor(figure: string): FigureSummary['combine'] {
  if (figure.startsWith('lost')) return 'total';
  if (figure.startsWith('peak RSS')) return 'max';
  return 'median';
}

/** Sluice-only figures compared with a raw figure of another name (raw always runs one process). */
const RAW_BASELINE: Record<string, string> = { 'no-op throughput, 2 processes': 'no-op throughput' };

export function summarise(samples: Sample[]): FigureSummary[] {
  const figures = [...new Set(samples.map((s) => s.figure))];
  const valuesOf = (figure: string, system: Sample['system']) =>
    samples.filter((s) => s.figure === figure && s.system === system && Number.isFinite(s.value));
  return figures.map((figure) => {
    const combine = combineFor(figure);
    const pick = (system: Sample['system']) => {
      const values = valuesOf(figure, system).map((s) => s.value);
      if (values.length === 0) return null;
      if (combine === 'total') return values.reduce((a, b) => a + b, 0);
      if (combine === 'max') return Math.max(...values);
      return round(median(values), 2);
    };
    let ratio: number | null = null;
    if (combine === 'median') {
      const rawByRound = new Map(valuesOf(RAW_BASELINE[figure] ?? figure, 'raw').map((s) => [s.round, s.value]));
      const ratios = valuesOf(figure, 'sluice').flatMap((s) => (rawByRound.get(s.round) ? [s.value / rawByRound.get(s.round)!] : []));
      if (ratios.length > 0) ratio = round(median(ratios), 2);
    }
    return { figure, unit: samples.find((s) => s.figure === figure)!.unit, raw: pick('raw'), sluice: pick('sluice'), ratio, combine };
  });
}

export function renderMarkdown(input: {
  summary: FigureSummary[];
  options: BenchOptions;
  machine: Record<string, unknown>;
  startedAt: Date;
}): string {
  const { summary, options, machine, startedAt } = input;
  const cell = (v: number | null) => (v === null ? '–' : String(v));
  const rows = summary.map((f) => `| ${f.figure} | ${f.unit} | ${cell(f.raw)} | ${cell(f.sluice)} | ${f.ratio === null ? '–' : `${f.ratio}x`} |`);
  return [
    `# Sluice benchmark, ${startedAt.toISOString()}`,
    '',
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB; Bun ${machine.bun}, BullMQ ${machine.bullmq}, Redis ${machine.redis} (no persistence), audit store ${machine.auditStore}.`,
    '',
    `Options: ${options.rounds} rounds alternating raw/sluice; ${options.jobs} no-op jobs, ${options.ioJobs} I/O-bound (sleepMs 20), ${options.cpuJobs} CPU-bound (cpuMs 5); concurrency ${options.concurrency} per process; Sluice with ${options.processes} worker processes (raw: 1 process; I/O-bound raw at concurrency ${options.concurrency * options.processes}, the same total); paced latency runs of ${options.latencyMs} ms at ${options.rates.join(', ')} jobs/s.`,
    '',
    'Medians over rounds; sluice/raw is the median of the per-round ratios (the 2-process no-op figure against raw\'s one process); lost counts are totals; RSS is the maximum seen.',
    '',
    '| figure | unit | raw BullMQ | Sluice | sluice/raw |',
    '| --- | --- | ---: | ---: | ---: |',
    ...rows,
    '',
  ].join('\n');
}
