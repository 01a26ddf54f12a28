import type { Logger } from 'pino';
import { itemsOf, type Promotion } from '../domain/types.js';
import { toHoistError } from '../errors.js';
import type { GitlabApi } from '../gitlab/api.js';
import type { Build, BuildIndex } from '../store/builds.js';
import type { PromotionStore } from '../store/promotion-store.js';

export interface CommitStatusDeps {
  gitlab: GitlabApi;
  /** Where each tag was built (recorded at intake), so later promotions of a tag report on its source commit. */
  builds: BuildIndex;
  logger: Logger;
  /** GitLab's base URL and the GitOps project, to link a status to the GitOps commit. */
  gitlabUrl: string;
  gitopsProject?: string | undefined;
}

type GitlabState = 'pending' | 'running' | 'success' | 'failed' | 'canceled' | 'skipped';

/** What GitLab should show for a promotion's state on the source commit's pipeline page. */
export function statusFor(p: Promotion, links: { commitUrl?: (sha: string) => string | undefined }): { state: GitlabState; description: string; targetUrl?: string } {
  const tags = itemsOf(p).map((i) => `${i.app}:${i.tag}`).join(', ');
  switch (p.state) {
    case 'waiting': {
      const waiting = (p.gates ?? []).filter((g) => g.status === 'waiting').map((g) => `${g.gate}: ${g.reason}`);
      return { state: 'pending', description: waiting.length > 0 ? `waiting on gates (${waiting.join('; ')})` : `waiting on ${p.env}'s gates` };
    }
    case 'awaiting-approval':
      return { state: 'pending', description: `waiting for approval to promote ${tags} to ${p.env}` };
    case 'queued':
    case 'running':
      return { state: 'pending', description: `promoting ${tags} to ${p.env}` };
    case 'awaiting-merge':
      return { state: 'pending', description: `merge request !${p.mergeRequest?.iid ?? '?'} waits to be merged`, ...(p.mergeRequest ? { targetUrl: p.mergeRequest.url } : {}) };
    case 'committed': {
      const url = p.commit ? links.commitUrl?.(p.commit) : undefined;
      return { state: 'success', description: `${p.env} runs ${tags}: GitOps commit ${p.commit?.slice(0, 12) ?? '?'}`, ...(url ? { targetUrl: url } : {}) };
    }
    case 'degraded':
      return { state: 'failed', description: `degraded in ${p.env}: ${p.reason ?? 'reported Degraded'}` };
    case 'failed':
      return { state: 'failed', description: `promotion to ${p.env} failed: ${p.error ?? p.reason ?? 'unknown error'}` };
    case 'skipped':
      return /already runs/.test(p.reason ?? '') ? { state: 'success', description: p.reason ?? `${p.env} already runs ${tags}` } : { state: 'skipped', description: p.reason ?? 'skipped' };
    case 'cancelled':
    case 'superseded':
      return { state: 'canceled', description: p.reason ?? p.state };
  }
}

/**
 * Commit statuses on the source commit, one context per environment (`hoist/<env>`), so GitLab's pipeline
 * page shows where each commit is deployed. Posting never blocks or fails a promotion; statuses of one
 * promotion go out in order, and an unchanged status is not posted twice.
 */
export function createCommitStatuses(deps: CommitStatusDeps) {
  const { gitlab, builds, logger } = deps;
  const chains = new Map<string, Promise<void>>();
  const posted = new Map<string, string>();
  const commitUrl = (sha: string) => (deps.gitopsProject ? `${deps.gitlabUrl.replace(/\/+$/, '')}/${deps.gitopsProject}/-/commit/${sha}` : undefined);

  const targets = async (p: Promotion): Promise<Array<Pick<Build, 'project' | 'sha'>>> => {
    if (p.source.kind === 'pipeline') return [{ project: p.source.project, sha: p.source.sha }];
    const out: Build[] = [];
    for (const item of itemsOf(p)) {
      const build = await builds.get(item.app, item.tag);
      if (build) out.push(build);
    }
    return out;
  };

  const post = async (p: Promotion) => {
    const status = statusFor(p, { commitUrl });
    const key = `${status.state}\n${status.description}`;
    if (posted.get(p.id) === key) return;
    for (const build of await targets(p)) {
      await gitlab.setCommitStatus({ project: build.project, sha: build.sha, name: `hoist/${p.env}`, ...status });
    }
    posted.set(p.id, key);
    // Bounded memory: forget the oldest entries; a repeat post after that is harmless.
    if (posted.size > 10_000) posted.delete(posted.keys().next().value as string);
  };

  return {
    report(p: Promotion): void {
      const previous = chains.get(p.id) ?? Promise.resolve();
      const next = previous
        .then(() => post(p))
        .catch((error: unknown) => logger.warn({ promotionId: p.id, env: p.env, err: toHoistError(error).message }, 'could not set the GitLab commit status'));
      chains.set(p.id, next);
      void next.then(() => {
        if (chains.get(p.id) === next) chains.delete(p.id);
      });
    },
    /** Waits for statuses in flight (shutdown). */
    async flush(): Promise<void> {
      await Promise.all([...chains.values()]);
    },
  };
}

/**
 * A store that tells `onChange` about every promotion whose state (or merge request, or deploy health) it writes.
 * `only` limits which states a process reports: the web process leaves pipeline promotions to the worker, whose
 * statuses then arrive in order.
 */
export function observeStore(store: PromotionStore, onChange: (p: Promotion) => void, only?: ReadonlySet<Promotion['state']>): PromotionStore {
  const tell = (p: Promotion | undefined) => {
    if (p && (!only || only.has(p.state))) onChange(p);
    return p;
  };
  return {
    ...store,
    async ensure(promotion) {
      const result = await store.ensure(promotion);
      if (result.created) tell(result.promotion);
      return result;
    },
    async transact(id, decide) {
      return tell(await store.transact(id, decide)) as Promotion;
    },
    async update(id, patch) {
      const updated = await store.update(id, patch);
      return patch.state !== undefined || patch.mergeRequest !== undefined || patch.health !== undefined ? tell(updated) : updated;
    },
  };
}
