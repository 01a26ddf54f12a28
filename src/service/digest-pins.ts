import type { Logger } from 'pino';
import { carriedDigest, digestSources, needsDigest } from '../domain/digest-pins.js';
import { landingsOf, type Landing } from '../domain/history.js';
import type { Previewer, RepoReader } from '../domain/ports.js';
import { itemsOf, type Environment, type Promotion, type PromotionItem, type PromotionKind } from '../domain/types.js';
import { isHoistError } from '../errors.js';
import { isValidDigest } from '../kustomize/image-ref.js';
import type { RegistryClient } from '../registry/client.js';

export interface DigestPinsDeps {
  environments: readonly Environment[];
  registry: Pick<RegistryClient, 'resolveDigest'>;
  reader: Pick<RepoReader, 'history'>;
  logger: Logger;
}

export interface DigestPins {
  /** Whether the environment writes the digest into its overlay (pin: digest), not only records it. */
  pins(env: string): boolean;
  /**
   * The digests a promotion lands with, by app; undefined when its environment neither pins nor verifies tags.
   * Throws what the registry client throws (a missing tag: `image_not_found`, not retryable).
   */
  resolve(promotion: Promotion): Promise<Record<string, string> | undefined>;
  /** The same for edits that are not a stored promotion (a preview): by app, undefined when the environment needs none. */
  digestsFor(env: string, kind: PromotionKind, items: readonly PromotionItem[], label: string): Promise<Record<string, string> | undefined>;
}

/** How many commits back a digest is looked for in the environments a version came up through. */
const HISTORY_LOOKBACK = 500;

/**
 * Digest resolution for the promotion processor, before any git work: carried from the landing of the same tag in
 * the environment it came from (never asked again), else asked of the registry once per image and tag.
 */
export function createDigestPins(deps: DigestPinsDeps): DigestPins {
  const envNamed = (name: string) => deps.environments.find((e) => e.name === name);
  const digestsFor: DigestPins['digestsFor'] = async (envName, kind, items, label) => {
    const env = envNamed(envName);
    if (!env || !needsDigest(env)) return undefined;
    const sources = digestSources(env, deps.environments, kind);
    // The landing may be seconds old (a gated promotion starts right after it): read the branch as it is now.
    const landings: Landing[] = sources.length > 0 ? landingsOf(await deps.reader.history(sources, HISTORY_LOOKBACK, { maxAgeMs: 0 })) : [];
    const asked = new Map<string, Promise<string>>();
    const ask = (image: string, tag: string): Promise<string> => {
      const key = `${image}:${tag}`;
      let digest = asked.get(key);
      if (!digest) {
        digest = deps.registry.resolveDigest(image, tag);
        asked.set(key, digest);
      }
      return digest;
    };
    const log = deps.logger.child({ promotionId: label, env: env.name });
    const resolved = await Promise.all(
      items.map(async (item) => {
        const carried = carriedDigest(landings, sources, item.app, item.tag, isValidDigest);
        if (carried) {
          log.info({ app: item.app, tag: item.tag, digest: carried.digest, from: carried.env }, 'digest carried from where the version came from');
          return [item.app, carried.digest] as const;
        }
        const digest = await ask(item.image, item.tag);
        log.info({ app: item.app, image: item.image, tag: item.tag, digest }, 'digest resolved by the registry');
        return [item.app, digest] as const;
      }),
    );
    return Object.fromEntries(resolved);
  };
  return {
    pins: (env) => envNamed(env)?.pin === 'digest',
    digestsFor,
    resolve: (promotion) => digestsFor(promotion.env, promotion.source.kind, itemsOf(promotion), promotion.id),
  };
}

/**
 * The board's Promote dialog and `hoist diff` with the digest the promotion would land: a pinned environment's
 * preview shows `newTag` and `digest` as they would be written (not a diff that drops the digest), and a tag the
 * registry does not have is refused there already, with the reason the promotion would fail with.
 */
export function withDigestPreview(previewer: Previewer, pins: DigestPins): Previewer {
  return {
    async preview(edits) {
      const [first] = edits;
      if (!first) return previewer.preview(edits);
      let digests: Record<string, string> | undefined;
      try {
        digests = await pins.digestsFor(first.env, first.source.kind, edits.map((e) => ({ app: e.app, image: e.image, tag: e.tag })), first.promotionId);
      } catch (error) {
        if (isHoistError(error) && !error.retryable) return { outcome: 'refused', reason: error.message, files: [], diff: '' };
        throw error;
      }
      if (!digests) return previewer.preview(edits);
      const pinned = pins.pins(first.env);
      return previewer.preview(edits.map((e) => (digests[e.app] ? { ...e, digest: digests[e.app], pinDigest: pinned } : e)));
    },
  };
}
