/** Forks and restarts worker processes. Job logic lives in the worker entry it is given. */
import { EventEmitter } from 'node:events';
import type { Subprocess } from 'bun';
import type { Logger } from '@sluice/observability';
import { isChildMessage, WORKER_SLOT_ENV, type ParentMessage } from './protocol.ts';
import { DEFAULT_LIVENESS_POLICY, livenessCheckIntervalMs, livenessVerdict, type LivenessPolicy } from './liveness-policy.ts';
import { CrashTracker, DEFAULT_RESTART_POLICY, type RestartPolicy } from './restart-policy.ts';

/** `unresponsive`: was ready, but its heartbeats stopped coming (stopped, or its event loop is blocked). */
export type ChildState = 'starting' | 'ready' | 'unresponsive' | 'backoff' | 'stopping' | 'stopped';

export interface ChildSnapshot {
  slot: number;
  pid: number | null;
  state: ChildState;
  restarts: number;
  startedAt: Date | null;
  lastHeartbeatAt: Date | null;
  activeJobs: number;
  processed: number;
  rssBytes: number | null;
}

export interface SupervisorOptions {
  /** Script each subprocess runs with the current Bun executable. */
  entry: string;
  count: number;
  log: Logger;
  /** Extra environment for the children, on top of this process's. */
  env?: Record<string, string>;
  /** How long children may drain active jobs on stop. */
  shutdownTimeoutMs: number;
  restartPolicy?: Partial<RestartPolicy>;
  /** When a silent child stops counting as ready, and when it is killed. */
  livenessPolicy?: Partial<LivenessPolicy>;
}

export interface SupervisorExit {
  code: number;
  reason: string;
}

interface Slot extends ChildSnapshot {
  proc: Subprocess | null;
  tracker: CrashTracker;
  restartTimer: ReturnType<typeof setTimeout> | null;
  lastStderr: string[];
  /** When the child last said anything (spawned, ready, heartbeat), in ms since the epoch. */
  lastHeardAt: number;
  /** Killed by the supervisor for not answering: its exit says so. */
  killedUnresponsive: boolean;
}

type Events = { 'child-ready': [ChildSnapshot]; 'child-exit': [ChildSnapshot, number | null]; exit: [SupervisorExit] };

