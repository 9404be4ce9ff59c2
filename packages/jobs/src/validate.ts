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
