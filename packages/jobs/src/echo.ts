/** `echo`: returns its message. Knobs for I/O wait, CPU burn and scripted failures drive tests and benchmarks. */
import { Type } from '@sinclair/typebox';
import { defineJob } from './define-job.ts';
import { PermanentError } from './errors.ts';

export const EchoData = Type.Object(
  {
    message: Type.String({ maxLength: 10_000 }),
    /** Awaited sleep, like waiting on I/O. */
    sleepMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
    /** Busy loop on the event loop, like CPU-bound work. */
    cpuMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
    /** Fail (retryably) on the first N attempts. */
    failTimes: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    /** Throw a PermanentError (no retries) after sleeping and burning CPU. */
    failPermanently: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const echo = defineJob({
  description: 'Returns its message; can sleep, burn CPU or fail on purpose.',
  schema: EchoData,
  priority: 'normal',
  async run({ data, job, ctx }) {
    const startedAt = nowMs();
    if (data.sleepMs) await sleep(data.sleepMs, ctx.signal);
    if (data.cpuMs) burnCpu(data.cpuMs);
    if (data.failPermanently) throw new PermanentError('echo failing permanently on purpose');
    if (data.failTimes && job.attempt <= data.failTimes) {
      throw new Error(`echo failing on purpose (attempt ${job.attempt} of ${data.failTimes} planned failures)`);
    }
    // pid and the run window (epoch ms, fractional) let tests and benchmarks see where and when it ran.
    return { message: data.message, pid: process.pid, startedAt, finishedAt: nowMs() };
  },
});

/** Epoch ms with sub-millisecond precision, comparable across processes on one host. */
const nowMs = () => performance.timeOrigin + performance.now();

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

function burnCpu(ms: number): void {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
}
