import { posix } from 'node:path';
import type { Logger } from 'pino';
import type { EditOutcome, ImageEdit, RepoWriter } from '../domain/ports.js';
import { HoistError, isHoistError, toHoistError } from '../errors.js';
import { KUSTOMIZATION_FILES, checkRendered, readImages, setImage, type Renderer } from '../kustomize/index.js';
import { newerRunningPipeline } from '../domain/ordering.js';
import { buildCommitMessage, parseTrailerGroups, type TrailerGroup } from './commit-message.js';
import type { Workspace } from './workspace.js';

export interface PushWriterOptions {
  workspace: Workspace;
  renderer: Renderer;
  logger: Logger;
  /** Push attempts when the remote moved under us (someone else pushed). */
  maxPushAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
}

interface OverlayFile {
  path: string;
  original: string;
  text: string;
  edits: ImageEdit[];
  /** Per app, the newest Hoist trailer group for this file's environment (read lazily). */
  landed?: Map<string, TrailerGroup>;
}

/** How far back to look for the promotion that set an app's current tag. */
const LANDED_LOOKBACK = 200;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Newest pipeline wins when one batch holds several promotions of the same app to the same environment. */
function supersede(edits: readonly ImageEdit[]): { kept: ImageEdit[]; superseded: EditOutcome[] } {
  const newest = new Map<string, ImageEdit>();
  for (const edit of edits) {
    const key = `${edit.env}\0${edit.path}\0${edit.image}`;
    const other = newest.get(key);
    if (!other || edit.source.pipelineId > other.source.pipelineId || (edit.source.pipelineId === other.source.pipelineId && edit.createdAt > other.createdAt)) {
      newest.set(key, edit);
    }
  }
  const kept = edits.filter((e) => newest.get(`${e.env}\0${e.path}\0${e.image}`) === e);
  const superseded = edits
    .filter((e) => !kept.includes(e))
    .map((e): EditOutcome => {
      const winner = newest.get(`${e.env}\0${e.path}\0${e.image}`) as ImageEdit;
      return { promotionId: e.promotionId, state: 'skipped', reason: `superseded by promotion ${winner.promotionId} (${winner.app} ${winner.tag} from pipeline ${winner.source.pipelineId}) in the same commit batch` };
    });
  return { kept, superseded };
}

/**
 * Lands image edits by committing to a persistent clone and pushing to the GitOps branch. When the
 * push is rejected because the branch moved, it syncs and re-applies the edits on the new head.
 */
