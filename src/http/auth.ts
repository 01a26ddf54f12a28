import { createHash, timingSafeEqual } from 'node:crypto';

/** The configured secret's digest, kept for the next request: the expected value is the same on every call. */
let expectedDigest: { secret: string; digest: Buffer } | undefined;

/** Compares secrets in constant time, whatever their lengths (hashing first equalises them). */
export function secretsEqual(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  if (expectedDigest?.secret !== expected) expectedDigest = { secret: expected, digest: createHash('sha256').update(expected).digest() };
  return timingSafeEqual(createHash('sha256').update(given).digest(), expectedDigest.digest);
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  return match?.[1]?.trim();
}
