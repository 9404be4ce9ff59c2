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
  /** sluice / raw; > 1 means Sluice is higher (better for rates, worse for latencies). */
  ratio: number | null;
  /** How the samples were combined. */
  combine: 'median' | 'total' | 'max';
}

function combineFor(figure: string): FigureSummary['combine'] {
  if (figure.startsWith('lost')) return 'total';
  if (figure.startsWith('peak RSS')) return 'max';
  return 'median';
}

export function summarise(samples: Sample[]): FigureSummary[] {
  const figures = [...new Set(samples.map((s) => s.figure))];
  return figures.map((figure) => {
    const combine = combineFor(figure);
    const pick = (system: Sample['system']) => {
      const values = samples.filter((s) => s.figure === figure && s.system === system).map((s) => s.value).filter(Number.isFinite);
      if (values.length === 0) return null;
      if (combine === 'total') return values.reduce((a, b) => a + b, 0);
      if (combine === 'max') return Math.max(...values);
      return round(median(values), 2);
    };
    const raw = pick('raw');
    const sluice = pick('sluice');
    const ratio = raw && sluice !== null && combine === 'median' ? round(sluice / raw, 2) : null;
    return { figure, unit: samples.find((s) => s.figure === figure)!.unit, raw, sluice, ratio, combine };
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
    'Medians over rounds; lost counts are totals; RSS is the maximum seen.',
    '',
    '| figure | unit | raw BullMQ | Sluice | sluice/raw |',
    '| --- | --- | ---: | ---: | ---: |',
    ...rows,
    '',
  ].join('\n');
}
