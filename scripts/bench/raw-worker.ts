/**
 * The "raw" side of the benchmark: a plain BullMQ Worker with no Sluice code. Its
 * processor does what `echo` does (sleep, burn CPU) and returns when it started.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`raw-worker needs ${name}`);
  return value;
};

const connection = new Redis(env('REDIS_URL'), { maxRetriesPerRequest: null });
const worker = new Worker(
  'jobs',
  async (job) => {
    const startedAt = performance.timeOrigin + performance.now();
    const { sleepMs, cpuMs } = job.data as { sleepMs?: number; cpuMs?: number };
    if (sleepMs) await Bun.sleep(sleepMs);
    if (cpuMs) {
      const end = performance.now() + cpuMs;
      let x = 0;
      while (performance.now() < end) x += Math.sqrt(x + 1);
    }
    return { startedAt };
  },
  { connection, prefix: env('QUEUE_PREFIX'), concurrency: Number(env('BENCH_CONCURRENCY')) },
);
worker.on('error', (error) => process.stderr.write(`raw-worker: ${error.message}\n`));

process.on('SIGTERM', async () => {
  await worker.close();
  connection.disconnect();
  process.exit(0);
});
