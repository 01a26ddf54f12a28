import type { Logger } from 'pino';
import type { EditOutcome, ImageEdit, RepoWriter } from '../domain/ports.js';
import { itemsOf, TERMINAL_STATES, targetKey, type Promotion, type Target } from '../domain/types.js';
import { HoistError, toHoistError } from '../errors.js';
import type { KeyedBatcher } from '../queue/keyed-batch.js';
import type { PromotionStore } from '../store/promotion-store.js';
import type { DigestPins } from './digest-pins.js';
import { promotionJobSchema } from './promotion-job.js';

export interface JobContext {
  data: unknown;
  /** Attempts BullMQ made before this one. */
  attemptsMade: number;
  /** Attempts BullMQ will make in all. */
  maxAttempts: number;
}

export interface PromotionResult {
  state: Promotion['state'];
  commit?: string | undefined;
  reason?: string | undefined;
}

export interface ProcessorDeps {
  store: PromotionStore;
  batcher: KeyedBatcher;
  /** The writer of one GitOps repository and branch. */
  writerFor(target: Target): RepoWriter;
  /** Where an app lives in an environment (the environment's repository, or the app's own there). */
  targetOf(env: string, app: string): Target;
  logger: Logger;
  /** Called once per promotion that landed, e.g. to start gated promotions further up the chain. */
  onCommitted?: (promotion: Promotion) => Promise<void>;
  /** Called when a promotion's merge request is open (write: merge-request), to follow it until merged. */
  onAwaitingMerge?: (promotion: Promotion) => Promise<void>;
  /** Called once per promotion that reached an end state in a batch (metrics). */
  onSettled?: (promotion: Promotion) => void;
  /** Digest pinning and verifyTag; absent when no environment needs digests. */
  digests?: DigestPins | undefined;
}

/**
 * The image edits of a stored promotion: one per app (several for a release train), each where its app lives, with
 * the digest the promotion resolved (written into the overlay where `pins` says the environment pins digests).
 */
export function toEdits(p: Promotion, targetOf: (env: string, app: string) => Target, pins?: (env: string) => boolean): ImageEdit[] {
  const items = itemsOf(p);
  return items.map((item) => ({
    ...(p.digests?.[item.app] ? { digest: p.digests[item.app], pinDigest: pins?.(p.env) ?? false } : {}),
    promotionId: p.id,
    app: item.app,
    env: p.env,
    path: p.path,
    target: targetOf(p.env, item.app),
    image: item.image,
    tag: item.tag,
    source: p.source,
    requestedBy: p.source.kind === 'manual' || p.source.kind === 'rollback' ? `${p.source.by} (${p.source.via})` : undefined,
    approvedBy: p.approvals?.map((a) => a.by),
    // attempts counts worker starts; a second start means an earlier one may have pushed before dying.
    mayHaveLanded: p.attempts > 1,
    createdAt: p.createdAt,
  }));
}

const targetsOf = (edits: readonly ImageEdit[]): Target[] => [...new Map(edits.map((e) => [targetKey(e.target), e.target])).values()];

/**
 * A release train whose apps live in several repositories lands as one commit per repository, each on its own
 * writer; the promotion ends once every repository has answered: committed when all landed, failed when any failed
 * (the others' commits stay: history is never rewritten, and the reason says which landed).
 */
function acrossTargets(promotionId: string, landed: ReadonlyMap<string, EditOutcome>): EditOutcome {
  const all = [...landed.entries()];
  const failed = all.filter(([, o]) => o.state === 'failed');
  const committed = all.filter(([, o]) => o.state === 'committed') as Array<[string, Extract<EditOutcome, { state: 'committed' }>]>;
  if (failed.length > 0) {
    const kept = committed.length > 0 ? `; already landed (not undone: history is never rewritten): ${committed.map(([t, o]) => `${t} ${o.commit.slice(0, 12)}`).join(', ')}` : '';
    return { promotionId, state: 'failed', error: `${failed.map(([t, o]) => `${t}: ${(o as { error: string }).error}`).join('; ')}${kept}` };
  }
  const merging = all.find(([, o]) => o.state === 'awaiting-merge');
  if (merging) return merging[1];
  if (committed.length > 0) return { promotionId, state: 'committed', commit: (committed[0] as [string, { commit: string }])[1].commit };
  return { promotionId, state: 'skipped', reason: all.map(([t, o]) => `${t}: ${(o as { reason: string }).reason}`).join('; ') };
}

/**
 * Runs one promotion job: registers it with the batcher of each repository and branch it writes to and waits until
 * it has landed, was skipped or failed there, whether this worker wrote the commit or another worker's batch took it
 * along. Writes to different repositories go on at the same time; writes to one are serialised.
 */
