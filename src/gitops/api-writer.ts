import { posix } from 'node:path';
import type { Logger } from 'pino';
import type { EditOutcome, ImageEdit, RepoWriter } from '../domain/ports.js';
import { newerRunningPipeline } from '../domain/ordering.js';
import { HoistError, isHoistError, toHoistError } from '../errors.js';
import type { GitlabApi } from '../gitlab/api.js';
import { KUSTOMIZATION_FILES, readImages, setImage } from '../kustomize/index.js';
import { buildCommitMessage, parseTrailerGroups, type TrailerGroup } from './commit-message.js';
import { aggregate, supersede, type ItemOutcome } from './writer.js';

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

interface OverlayFile {
  /** Overlay directory, as the edits name it. */
  overlay: string;
  path: string;
  original: string;
  text: string;
  /** The compare-and-swap guard: GitLab refuses the commit when the file's last commit moved. */
  lastCommitId: string;
  edits: ImageEdit[];
  /** Per app, the newest Hoist trailer group for this file's environment (read lazily). */
  landed?: Map<string, TrailerGroup>;
}

/** One page of the overlay's history: GitLab's largest. */
const HISTORY_PAGE = 100;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const overlayKey = (path: string) => posix.normalize(path).replace(/\/+$/, '');

/**
 * `write: api`: lands image edits through GitLab's Commits API, with no clone. Each batch reads the
 * overlays' kustomization files over the Files API, edits them with the same CST-level editor as the
 * push writer, and creates one commit whose actions carry each file's `last_commit_id`, so GitLab refuses
 * it if any of those files changed meanwhile; then it re-reads and tries again.
 *
 * There is no render check here: `kustomize build` needs the whole overlay tree (bases, components,
 * remote resources) on disk, and this mode has no checkout. Use `write: push` where the render check
 * (catching, e.g., an entry that a base's `newName` makes inert) matters.
 */
