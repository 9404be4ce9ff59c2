/**
 * Forbids framing every response (clickjacking). A page on another site that frames the
 * dashboard makes the admin's clicks its writes: inside the frame they are same-origin, so
 * the request guard's cross-site check lets them through. `frame-ancestors` is the current
 * rule; X-Frame-Options covers browsers that predate it. Nothing here is meant to be framed.
 */
import { Elysia } from 'elysia';

export const FRAME_GUARD_HEADERS = {
  'x-frame-options': 'DENY',
  'content-security-policy': "frame-ancestors 'none'",
} as const;

export function createFrameGuard() {
  // Set before any other hook runs, so early answers (401, 403, 400) and errors carry them too.
  return new Elysia({ name: 'frame-guard' }).onRequest(({ set }) => {
    Object.assign(set.headers, FRAME_GUARD_HEADERS);
  });
}
