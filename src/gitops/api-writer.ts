import { posix } from 'node:path';
import type { Logger } from 'pino';
import type { ImageEdit, LandedGroup, RepoWriter } from '../domain/ports.js';
import { HoistError, isHoistError } from '../errors.js';
import type { GitlabApi } from '../gitlab/api.js';
import { createImageEditor } from '../kustomize/index.js';
import { buildCommitMessage, parseTrailerGroups } from './commit-message.js';
import { createPlanner, outcomes, supersede, type ItemOutcome, type PlanSource } from './planner.js';

export interface ApiWriterOptions {
  gitlab: GitlabApi;
  /** The GitOps repository's GitLab project (path_with_namespace or id). */
  project: string;
  /** The GitOps branch to commit to. */
  branch: string;
  author: { name: string; email: string };
  logger: Logger;
  /** Commit attempts when GitLab refuses the compare-and-swap because a file changed since it was read. */
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** One page of the overlay's history: GitLab's largest. */
const HISTORY_PAGE = 100;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * `write: api`: lands image edits through GitLab's Commits API, with no clone. Each batch reads the
 * overlays' kustomization files over the Files API, plans them with the same planner and editor as the push
 * writer, and creates one commit whose actions carry each file's `last_commit_id`, so GitLab refuses it if any of
 * those files changed meanwhile; then it re-reads and tries again.
 *
 * GitLab's Commits API cannot sign a commit: Hoist's own commits here are known only by their author being Hoist's
 * (`gitops.author`), which anyone who can push can imitate. Protect the branch so that only Hoist's user can push,
 * or use `write: push`, whose commits are signed.
 *
 * There is no render check here: `kustomize build` needs the whole overlay tree (bases, components,
 * remote resources) on disk, and this mode has no checkout. Use `write: push` where the render check
 * (catching, e.g., an entry that a base's `newName` makes inert) matters.
 */
export function createApiWriter(options: ApiWriterOptions): RepoWriter {
  const { gitlab, project, branch, author, logger } = options;
  const maxAttempts = options.maxAttempts ?? 5;
  const sleep = options.sleep ?? defaultSleep;
  const planner = createPlanner(createImageEditor());

  /** Reads of one attempt: each overlay's history once, and only Hoist's own (author-trusted) commits believed. */
  const sourceFor = (): PlanSource => {
    const histories = new Map<string, Promise<Array<{ id: string; groups: LandedGroup[] }>>>();
    const history = (overlay: string) => {
      let found = histories.get(overlay);
      if (!found) {
        found = gitlab.listCommits({ project, ref: branch, path: overlay, perPage: HISTORY_PAGE }).then((commits) =>
          commits.map((c) => ({ id: c.id, groups: c.authorName === author.name && c.authorEmail === author.email ? parseTrailerGroups(c.message) : [] })),
        );
        histories.set(overlay, found);
      }
      return found;
    };
    return {
      readFile: async (path) => {
        const file = await gitlab.getFile({ project, path, ref: branch });
        return file && { path, text: file.content, lastCommitId: file.lastCommitId };
      },
      landings: async (path) => (await history(posix.dirname(path))).flatMap((c) => c.groups),
      findLanded: async (edit) => (await history(posix.normalize(edit.path).replace(/\/+$/, ''))).find((c) => c.groups.some((g) => g.promotion === edit.promotionId))?.id,
    };
  };

  const attempt = async (edits: readonly ImageEdit[]): Promise<{ items: Map<ImageEdit, ItemOutcome>; commit?: string }> => {
    const plan = await planner.plan(edits, sourceFor());
    await planner.dropFailedTrains(plan);
    const { changed, landing } = await planner.finish(plan);
    if (landing.length === 0) return { items: plan.items };
    const { id } = await gitlab.createCommit({
      project,
      branch,
      message: buildCommitMessage(landing),
      actions: changed.map((f) => ({ action: 'update' as const, filePath: f.path, content: f.text, lastCommitId: f.lastCommitId })),
      authorName: author.name,
      authorEmail: author.email,
    });
    logger.info({ commit: id, promotions: [...new Set(landing.map((e) => e.promotionId))] }, 'committed GitOps change through the GitLab API');
    return { items: plan.items, commit: id };
  };

  return {
    async apply(edits) {
      const { kept, superseded } = supersede(edits);
      for (let n = 1; ; n++) {
        let result: Awaited<ReturnType<typeof attempt>>;
        try {
          result = await attempt(kept);
        } catch (error) {
          if (!isHoistError(error) || error.code !== 'conflict') throw error;
          if (n >= maxAttempts) {
            throw new HoistError('conflict', `the GitOps branch ${branch} kept changing: GitLab refused the commit ${maxAttempts} times because a kustomization file changed since it was read`, { retryable: true, cause: error });
          }
          const delay = Math.min(1_000, 50 * 2 ** (n - 1)) * (0.5 + Math.random());
          logger.info({ attempt: n, delayMs: Math.round(delay) }, 'a kustomization file changed under the commit; re-reading and re-applying');
          await sleep(delay);
          continue;
        }
        return outcomes(edits, superseded, result.items, result.commit);
      }
    },
  };
}