export class Supervisor extends EventEmitter<Events> {
  private readonly slots: Slot[] = [];
  private stopping = false;
  private finished: SupervisorExit | null = null;
  /** Resolves when the supervisor has stopped, with the exit code the process should use. */
  readonly done: Promise<SupervisorExit>;
  private resolveDone!: (exit: SupervisorExit) => void;
  private readonly policy: RestartPolicy;
  private readonly liveness: LivenessPolicy;
  private livenessTimer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly options: SupervisorOptions) {
    super();
    this.policy = { ...DEFAULT_RESTART_POLICY, ...options.restartPolicy };
    this.liveness = { ...DEFAULT_LIVENESS_POLICY, ...options.livenessPolicy };
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  start(): void {
    for (let slot = 1; slot <= this.options.count; slot++) {
      const state: Slot = {
        slot, pid: null, state: 'starting', restarts: 0, startedAt: null, lastHeartbeatAt: null,
        activeJobs: 0, processed: 0, rssBytes: null, proc: null, tracker: new CrashTracker(this.policy),
        restartTimer: null, lastStderr: [], lastHeardAt: Date.now(), killedUnresponsive: false,
      };
      this.slots.push(state);
      this.spawn(state);
    }
    this.watchLiveness();
    this.options.log.info({ count: this.options.count }, 'supervisor started');
  }

  snapshot(): ChildSnapshot[] {
    return this.slots.map(({ proc: _p, tracker: _t, restartTimer: _r, lastStderr: _l, lastHeardAt: _h, killedUnresponsive: _k, ...rest }) => ({ ...rest }));
  }

  /** Asks every child to drain and exit; resolves once all have. Safe to call twice. */
  async stop(): Promise<SupervisorExit> {
    if (!this.stopping) {
      this.stopping = true;
      this.options.log.info('supervisor stopping: workers finish active jobs');
      await this.stopChildren();
      this.finish({ code: 0, reason: 'stopped' });
    }
    return this.done;
  }

  private spawn(slot: Slot): void {
    const proc = Bun.spawn({
      cmd: [process.execPath, this.options.entry],
      env: { ...process.env, ...this.options.env, [WORKER_SLOT_ENV]: String(slot.slot) },
      stdio: ['ignore', 'inherit', 'pipe'],
      serialization: 'json',
      ipc: (message) => this.onMessage(slot, message),
      onExit: (_proc, exitCode, signalCode) => this.onExit(slot, exitCode, signalCode),
    });
    Object.assign(slot, { proc, pid: proc.pid, state: 'starting', startedAt: new Date(), lastHeartbeatAt: null, activeJobs: 0, lastHeardAt: Date.now(), killedUnresponsive: false });
    slot.lastStderr = [];
    void this.forwardStderr(slot, proc);
  }

  /** Children's stderr goes to ours; the last lines are kept to explain a crash loop. */
  private async forwardStderr(slot: Slot, proc: Subprocess): Promise<void> {
    const stream = proc.stderr as ReadableStream<Uint8Array>;
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      process.stderr.write(chunk);
      const lines = decoder.decode(chunk, { stream: true }).split('\n').filter(Boolean);
      slot.lastStderr = [...slot.lastStderr, ...lines].slice(-STDERR_LINES_KEPT);
    }
  }

  private onMessage(slot: Slot, message: unknown): void {
    if (!isChildMessage(message)) return;
    const silentForMs = Date.now() - slot.lastHeardAt;
    slot.lastHeardAt = Date.now();
    if (slot.state === 'unresponsive' && !slot.killedUnresponsive) {
      slot.state = 'ready';
      this.options.log.info({ slot: slot.slot, workerPid: slot.pid, silentForMs }, 'worker process answering again');
    }
    if (message.type === 'ready') {
      slot.state = this.stopping ? 'stopping' : 'ready';
      this.options.log.info({ slot: slot.slot, workerPid: slot.pid }, 'worker process ready');
      this.emit('child-ready', this.snapshot()[slot.slot - 1]!);
    } else if (message.type === 'heartbeat') {
      Object.assign(slot, { lastHeartbeatAt: new Date(), activeJobs: message.active, processed: message.processed, rssBytes: message.rssBytes });
    }
  }

  /**
   * A ready child that stops sending heartbeats (SIGSTOP, an event loop blocked by a
   * synchronous handler) no longer counts as ready; silent past the kill timeout, it is
   * killed and restarted like a crashed one. Starting and stopping children send none.
   */
  private watchLiveness(): void {
    const intervalMs = livenessCheckIntervalMs(this.liveness);
    let lastCheckAt = Date.now();
    this.livenessTimer = setInterval(() => {
      const now = Date.now();
      const late = now - lastCheckAt > 3 * intervalMs;
      lastCheckAt = now;
      // Our own event loop was blocked: heartbeats may be waiting unread in the pipes, and
      // timers run before I/O. Judge on the next check, after they have been read.
      if (late) return;
      for (const slot of this.slots) this.checkLiveness(slot, now);
    }, intervalMs);
  }

  private checkLiveness(slot: Slot, now: number): void {
    if ((slot.state !== 'ready' && slot.state !== 'unresponsive') || !slot.proc || slot.killedUnresponsive) return;
    const silentForMs = now - slot.lastHeardAt;
    const verdict = livenessVerdict(silentForMs, this.liveness);
    if (verdict === 'answering') return;
    // What the last heartbeat said: a job that started after it, and has held the loop since,
    // is not in it. Named so, not `activeJobs`, which read as "hung while idle".
    const context = { slot: slot.slot, workerPid: slot.pid, silentForMs, activeJobsAtLastHeartbeat: slot.activeJobs };
    if (slot.state === 'ready') {
      slot.state = 'unresponsive';
      this.options.log.warn(
        { ...context, heartbeatTimeoutMs: this.liveness.heartbeatTimeoutMs, killAfterMs: this.liveness.heartbeatKillTimeoutMs || null },
        'worker process unresponsive: no heartbeat; not counted as ready',
      );
    }
    if (verdict === 'kill') {
      slot.killedUnresponsive = true;
      this.options.log.error(context, 'worker process still unresponsive; killing it');
      slot.proc.kill('SIGKILL');
    }
  }

  private onExit(slot: Slot, exitCode: number | null, signalCode: unknown): void {
    const upForMs = slot.startedAt ? Date.now() - slot.startedAt.getTime() : 0;
    Object.assign(slot, { proc: null, pid: null, activeJobs: 0 });
    this.emit('child-exit', this.snapshot()[slot.slot - 1]!, exitCode);
    if (this.stopping) {
      slot.state = 'stopped';
      return;
    }
    const how = slot.killedUnresponsive ? `killed (${signalCode ?? exitCode}) for not answering` : signalCode ? `signal ${signalCode}` : `code ${exitCode}`;
    const delayMs = slot.tracker.recordCrash(Date.now(), upForMs);
    if (delayMs === null) {
      const tail = slot.lastStderr.length ? `; last output: ${crashOutput(slot.lastStderr).join(' | ')}` : '';
      const reason = `worker ${slot.slot} crashed ${slot.tracker.recentCrashes} times within ${this.policy.windowMs} ms (last exit: ${how})${tail}`;
      this.options.log.fatal({ slot: slot.slot }, 'worker crash loop; supervisor giving up');
      void this.giveUp(reason);
      return;
    }
    slot.state = 'backoff';
    slot.restarts++;
    this.options.log.warn({ slot: slot.slot, exit: how, restartInMs: delayMs, restarts: slot.restarts }, 'worker process exited; restarting');
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      if (!this.stopping) this.spawn(slot);
    }, delayMs);
  }

  private async giveUp(reason: string): Promise<void> {
    this.stopping = true;
    await this.stopChildren();
    this.finish({ code: 1, reason });
  }

  private async stopChildren(): Promise<void> {
    // Draining children send no heartbeats; the hard kill below covers a hung one.
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    this.livenessTimer = null;
    const { shutdownTimeoutMs } = this.options;
    const message: ParentMessage = { type: 'shutdown', timeoutMs: shutdownTimeoutMs };
    await Promise.all(
      this.slots.map(async (slot) => {
        if (slot.restartTimer) clearTimeout(slot.restartTimer);
        slot.state = slot.proc ? 'stopping' : 'stopped';
        const proc = slot.proc;
        if (!proc) return;
        try {
          proc.send(message);
        } catch {
          proc.kill('SIGTERM');
        }
        // The child enforces the drain timeout itself; this is the backstop for a hung child.
        // Capped at what a timer can hold: a longer delay fires at once and would kill the draining child.
        const hardKillMs = Math.min(2_147_483_647, shutdownTimeoutMs + 5000);
        const hardKill = setTimeout(() => {
          // Its own timeout did not fire: a handler blocks its event loop. Said here, since it cannot say so itself.
          this.options.log.error(
            { slot: slot.slot, workerPid: proc.pid, waitedMs: hardKillMs },
            'worker process did not stop after the shutdown timeout; killing it (its jobs are left for stalled-job recovery)',
          );
          proc.kill('SIGKILL');
        }, hardKillMs);
        await proc.exited;
        clearTimeout(hardKill);
      }),
    );
  }

  private finish(exit: SupervisorExit): void {
    if (this.finished) return;
    this.finished = exit;
    this.emit('exit', exit);
    this.resolveDone(exit);
  }
}

/** Enough of a child's stderr to still hold the error line above a stack trace and source excerpt. */
const STDERR_LINES_KEPT = 40;

/**
 * The lines that explain a crash: the last error line (`TypeError: ...`, `error: ...`), which
 * Bun prints above the stack, followed by the last two lines. The last lines alone are
 * mostly stack frames and `Bun v1.x (Linux x64)`.
 */
export function crashOutput(lines: readonly string[]): string[] {
  const last = lines.slice(-2).map((line) => line.trim());
  const errorLine = lines.findLast((line) => /^\s*(\w*Error\b|error:)/.test(line))?.trim();
  return errorLine && !last.includes(errorLine) ? [errorLine, ...last] : last.length ? lines.slice(-3).map((line) => line.trim()) : [];
}