export function createPromotionProcessor(deps: ProcessorDeps) {
  const { store, batcher, logger } = deps;

  const settle = async (outcome: EditOutcome, commits?: Promotion['commits']): Promise<void> => {
    if (outcome.state === 'awaiting-merge') {
      const waiting = await store.update(outcome.promotionId, { state: 'awaiting-merge', mergeRequest: outcome.mergeRequest, error: undefined, ...(commits ? { commits } : {}) });
      if (waiting && deps.onAwaitingMerge) {
        await deps.onAwaitingMerge(waiting).catch((error: unknown) => logger.warn({ err: toHoistError(error).message, promotionId: waiting.id }, 'could not start following the merge request'));
      }
      return;
    }
    const extra = commits ? { commits } : {};
    const settled =
      outcome.state === 'committed'
        ? await store.update(outcome.promotionId, { state: 'committed', commit: outcome.commit, error: undefined, ...extra })
        : outcome.state === 'skipped'
          ? await store.update(outcome.promotionId, { state: 'skipped', reason: outcome.reason, commit: outcome.commit, ...extra })
          : await store.update(outcome.promotionId, { state: 'failed', error: outcome.error, ...extra });
    if (!settled) return;
    deps.onSettled?.(settled);
    if (settled.state === 'committed' && deps.onCommitted) {
      await deps.onCommitted(settled).catch((error: unknown) => logger.warn({ err: toHoistError(error).message, promotionId: settled.id }, 'follow-up after commit failed'));
    }
  };

  const runBatch = (target: Target) => async (members: string[]): Promise<void> => {
    const records = await store.getMany(members);
    const open = [...records.values()].filter((p) => p.state === 'queued' || p.state === 'running');
    if (open.length === 0) return;
    const key = targetKey(target);
    const mine = (p: Promotion) => toEdits(p, deps.targetOf, deps.digests?.pins).filter((e) => targetKey(e.target) === key);
    const outcomes = await deps.writerFor(target).apply(open.flatMap(mine));
    for (const outcome of outcomes) {
      const p = records.get(outcome.promotionId);
      if (!p) continue;
      if (targetsOf(toEdits(p, deps.targetOf)).length === 1) {
        await settle(outcome);
        continue;
      }
      // One repository of a train that spans several: its answer waits for the others'.
      const landed = await store.recordLanding(p.id, key, outcome);
      const targets = targetsOf(toEdits(p, deps.targetOf)).map(targetKey);
      if (!targets.every((t) => landed.has(t))) continue;
      const commits = targets.flatMap((t) => {
        const o = landed.get(t);
        const [repo = t, branch = ''] = t.split('@');
        return o && o.state === 'committed' ? [{ repo, branch, commit: o.commit }] : [];
      });
      await settle(acrossTargets(p.id, new Map(targets.map((t) => [t, landed.get(t) as EditOutcome]))), commits);
    }
  };

  /** Done as far as this repository goes: the promotion ended, waits for its merge request, or has its answer here. */
  const settledOn = (target: Target, spans: boolean) => async (id: string) => {
    const p = await store.get(id);
    // An open merge request is as far as the writer takes it; GitLab reports the merge later.
    if (p === undefined || TERMINAL_STATES.has(p.state) || p.state === 'awaiting-merge') return true;
    return spans && (await store.landings(id)).has(targetKey(target));
  };

  return async function processPromotion(job: JobContext): Promise<PromotionResult> {
    const parsed = promotionJobSchema.safeParse(job.data);
    if (!parsed.success) throw new HoistError('bad_request', `malformed promotion job: ${parsed.error.message}`, { retryable: false });
    const { promotionId, request, createdAt, requestId } = parsed.data;
    const existing = request
      ? (await store.ensure({ ...request, id: promotionId, state: 'queued', createdAt, updatedAt: createdAt, attempts: 0 })).promotion
      : await store.get(promotionId);
    if (!existing) throw new HoistError('not_found', `promotion ${promotionId} is not stored`, { retryable: false });
    if (TERMINAL_STATES.has(existing.state)) return { state: existing.state, commit: existing.commit, reason: existing.reason };
    if (existing.state !== 'queued' && existing.state !== 'running') return { state: existing.state };
    await store.update(promotionId, { state: 'running', attempts: existing.attempts + 1 });
    const log = logger.child({ promotionId, app: existing.app, env: existing.env, tag: existing.tag, ...(requestId ? { requestId } : {}) });
    const targets = targetsOf(toEdits(existing, deps.targetOf));
    try {
      // Before any git work and outside every lock: a tag the registry does not have fails here, with nothing written.
      // Kept on the record, so a retry or another worker's batch lands the same digest without asking again.
      if (deps.digests && !existing.digests) {
        const digests = await deps.digests.resolve(existing);
        if (digests) await store.update(promotionId, { digests });
      }
      await Promise.all(targets.map((t) => batcher.submit(targetKey(t), promotionId, { isSettled: settledOn(t, targets.length > 1), runBatch: runBatch(t) })));
    } catch (error) {
      const hoistError = toHoistError(error);
      const last = !hoistError.retryable || job.attemptsMade + 1 >= job.maxAttempts;
      log.warn({ err: hoistError.message, retryable: hoistError.retryable, last }, 'promotion attempt failed');
      const updated = await store.update(promotionId, last ? { state: 'failed', error: hoistError.message } : { state: 'queued', error: hoistError.message });
      if (last && updated) deps.onSettled?.(updated);
      throw hoistError;
    }
    const final = await store.get(promotionId);
    if (!final) throw new HoistError('internal', `promotion ${promotionId} disappeared from the store`, { retryable: true });
    if (final.state === 'failed') {
      log.warn({ err: final.error }, 'promotion failed');
      throw new HoistError('internal', final.error ?? 'promotion failed', { retryable: false });
    }
    log.info({ state: final.state, commit: final.commit, reason: final.reason }, 'promotion settled');
    return { state: final.state, commit: final.commit, reason: final.reason };
  };
}
