/** `bun run bench` flags, parsed strictly. */
import { parseArgs } from 'node:util';

export interface BenchOptions {
  jobs: number;
  ioJobs: number;
  cpuJobs: number;
  concurrency: number;
  processes: number;
  rounds: number;
  latencyMs: number;
  rates: number[];
  redisPort: number;
  json: boolean;
  out: string | null;
}

export const USAGE = `usage: bun run bench [options]
  --jobs N          no-op jobs per throughput run (default 20000)
  --io-jobs N       sleepMs 20 jobs per I/O-bound run (default 2000)
  --cpu-jobs N      cpuMs 5 jobs per CPU-bound run (default 2000)
  --concurrency C   jobs per worker process (default 100)
  --processes P     Sluice worker processes (default 2)
  --rounds R        raw/sluice alternations (default 5, minimum 1)
  --latency-ms MS   duration of each paced latency run (default 3000)
  --rates LIST      paced loads in jobs/s (default 200,1000,5000)
  --redis-port N    port for the benchmark's own Redis (default 6390)
  --json            print one JSON object with every figure instead of tables
  --out FILE        Markdown report path (default bench/results/<date>.md; "-" for none)`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseBenchArgs(argv: string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        jobs: { type: 'string' }, 'io-jobs': { type: 'string' }, 'cpu-jobs': { type: 'string' },
        concurrency: { type: 'string' }, processes: { type: 'string' }, rounds: { type: 'string' },
        'latency-ms': { type: 'string' }, rates: { type: 'string' }, 'redis-port': { type: 'string' },
        json: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) throw new UsageError('');
  const num = (flag: string, raw: string | undefined, fallback: number, min = 1) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} must be a whole number >= ${min}, got "${raw}"`);
    return n;
  };
  const rates = (values.rates ?? '200,1000,5000').split(',').map((r) => num('rates', r.trim(), 0));
  return {
    jobs: num('jobs', values.jobs, 20_000),
    ioJobs: num('io-jobs', values['io-jobs'], 2000),
    cpuJobs: num('cpu-jobs', values['cpu-jobs'], 2000),
    concurrency: num('concurrency', values.concurrency, 100),
    processes: num('processes', values.processes, 2),
    rounds: num('rounds', values.rounds, 5),
    latencyMs: num('latency-ms', values['latency-ms'], 3000, 100),
    rates,
    redisPort: num('redis-port', values['redis-port'], 6390),
    json: values.json ?? false,
    out: values.out === '-' ? null : (values.out ?? `bench/results/${new Date().toISOString().slice(0, 10)}.md`),
  };
}
