import type { Queue } from 'bullmq';
import type { RedisClient } from '../store/redis-client.js';
import type { Logger } from 'pino';
import type { Promotion } from '../domain/types.js';
import { toHoistError } from '../errors.js';
import type { GitlabApi, MergeRequestRef } from '../gitlab/api.js';
import type { PromotionStore } from '../store/promotion-store.js';
import { MERGE_JOB, type FollowupJob } from './promotion-job.js';

export interface MergeTrackerDeps {
  gitlab: GitlabApi | undefined;
  /** The GitOps repository's GitLab project (path_with_namespace). */
  project: string | undefined;
  store: PromotionStore;
  redis: RedisClient;
  prefix: string;
  followups: Queue<FollowupJob>;
  logger: Logger;
  now: () => Date;
  /** The chain reaction of a landed promotion (gated environments, Argo CD refresh). */
  onCommitted(p: Promotion): Promise<void>;
  /** First poll delay (then doubling up to 5 minutes); default 10 s. */
  firstPollMs?: number;
}

/** A merge request can wait for days: poll often at first, then every few minutes. */
const FIRST_POLL_MS = 10_000;
const MAX_POLL_MS = 5 * 60_000;

export interface MergeRequestChange {
  project: string;
  projectId: number;
  iid: number;
  state: string;
  sourceBranch: string;
  mergeCommitSha?: string | undefined;
}

/**
 * `write: merge-request` promotions between "merge request open" and "committed": GitLab's merge request
 * webhook completes them at once; polling with backoff completes them when no webhook is set up.
 */
export function createMergeTracker(deps: MergeTrackerDeps) {
  const { store, redis, logger } = deps;
  const branchKey = (branch: string) => `${deps.prefix}:merge-request:${branch}`;

  const poll = (promotionId: string, round: number, since: string) =>
    deps.followups.add(MERGE_JOB, { promotionId, round, since }, { jobId: `merge-${promotionId}-${round}`, delay: Math.min(MAX_POLL_MS, (deps.firstPollMs ?? FIRST_POLL_MS) * 2 ** round), removeOnComplete: true, removeOnFail: 100 });

  /** Settles a promotion from what GitLab says of its merge request; true when it is settled. */
  const settle = async (promotionId: string, mr: Pick<MergeRequestRef, 'iid' | 'mergeCommitSha' | 'squashCommitSha' | 'sha'> & { state: string }): Promise<boolean> => {
    if (mr.state === 'merged') {
      // A merge commit when GitLab made one; with fast-forward merges the MR's head is what landed.
      const commit = mr.mergeCommitSha ?? mr.squashCommitSha ?? mr.sha;
      let moved = false;
      const done = await store.transact(promotionId, (cur) => {
        if (cur.state !== 'awaiting-merge') return {};
        moved = true;
        return { state: 'committed', commit, error: undefined };
      });
      if (moved) {
        logger.info({ promotionId, mergeRequest: mr.iid, commit }, 'merge request merged: promotion committed');
        await deps.onCommitted(done).catch((error: unknown) => logger.warn({ promotionId, err: toHoistError(error).message }, 'follow-up after merge failed'));
      }
      return true;
    }
    if (mr.state === 'closed') {
      await store.transact(promotionId, (cur) => (cur.state === 'awaiting-merge' ? { state: 'cancelled', reason: `merge request !${mr.iid} was closed without merging` } : {}));
      logger.info({ promotionId, mergeRequest: mr.iid }, 'merge request closed: promotion cancelled');
      return true;
    }
    return false;
  };

  return {
    /** The writer opened (or updated) the promotion's merge request: index it and start polling. */
    async opened(p: Promotion): Promise<void> {
      if (!p.mergeRequest) return;
      const previous = await redis.getset(branchKey(p.mergeRequest.branch), p.id);
      await redis.expire(branchKey(p.mergeRequest.branch), 90 * 24 * 3600);
      if (previous && previous !== p.id) {
        // Re-running a promotion updated the same merge request: the older record gives way to this one.
        await store
          .transact(previous, (cur) => (cur.state === 'awaiting-merge' ? { state: 'superseded', reason: `superseded by promotion ${p.id}, which updated merge request !${p.mergeRequest?.iid}` } : {}))
          .catch(() => undefined);
      }
      await poll(p.id, 0, deps.now().toISOString());
    },

    /** A promotion cancelled in Hoist while its merge request was open: close it, so it cannot land unnoticed. */
    async cancelled(p: Promotion): Promise<void> {
      if (!p.mergeRequest || !deps.gitlab || !deps.project) return;
      try {
        await deps.gitlab.updateMergeRequest({ project: deps.project, iid: p.mergeRequest.iid, stateEvent: 'close' });
        logger.info({ promotionId: p.id, mergeRequest: p.mergeRequest.iid }, 'merge request closed: promotion cancelled');
      } catch (error) {
        logger.warn({ promotionId: p.id, err: toHoistError(error).message }, 'could not close the merge request of a cancelled promotion');
      }
    },

    /** One polling round. */
    async follow(job: FollowupJob): Promise<void> {
      const p = await store.get(job.promotionId);
      if (!p || p.state !== 'awaiting-merge' || !p.mergeRequest || !deps.gitlab || !deps.project) return;
      try {
        const mr = await deps.gitlab.getMergeRequest({ project: deps.project, iid: p.mergeRequest.iid });
        if (await settle(p.id, mr)) return;
      } catch (error) {
        const e = toHoistError(error);
        logger.warn({ promotionId: p.id, err: e.message }, 'could not read the merge request');
        if (!e.retryable) {
          await store.transact(p.id, (cur) => (cur.state === 'awaiting-merge' ? { state: 'failed', error: `following merge request !${p.mergeRequest?.iid}: ${e.message}` } : {}));
          return;
        }
      }
      await poll(p.id, job.round + 1, job.since);
    },

    /** GitLab's Merge Request Hook; answers which promotion it settled, if any. */
    async event(change: MergeRequestChange): Promise<{ promotionId?: string; state?: string; ignored?: string }> {
      if (!deps.project || (change.project.toLowerCase() !== deps.project.toLowerCase() && String(change.projectId) !== deps.project)) {
        return { ignored: `merge request of ${change.project}, not the GitOps project ${deps.project ?? '(gitops.project not set)'}` };
      }
      if (!change.sourceBranch.startsWith('hoist/')) return { ignored: `branch ${change.sourceBranch} is not one of Hoist's` };
      const promotionId = await redis.get(branchKey(change.sourceBranch));
      if (!promotionId) return { ignored: `no promotion waits on branch ${change.sourceBranch}` };
      const p = await store.get(promotionId);
      if (!p || p.mergeRequest?.iid !== change.iid) return { ignored: `merge request !${change.iid} is not the one promotion ${promotionId} opened` };
      // Fast-forward merges carry no merge commit in the hook: the merge request itself names the landed head.
      const mr =
        change.state === 'merged' && !change.mergeCommitSha && deps.gitlab
          ? await deps.gitlab.getMergeRequest({ project: deps.project, iid: change.iid })
          : { iid: change.iid, state: change.state, mergeCommitSha: change.mergeCommitSha };
      await settle(promotionId, mr);
      const after = await store.get(promotionId);
      return { promotionId, ...(after ? { state: after.state } : {}) };
    },
  };
}

export type MergeTracker = ReturnType<typeof createMergeTracker>;
