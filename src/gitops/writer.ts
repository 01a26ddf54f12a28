import { posix } from 'node:path';
import type { Logger } from 'pino';
import type { ImageEdit, RepoWriter } from '../domain/ports.js';
import { HoistError, isHoistError, toHoistError } from '../errors.js';
import { createImageEditor, findRenderedImages, type ImageEditor, type Renderer } from '../kustomize/index.js';
import { checkImages, renderedImages } from '../kustomize/render.js';
import { buildCommitMessage } from './commit-message.js';
import { createPlanner, landedSince, outcomes, supersede, type ItemOutcome, type PlannedFile, type PlanSource } from './planner.js';
import type { RenderCache } from './render-cache.js';
import type { Workspace } from './workspace.js';

export { aggregate, supersede, type ItemOutcome } from './planner.js';

export interface PushWriterOptions {
  workspace: Workspace;
  renderer: Renderer;
  logger: Logger;
  /** Push attempts when the remote moved under us (someone else pushed). */
  maxPushAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Counts pushes re-applied because the branch moved. */
  onPushRetry?: () => void;
  /** Skips render checks that an identical overlay (tags aside) already passed. */
  renderCache?: RenderCache;
  /** Defaults to one that remembers the files it wrote, so the next promotion does not parse them again. */
  editor?: ImageEditor;
  /** The head Hoist last pushed to this branch from any process (src/store/pushed-heads.ts): a hint, never trusted. */
  pushedHead?: { read(): Promise<string | undefined>; record(commit: string): Promise<void> };
}

/** How far back to look for the promotion that set an app's current tag. */
const LANDED_LOOKBACK = 200;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What a clone of the branch tells the planner: files and Hoist's own history, both at the synced head. */
export function workspaceSource(workspace: Workspace): PlanSource {
  return {
    readFile: async (path) => {
      const text = await workspace.readFile(path);
      return text === undefined ? undefined : { path, text };
    },
    landings: (path) => workspace.recentLandings(path, LANDED_LOOKBACK),
    findLanded: (edit) => workspace.findPromotionCommit(edit.promotionId, landedSince(edit)),
  };
}

/** A render that failed on a working tree nobody checked since the last reset may be the tree's fault, not the edit's. */
const renderDoubt = (error: unknown) => isHoistError(error) && !error.retryable && ['render_failed', 'image_not_rendered', 'overlay_missing'].includes(error.code);

/**
 * Checks a planned file the way the push writer lands it: written into the working tree and rendered with
 * kustomize (or the render cache), each edited image in a container of the output. A failure first puts the working
 * tree back to the head (it is a cache and may be damaged) and renders once more from scratch; only a failure on a
 * restored tree counts against the edits.
 */
export function createRenderCheck(workspace: Workspace, renderer: Renderer, cache: RenderCache | undefined) {
  return async (file: PlannedFile): Promise<void> => {
    const overlay = posix.dirname(file.path);
    const dir = posix.join(workspace.dir, overlay);
    const entries = [...new Set(file.edits.map((e) => e.image))].flatMap((name) => file.after.get(name) ?? []);
    const check = async (fresh: boolean) => {
      const render = (hint: { timeoutMs?: number }) => renderer.render(dir, { ...hint, root: workspace.dir });
      const images = await renderedImages(
        cache
          ? async () => cache.images({ path: file.path, original: file.original, text: file.text, edited: entries, renderer: await renderer.identify?.(), fresh }, render)
          : async () => findRenderedImages(await render({})),
        overlay,
      );
      checkImages(overlay, images, entries);
    };
    await workspace.writeFile(file.path, file.text);
    try {
      await check(false);
    } catch (error) {
      if (!renderDoubt(error)) throw error;
      await workspace.restore();
      await check(true);
    }
  };
}

/**
 * Lands image edits by committing to a persistent clone and pushing to the GitOps branch. When the
 * push is rejected because the branch moved, it syncs and re-applies the edits on the new head.
 */
