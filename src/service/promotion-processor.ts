import type { Logger } from 'pino';
import type { ImageEdit, RepoWriter } from '../domain/ports.js';
import { TERMINAL_STATES, type Promotion } from '../domain/types.js';
import { HoistError, toHoistError } from '../errors.js';
import type { KeyedBatcher } from '../queue/keyed-batch.js';
import type { PromotionStore } from '../store/promotion-store.js';
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
  writer: RepoWriter;
  /** Serialisation key: one writer at a time per GitOps repository and branch. */
  repoKey: string;
  logger: Logger;
  /** Called once per promotion that landed, e.g. to start gated promotions further up the chain. */
  onCommitted?: (promotion: Promotion) => Promise<void>;
  /** Called when a promotion's merge request is open (write: merge-request), to follow it until merged. */
  onAwaitingMerge?: (promotion: Promotion) => Promise<void>;
  /** Called once per promotion that reached an end state in a batch (metrics). */
  onSettled?: (promotion: Promotion) => void;
}

/** The image edits of a stored promotion: one per app (several for a release train). */
export function toEdits(p: Promotion): ImageEdit[] {
  const items = p.items ?? [{ app: p.app, image: p.image, tag: p.tag }];
  return items.map((item) => ({
    promotionId: p.id,
    app: item.app,
    env: p.env,
    path: p.path,
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

/**
 * Runs one promotion job: registers it with the repo's batcher and waits until it has landed, was
 * skipped or failed, whether this worker wrote the commit or another worker's batch took it along.
 */
export function createPromotionProcessor(deps: ProcessorDeps) {
  const { store, batcher, writer, repoKey, logger } = deps;

  const runBatch = async (members: string[]): Promise<void> => {
    const records = await store.getMany(members);
    const open = [...records.values()].filter((p) => p.state === 'queued' || p.state === 'running');
    if (open.length === 0) return;
    const outcomes = await writer.apply(open.flatMap(toEdits));
    for (const outcome of outcomes) {
      if (outcome.state === 'awaiting-merge') {
        const waiting = await store.update(outcome.promotionId, { state: 'awaiting-merge', mergeRequest: outcome.mergeRequest, error: undefined });
        if (waiting && deps.onAwaitingMerge) {
          await deps.onAwaitingMerge(waiting).catch((error: unknown) => logger.warn({ err: toHoistError(error).message, promotionId: waiting.id }, 'could not start following the merge request'));
        }
        continue;
      }
      const settled =
        outcome.state === 'committed'
          ? await store.update(outcome.promotionId, { state: 'committed', commit: outcome.commit, error: undefined })
          : outcome.state === 'skipped'
            ? await store.update(outcome.promotionId, { state: 'skipped', reason: outcome.reason, commit: outcome.commit })
            : await store.update(outcome.promotionId, { state: 'failed', error: outcome.error });
      if (!settled) continue;
      deps.onSettled?.(settled);
      if (settled.state === 'committed' && deps.onCommitted) {
        await deps.onCommitted(settled).catch((error: unknown) => logger.warn({ err: toHoistError(error).message, promotionId: settled.id }, 'follow-up after commit failed'));
      }
    }
  };

  const isSettled = async (id: string) => {
    const p = await store.get(id);
    // An open merge request is as far as the writer takes it; GitLab reports the merge later.
    return p === undefined || TERMINAL_STATES.has(p.state) || p.state === 'awaiting-merge';
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
    try {
      await batcher.submit(repoKey, promotionId, { isSettled, runBatch });
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