export function createPushWriter(options: PushWriterOptions): RepoWriter {
  const { workspace, renderer, logger } = options;
  const maxPushAttempts = options.maxPushAttempts ?? 8;
  const sleep = options.sleep ?? defaultSleep;

  const locateKustomization = async (overlay: string): Promise<{ path: string; text: string } | undefined> => {
    for (const name of KUSTOMIZATION_FILES) {
      const path = posix.join(overlay, name);
      const text = await workspace.readFile(path);
      if (text !== undefined) return { path, text };
    }
    return undefined;
  };

  /**
   * Pipelines finish out of order: an older pipeline must not overwrite the tag a newer one landed.
   * The running tag counts as the newer pipeline's only while it is still the tag in the file (a hand edit
   * since then means we do not know where it came from).
   */
  const runningNewerPipeline = async (file: OverlayFile, edit: ImageEdit): Promise<string | undefined> => {
    if (edit.source.kind !== 'pipeline') return undefined;
    if (!file.landed) {
      file.landed = new Map();
      for (const { message } of await workspace.recentMessages(file.path, LANDED_LOOKBACK)) {
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

  /** Renders each touched overlay once; on failure, finds which edits are to blame by trying each alone. */
  const verify = async (file: OverlayFile, outcomes: Map<string, EditOutcome>): Promise<void> => {
    const overlayDir = posix.dirname(file.path);
    const renderCheck = async (text: string, edits: readonly ImageEdit[]) => {
      await workspace.writeFile(file.path, text);
      const entries = readImages(text).filter((entry) => edits.some((e) => e.image === entry.name));
      await checkRendered(renderer, `${workspace.dir}/${overlayDir}`, entries);
    };
    try {
      await renderCheck(file.text, file.edits);
      return;
    } catch (error) {
      if (isHoistError(error) && error.retryable) throw error;
      if (file.edits.length === 1) {
        const [edit] = file.edits as [ImageEdit];
        outcomes.set(edit.promotionId, { promotionId: edit.promotionId, state: 'failed', error: toHoistError(error).message });
        file.edits = [];
        file.text = file.original;
        await workspace.writeFile(file.path, file.original);
        return;
      }
    }
    const good: ImageEdit[] = [];
    let text = file.original;
    for (const edit of file.edits) {
      try {
        const candidate = setImage(text, { name: edit.image, tag: edit.tag });
        await renderCheck(candidate.text, [edit]);
        text = candidate.text;
        good.push(edit);
      } catch (error) {
        if (isHoistError(error) && error.retryable) throw error;
        outcomes.set(edit.promotionId, { promotionId: edit.promotionId, state: 'failed', error: toHoistError(error).message });
      }
    }
    file.edits = good;
    file.text = text;
    await workspace.writeFile(file.path, text);
  };

  const attempt = async (edits: readonly ImageEdit[]): Promise<{ outcomes: Map<string, EditOutcome>; pushed: boolean }> => {
    await workspace.sync();
    const outcomes = new Map<string, EditOutcome>();
    const files = new Map<string, OverlayFile>();
    for (const edit of edits) {
      const since = new Date(Date.parse(edit.createdAt) - 3_600_000);
      if (edit.mayHaveLanded) {
        const landed = await workspace.findPromotionCommit(edit.promotionId, since);
        if (landed) {
          outcomes.set(edit.promotionId, { promotionId: edit.promotionId, state: 'committed', commit: landed });
          continue;
        }
      }
      let file = [...files.values()].find((f) => posix.dirname(f.path) === edit.path);
      if (!file) {
        const found = await locateKustomization(edit.path);
        if (!found) {
          outcomes.set(edit.promotionId, {
            promotionId: edit.promotionId,
            state: 'failed',
            error: `overlay "${edit.path}" of environment ${edit.env} has no kustomization.yaml on the GitOps branch`,
          });
          continue;
        }
        file = { path: found.path, original: found.text, text: found.text, edits: [] };
        files.set(found.path, file);
      }
      const newer = await runningNewerPipeline(file, edit);
      if (newer) {
        outcomes.set(edit.promotionId, { promotionId: edit.promotionId, state: 'skipped', reason: newer });
        continue;
      }
      try {
        const result = setImage(file.text, { name: edit.image, tag: edit.tag });
        if (result.changed) {
          file.text = result.text;
          file.edits.push(edit);
          continue;
        }
        // Already there: ours from a run that died before recording it, or simply nothing to do.
        const landed = await workspace.findPromotionCommit(edit.promotionId, since);
        outcomes.set(
          edit.promotionId,
          landed
            ? { promotionId: edit.promotionId, state: 'committed', commit: landed }
            : { promotionId: edit.promotionId, state: 'skipped', reason: `${edit.env} already runs ${edit.image}:${edit.tag}` },
        );
      } catch (error) {
        if (isHoistError(error) && error.retryable) throw error;
        outcomes.set(edit.promotionId, { promotionId: edit.promotionId, state: 'failed', error: toHoistError(error).message });
      }
    }
    for (const file of files.values()) if (file.edits.length > 0) await verify(file, outcomes);
    const changed = [...files.values()].filter((f) => f.edits.length > 0);
    const landing = edits.filter((e) => changed.some((f) => f.edits.includes(e)));
    if (landing.length === 0) return { outcomes, pushed: true };
    const commit = await workspace.commit(buildCommitMessage(landing), changed.map((f) => f.path));
    try {
      await workspace.push();
    } catch (error) {
      if (isHoistError(error) && error.details?.gitFailure === 'rejected_non_fast_forward') {
        return { outcomes, pushed: false };
      }
      throw error;
    }
    for (const edit of landing) outcomes.set(edit.promotionId, { promotionId: edit.promotionId, state: 'committed', commit });
    logger.info({ commit, promotions: landing.map((e) => e.promotionId) }, 'pushed GitOps commit');
    return { outcomes, pushed: true };
  };

  return {
    async apply(edits) {
      const { kept, superseded } = supersede(edits);
      for (let n = 1; n <= maxPushAttempts; n++) {
        const { outcomes, pushed } = await attempt(kept);
        if (pushed) return [...superseded, ...kept.map((e) => outcomes.get(e.promotionId) as EditOutcome)];
        const delay = Math.min(2_000, 25 * 2 ** (n - 1)) * (0.5 + Math.random());
        logger.info({ attempt: n, delayMs: Math.round(delay) }, 'GitOps branch moved during push; re-applying on the new head');
        await sleep(delay);
      }
      throw new HoistError('git_transient', `the GitOps branch kept moving: push rejected ${maxPushAttempts} times`, { retryable: true });
    },
  };
}
