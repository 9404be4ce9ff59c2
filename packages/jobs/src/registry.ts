/**
 * The job registry: type name -> definition. `JobType` and `JobData<T>` are inferred
 * from it. Built-ins that come with later features (`watchChain`, `deployMulticall3`,
 * `cleanupAuditLog`) are added here, one file each, and nowhere else.
 */
import type { Static } from '@sinclair/typebox';
import type { JobDefinition } from './define-job.ts';
import { cleanupAuditLog } from './cleanup-audit-log.ts';
import { echo } from './echo.ts';

export const jobRegistry = {
  echo,
  cleanupAuditLog,
} satisfies Record<string, JobDefinition<any, any>>;

export type JobRegistry = Record<string, JobDefinition<any, any>>;
export type DefaultRegistry = typeof jobRegistry;
export type JobType<R extends JobRegistry = DefaultRegistry> = keyof R & string;
export type JobData<T extends JobType<R>, R extends JobRegistry = DefaultRegistry> = Static<R[T]['schema']>;
/**
 * The payload `submit` takes for T: for one type, `JobData<T>`; for a union of types (a `type`
 * whose value the compiler cannot pin down), only a payload every one of them accepts, since
 * any of them may be the one queued.
 */
export type JobDataForEach<T extends JobType<R>, R extends JobRegistry = DefaultRegistry> = [
  T extends unknown ? (box: { data: JobData<T, R> }) => void : never,
] extends [(box: infer Box) => void]
  ? Box extends { data: infer D }
    ? D
    : never
  : never;
export type JobResult<T extends JobType<R>, R extends JobRegistry = DefaultRegistry> = Awaited<ReturnType<R[T]['run']>>;
