/** Validates payloads against a job type's schema, compiled once per type. */
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { registerStringFormats } from './formats.ts';
import type { JobRegistry } from './registry.ts';

export interface PayloadProblem {
  /** JSON pointer into the payload, e.g. `/sleepMs`; empty for the whole payload. */
  path: string;
  message: string;
}

export type PayloadValidator = (type: string, data: unknown) => PayloadProblem | null;

export function createPayloadValidator(registry: JobRegistry): PayloadValidator {
  registerStringFormats();
  const compiled = new Map<string, TypeCheck<TSchema>>();
  for (const [type, definition] of Object.entries(registry)) {
    compiled.set(type, TypeCompiler.Compile(definition.schema));
  }
  return (type, data) => {
    const check = compiled.get(type);
    if (!check) return { path: '', message: `unknown job type "${type}"` };
    if (check.Check(data)) return null;
    const first = check.Errors(data).First();
    return { path: first?.path ?? '', message: first?.message ?? 'invalid payload' };
  };
}

/**
 * Deepest nesting of objects and arrays a submitted payload may have. Payloads are data, not
 * linked lists; far deeper ones overflow the stack in BullMQ's serialisation (a 500 instead
 * of a 400) and in the embedded audit store's JSON parser. Checked at submit only, so a job
 * queued before the limit still runs.
 */
export const MAX_PAYLOAD_DEPTH = 1000;

/** The problem with a payload nested deeper than MAX_PAYLOAD_DEPTH, else null. */
export function payloadDepthProblem(data: unknown): PayloadProblem | null {
  return nestsDeeperThan(data, MAX_PAYLOAD_DEPTH) ? { path: '', message: `payload nests objects and arrays deeper than ${MAX_PAYLOAD_DEPTH} levels` } : null;
}

/** Depth-first without recursion, so that the check cannot overflow the stack itself; a cycle counts as too deep. */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