export function createApiWriter(options: ApiWriterOptions): RepoWriter {
  const { gitlab, project, branch, author, logger } = options;
  const maxAttempts = options.maxAttempts ?? 5;
  const sleep = options.sleep ?? defaultSleep;

  const locateKustomization = async (overlay: string): Promise<OverlayFile | undefined> => {
    for (const name of KUSTOMIZATION_FILES) {
      const path = posix.join(overlay, name);
      const file = await gitlab.getFile({ project, path, ref: branch });
      if (file) return { overlay, path, original: file.content, text: file.content, lastCommitId: file.lastCommitId, edits: [] };
    }
    return undefined;
  };

  const attempt = async (edits: readonly ImageEdit[]): Promise<{ items: Map<ImageEdit, ItemOutcome>; commit?: string }> => {
    const items = new Map<ImageEdit, ItemOutcome>();
    const files = new Map<string, OverlayFile | undefined>();
    const histories = new Map<string, Promise<Array<{ id: string; message: string }>>>();

    /** The overlay's recent commits on the branch, newest first (read once per attempt). */
    const history = (overlay: string) => {
      let found = histories.get(overlay);
      if (!found) {
        found = gitlab.listCommits({ project, ref: branch, path: overlay, perPage: HISTORY_PAGE });
        histories.set(overlay, found);
      }
      return found;
    };

    const findPromotionCommit = async (edit: ImageEdit): Promise<string | undefined> =>
      (await history(overlayKey(edit.path))).find((c) => parseTrailerGroups(c.message).some((g) => g.promotion === edit.promotionId))?.id;

    /** Same rule as the push writer: an older pipeline must not overwrite the tag a newer one landed. */
    const runningNewerPipeline = async (file: OverlayFile, edit: ImageEdit): Promise<string | undefined> => {
      if (edit.source.kind !== 'pipeline') return undefined;
      if (!file.landed) {
        file.landed = new Map();
        for (const { message } of await history(file.overlay)) {
          for (const group of parseTrailerGroups(message)) {
            if (group.env === edit.env && !file.landed.has(group.app)) file.landed.set(group.app, group);
          }
        }
      }
      const landed = file.landed.get(edit.app);
      if (!landed) return undefined;
      const current = readImages(file.original).find((entry) => entry.name === edit.image)?.newTag;
      if (current !== landed.tag) return undefined;
      const newer = newerRunningPipeline(edit.source, landed.source);
      return newer === undefined
        ? undefined
        : `pipeline ${edit.source.pipelineId} is older than pipeline ${newer}, whose tag ${landed.tag} ${edit.env} already runs`;
    };

    /** Re-applies `edits` to the file's original text, dropping (as failed) any that no longer apply. */
    const rebuild = (file: OverlayFile, kept: readonly ImageEdit[]) => {
      file.text = file.original;
      file.edits = [];
      for (const edit of kept) {
        try {
          file.text = setImage(file.text, { name: edit.image, tag: edit.tag }).text;
          file.edits.push(edit);
        } catch (error) {
          items.set(edit, { state: 'failed', error: toHoistError(error).message });
        }
      }
    };

    for (const edit of edits) {
      if (edit.mayHaveLanded) {
        const landed = await findPromotionCommit(edit);
        if (landed) {
          items.set(edit, { state: 'committed', commit: landed });
          continue;
        }
      }
      const overlay = overlayKey(edit.path);
      if (!files.has(overlay)) files.set(overlay, await locateKustomization(overlay));
      const file = files.get(overlay);
      if (!file) {
        items.set(edit, { state: 'failed', error: `overlay "${edit.path}" of environment ${edit.env} has no kustomization.yaml on the GitOps branch` });
        continue;
      }
      const newer = await runningNewerPipeline(file, edit);
      if (newer) {
        items.set(edit, { state: 'skipped', reason: newer });
        continue;
      }
      try {
        const result = setImage(file.text, { name: edit.image, tag: edit.tag });
        if (result.changed) {
          file.text = result.text;
          file.edits.push(edit);
          items.set(edit, { state: 'landing' });
          continue;
        }
        // Already there: ours from a run that died before recording it, or simply nothing to do.
        const landed = await findPromotionCommit(edit);
        items.set(edit, landed ? { state: 'committed', commit: landed } : { state: 'skipped', reason: `${edit.env} already runs ${edit.image}:${edit.tag}` });
      } catch (error) {
        if (isHoistError(error) && error.retryable) throw error;
        items.set(edit, { state: 'failed', error: toHoistError(error).message });
      }
    }

    const touched = [...files.values()].filter((f): f is OverlayFile => f !== undefined);
    // A release train lands whole or not at all: drop every edit of a promotion that has a failed item.
    for (;;) {
      const failedPromotions = new Set([...items].filter(([, o]) => o.state === 'failed').map(([e]) => e.promotionId));
      const affected = touched.filter((f) => f.edits.some((e) => failedPromotions.has(e.promotionId)));
      if (affected.length === 0) break;
      for (const file of affected) {
        for (const e of file.edits) if (failedPromotions.has(e.promotionId)) items.set(e, { state: 'skipped', reason: 'not applied: another app of this release train failed' });
        rebuild(
          file,
          file.edits.filter((e) => !failedPromotions.has(e.promotionId)),
        );
      }
    }
    // Two requested promotions of one image may cancel out (v2, then a rollback to v1): nothing to commit.
    for (const file of touched.filter((f) => f.edits.length > 0 && f.text === f.original)) {
      for (const e of file.edits) items.set(e, { state: 'skipped', reason: `${e.env} already runs ${e.image}:${readImages(file.text).find((i) => i.name === e.image)?.newTag ?? e.tag}` });
      file.edits = [];
    }

    const changed = touched.filter((f) => f.edits.length > 0);
    const landing = edits.filter((e) => changed.some((f) => f.edits.includes(e)));
    if (landing.length === 0) return { items };
    const { id } = await gitlab.createCommit({
      project,
      branch,
      message: buildCommitMessage(landing),
      actions: changed.map((f) => ({ action: 'update' as const, filePath: f.path, content: f.text, lastCommitId: f.lastCommitId })),
      authorName: author.name,
      authorEmail: author.email,
    });
    logger.info({ commit: id, promotions: [...new Set(landing.map((e) => e.promotionId))] }, 'committed GitOps change through the GitLab API');
    return { items, commit: id };
  };

  return {
    async apply(edits) {
      const { kept, superseded } = supersede(edits);
      const order = [...new Set(edits.map((e) => e.promotionId))];
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
        const { items, commit } = result;
        return order.map((promotionId): EditOutcome => {
          const reason = superseded.get(promotionId);
          if (reason) return { promotionId, state: 'skipped', reason };
          return aggregate(promotionId, [...items].filter(([e]) => e.promotionId === promotionId), commit);
        });
      }
    },
  };
}
