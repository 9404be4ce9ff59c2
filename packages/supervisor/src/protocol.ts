/** Messages between the supervisor and its worker subprocesses (JSON over Bun IPC). */

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'heartbeat'; active: number; processed: number; rssBytes: number }
  | { type: 'stopped'; drained: boolean };

export type ParentMessage = { type: 'shutdown'; timeoutMs: number };

/** Environment variable that tells a subprocess its slot number (1-based). */
export const WORKER_SLOT_ENV = 'SLUICE_WORKER_SLOT';

export function isChildMessage(value: unknown): value is ChildMessage {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}