export function createPushWriter(options: PushWriterOptions): RepoWriter {
  const { workspace, logger } = options;
  const maxPushAttempts = options.maxPushAttempts ?? 8;
  const sleep = options.sleep ?? defaultSleep;
  const planner = createPlanner(options.editor ?? createImageEditor());
  const source = workspaceSource(workspace);
  const renderCheck = createRenderCheck(workspace, options.renderer, options.renderCache);

  /** Renders a touched overlay once; on failure, finds which edits are to blame by trying each alone. */
  const verify = async (file: PlannedFile, items: Map<ImageEdit, ItemOutcome>): Promise<void> => {
    if (file.edits.length === 0) {
      await workspace.writeFile(file.path, file.text);
      return;
    }
    try {
      await renderCheck(file);
      return;
    } catch (error) {
      if (isHoistError(error) && error.retryable) throw error;
      if (file.edits.length === 1) {
        items.set(file.edits[0] as ImageEdit, { state: 'failed', error: toHoistError(error).message });
        planner.rebuild(file, [], items);
        await workspace.writeFile(file.path, file.text);
        return;
      }
    }
    const good: ImageEdit[] = [];
    for (const edit of file.edits) {
      const alone: PlannedFile = { ...file, edits: [], after: new Map() };
      planner.rebuild(alone, [edit], items);
      try {
        await renderCheck(alone);
        good.push(edit);
      } catch (error) {
        if (isHoistError(error) && error.retryable) throw error;
        items.set(edit, { state: 'failed', error: toHoistError(error).message });
      }
    }
    planner.rebuild(file, good, items);
    await workspace.writeFile(file.path, file.text);
  };

  const attempt = async (edits: readonly ImageEdit[], optimistic: boolean): Promise<{ items: Map<ImageEdit, ItemOutcome>; commit?: string; pushed: boolean; unsure?: boolean; fetched?: boolean }> => {
    // Right after our own push the clone is the remote head: no fetch, the push's lease checks it.
    const { fetched } = await workspace.sync({ optimistic, ...(optimistic && options.pushedHead ? { pushedHead: await options.pushedHead.read() } : {}) });
    const plan = await planner.plan(edits, source);
    for (const file of plan.files) if (file.edits.length > 0) await verify(file, plan.items);
    const recheck = (file: PlannedFile) => verify(file, plan.items);
    await planner.dropFailedTrains(plan, recheck);
    const { changed, landing } = await planner.finish(plan, recheck);
    // Nothing to push means no lease checked what these decisions were based on: only a fetched head counts.
    if (landing.length === 0) return fetched ? { items: plan.items, pushed: true } : { items: plan.items, pushed: false, unsure: true };
    const commit = await workspace.commit(buildCommitMessage(landing), changed.map((f) => ({ path: f.path, text: f.text })));
    try {
      await workspace.push(commit);
    } catch (error) {
      if (isHoistError(error) && error.details?.gitFailure === 'rejected_non_fast_forward') return { items: plan.items, pushed: false, fetched };
      throw error;
    }
    await options.pushedHead?.record(commit);
    logger.info({ commit, promotions: [...new Set(landing.map((e) => e.promotionId))] }, 'pushed GitOps commit');
    return { items: plan.items, commit, pushed: true };
  };

  return {
    async apply(edits) {
      const { kept, superseded } = supersede(edits);
      let optimistic = true;
      let recloned = false;
      for (let n = 1; n <= maxPushAttempts; n++) {
        let result: Awaited<ReturnType<typeof attempt>>;
        try {
          result = await attempt(kept, optimistic);
        } catch (error) {
          // A clone git reports broken is cloned again by the next sync: once, at once, not after the queue's backoff.
          if (recloned || !isHoistError(error) || error.details?.gitFailure !== 'corrupt') throw error;
          logger.warn({ err: error.message }, "Hoist's working clone is damaged; cloning it again");
          recloned = true;
          optimistic = false;
          n--;
          continue;
        }
        const { items, commit, pushed, unsure, fetched } = result;
        const wasOptimistic = optimistic;
        optimistic = false;
        if (unsure) {
          n--; // the same attempt again on a fetched head; not a push retry
          continue;
        }
        if (!pushed) {
          options.onPushRetry?.();
          // Built on the head we last pushed, without a fetch: another process (another worker) pushed since. Nobody is
          // racing us for the branch, our clone was only behind: fetch and redo at once, not after a backoff.
          if (wasOptimistic && fetched === false) {
            logger.debug({ attempt: n }, 'GitOps branch moved since our last push; re-applying on the fetched head');
            n--;
            continue;
          }
          const delay = Math.min(2_000, 25 * 2 ** (n - 1)) * (0.5 + Math.random());
          logger.info({ attempt: n, delayMs: Math.round(delay) }, 'GitOps branch moved during push; re-applying on the new head');
          await sleep(delay);
          continue;
        }
        return outcomes(edits, superseded, items, commit);
      }
      throw new HoistError('git_transient', `the GitOps branch kept moving: push rejected ${maxPushAttempts} times`, { retryable: true });
    },
  };
}
