/**
 * Digest pinning, pure: which environments need a manifest digest, and which digest a promotion carries up the chain
 * instead of asking the registry again. Carrying is the point of pinning: prod runs the bytes staging ran, even if
 * the tag was pushed again since.
 */
import type { Landing } from './history.js';
import type { Environment, PromotionKind } from './types.js';

/** An environment that asks the registry before it writes: to pin the digest, or to refuse a tag the registry lacks. */
export function needsDigest(env: Pick<Environment, 'pin' | 'verifyTag'>): boolean {
  return env.pin === 'digest' || env.verifyTag === true;
}

/**
 * Where a promotion's digest may come from, nearest first: the environments the version came up through (`from`,
 * then its `from`, …) and, for a rollback, the environment itself, which ran that tag before. A pipeline's
 * promotion brings a new build: none, the registry is asked.
 */
export function digestSources(env: Environment, environments: readonly Environment[], kind: PromotionKind): string[] {
  if (kind === 'pipeline') return [];
  const sources = kind === 'rollback' ? [env.name] : [];
  const seen = new Set([env.name]);
  for (let from = env.from; from !== undefined && !seen.has(from); from = environments.find((e) => e.name === from)?.from) {
    seen.add(from);
    sources.push(from);
  }
  return sources;
}

/**
 * The digest Hoist recorded when it landed `app:tag` in one of `sources`: the nearest environment first, its newest
 * landing first (`landings` are newest first). Only Hoist's own signed landings count (landingsOf), and a value
 * that is not a digest (`isDigest`) is passed over.
 */
export function carriedDigest(landings: readonly Landing[], sources: readonly string[], app: string, tag: string, isDigest: (digest: string) => boolean): { digest: string; env: string } | undefined {
  for (const env of sources) {
    const landing = landings.find((l) => l.env === env && l.app === app && l.tag === tag && l.digest !== undefined && isDigest(l.digest));
    if (landing?.digest) return { digest: landing.digest, env };
  }
  return undefined;
}
