/** How deeply a JSON request body may nest, checked on its text before it is parsed. */
import { MAX_PAYLOAD_DEPTH } from '@sluice/jobs';

/**
 * The deepest nesting of objects and arrays a request body may have: the body object itself
 * plus the 1,000 levels a job's `data` may have (MAX_PAYLOAD_DEPTH). Anything deeper would
 * be refused later anyway, but walking it first (Elysia's validation, BullMQ's serialisation)
 * can overflow the stack or take seconds.
 */
export const MAX_BODY_DEPTH = MAX_PAYLOAD_DEPTH + 1;

/**
 * Whether the JSON text `json` opens more than `max` objects and arrays inside each other.
 * One pass over the characters, brackets inside strings skipped, no recursion: cheap on any
 * body the size limit lets in. Malformed text is left for JSON.parse to report.
 */
export function nestsDeeperThan(json: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}
