/** How deeply a JSON request body may nest, checked on its text before it is parsed. */
import { MAX_PAYLOAD_DEPTH } from '@sluice/jobs';

/**
 * The deepest nesting of objects and arrays a request body may have: the body object itself
 * plus the 1,000 levels a job's `data` may have (MAX_PAYLOAD_DEPTH). Anything deeper would
 * be refused later anyway, but walking it first (Elysia's validation, BullMQ's serialisation)
 * can overflow the stack or take seconds.
 */
export const MAX_BODY_DEPTH = MAX_PAYLOAD_DEPTH + 1;

/** One pass over the text, brackets inside strings skipped, no recursion: cheap on any body the size limit lets in. */
export { nestsDeeperThan } from '@sluice/db';
