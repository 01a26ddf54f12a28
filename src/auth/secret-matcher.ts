import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * A constant-time check against one configured secret, whatever the lengths (hashing first equalises them).
 * The secret's own digest is computed once, when the matcher is made, not per request.
 */
export function secretMatcher(expected: string): (given: string | undefined) => boolean {
  const digest = createHash('sha256').update(expected).digest();
  return (given) => given !== undefined && timingSafeEqual(createHash('sha256').update(given).digest(), digest);
}
