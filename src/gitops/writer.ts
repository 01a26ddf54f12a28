import { posix } from 'node:path';
import type { Logger } from 'pino';
import type { EditOutcome, ImageEdit, RepoWriter } from '../domain/ports.js';
import { HoistError, isHoistError, toHoistError } from '../errors.js';
import { KUSTOMIZATION_FILES, createImageEditor, findRenderedImages, type EditResult, type ImageEditor, type ImageEntry, type Renderer } from '../kustomize/index.js';
import { checkImages, renderedImages } from '../kustomize/render.js';
import { newerRunningPipeline } from '../domain/ordering.js';
import { buildCommitMessage, parseTrailerGroups, type TrailerGroup } from './commit-message.js';
import type { RenderCache } from './render-cache.js';
import type { Workspace } from './workspace.js';

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
}

/** How one image edit of a batch ended (a release train aggregates its items). */
export type ItemOutcome =
  | { state: 'landing' }
  | { state: 'committed'; commit: string }
  | { state: 'skipped'; reason: string }
  | { state: 'failed'; error: string };

interface OverlayFile {
  path: string;
  original: string;
  text: string;
  edits: ImageEdit[];
  /** Per image, the entry as this batch's edits leave it (the editor's answer: no re-parse of the file). */
  after: Map<string, ImageEntry>;
  /** Per image touched, its tag in `original`. */
  originalTags: Map<string, string | undefined>;
  /** Per app, the newest Hoist trailer group for this file's environment (read lazily). */
  landed?: Map<string, TrailerGroup>;
}

/** How far back to look for the promotion that set an app's current tag. */
const LANDED_LOOKBACK = 200;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const imageKey = (e: ImageEdit) => `${e.env}\0${e.path}\0${e.image}`;

/**
 * Newest pipeline wins when one batch holds several pipeline promotions of the same image in the same
 * environment. Promotions people asked for are never dropped here.
 */
export function supersede(edits: readonly ImageEdit[]): { kept: ImageEdit[]; superseded: Map<string, string> } {
  const newest = new Map<string, ImageEdit>();
  for (const edit of edits) {
    if (edit.source.kind !== 'pipeline') continue;
    const other = newest.get(imageKey(edit));
    const otherId = other?.source.kind === 'pipeline' ? other.source.pipelineId : -1;
    if (!other || edit.source.pipelineId > otherId || (edit.source.pipelineId === otherId && edit.createdAt > other.createdAt)) newest.set(imageKey(edit), edit);
  }
  const superseded = new Map<string, string>();
  const kept = edits.filter((e) => {
    const winner = newest.get(imageKey(e));
    if (e.source.kind !== 'pipeline' || !winner || winner === e) return true;
    const from = winner.source.kind === 'pipeline' ? ` from pipeline ${winner.source.pipelineId}` : '';
    superseded.set(e.promotionId, `superseded by promotion ${winner.promotionId} (${winner.app} ${winner.tag}${from}) in the same commit batch`);
    return false;
  });
  return { kept, superseded };
}

/** One outcome per promotion: a release train fails whole, lands whole, or is skipped whole. */
export function aggregate(promotionId: string, items: ReadonlyArray<[ImageEdit, ItemOutcome]>, commit: string | undefined): EditOutcome {
  const label = (e: ImageEdit) => (items.length > 1 ? `${e.app}: ` : '');
  const failed = items.filter(([, o]) => o.state === 'failed');
  if (failed.length > 0) return { promotionId, state: 'failed', error: failed.map(([e, o]) => `${label(e)}${(o as { error: string }).error}`).join('; ') };
  const landedCommit = items.map(([, o]) => (o.state === 'landing' ? commit : o.state === 'committed' ? o.commit : undefined)).find((c) => c !== undefined);
  if (landedCommit) return { promotionId, state: 'committed', commit: landedCommit };
  return { promotionId, state: 'skipped', reason: items.map(([e, o]) => `${label(e)}${(o as { reason: string }).reason}`).join('; ') };
}

/**
 * Lands image edits by committing to a persistent clone and pushing to the GitOps branch. When the
 * push is rejected because the branch moved, it syncs and re-applies the edits on the new head.
 */
export function createPushWriter(options: PushWriterOptions): RepoWriter {
  const { workspace, renderer, logger } = options;
  const maxPushAttempts = options.maxPushAttempts ?? 8;
  const sleep = options.sleep ?? defaultSleep;
  const editor = options.editor ?? createImageEditor();

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
   * since then means we do not know where it came from). Rollbacks and requested promotions are exempt.
   */
  const runningNewerPipeline = async (file: OverlayFile, edit: ImageEdit, current: string | undefined): Promise<string | undefined> => {
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
    if (current !== landed.tag) return undefined;
    const newer = newerRunningPipeline(edit.source, landed.source);
    return newer === undefined
      ? undefined
      : `pipeline ${edit.source.pipelineId} is older than pipeline ${newer}, whose tag ${landed.tag} ${edit.env} already runs`;
  };

  const renderCheck = async (file: OverlayFile): Promise<void> => {
    await workspace.writeFile(file.path, file.text);
    const entries = [...new Set(file.edits.map((e) => e.image))].flatMap((name) => file.after.get(name) ?? []);
    const dir = `${workspace.dir}/${posix.dirname(file.path)}`;
    const cache = options.renderCache;
    const images = await renderedImages(
      cache
        ? async () => cache.images({ path: file.path, original: file.original, text: file.text, edited: entries, renderer: await renderer.identify?.() }, (hint) => renderer.render(dir, hint))
        : async () => findRenderedImages(await renderer.render(dir)),
      dir,
    );
    checkImages(dir, images, entries);
  };

  /** Takes an edit's result into the file, with the entry it leaves. */
  const keep = (file: OverlayFile, edit: ImageEdit, result: EditResult): void => {
    file.text = result.text;
    file.after.set(edit.image, result.changed ? result.after : result.entry);
    file.edits.push(edit);
  };
  const applyEdit = (file: OverlayFile, edit: ImageEdit): void => keep(file, edit, editor.setImage(file.text, { name: edit.image, tag: edit.tag }));

  /** Re-applies `edits` to the file's original text, dropping (as failed) any that no longer apply. */
  const rebuild = (file: OverlayFile, edits: readonly ImageEdit[], items: Map<ImageEdit, ItemOutcome>) => {
    file.text = file.original;
    file.edits = [];
    file.after = new Map();
    for (const edit of edits) {
      try {
        applyEdit(file, edit);
      } catch (error) {
        items.set(edit, { state: 'failed', error: toHoistError(error).message });
      }
    }
  };

  /** Renders a touched overlay once; on failure, finds which edits are to blame by trying each alone. */
  const verify = async (file: OverlayFile, items: Map<ImageEdit, ItemOutcome>): Promise<void> => {
    try {
      await renderCheck(file);
      return;
    } catch (error) {
      if (isHoistError(error) && error.retryable) throw error;
      if (file.edits.length === 1) {
        items.set(file.edits[0] as ImageEdit, { state: 'failed', error: toHoistError(error).message });
        rebuild(file, [], items);
        await workspace.writeFile(file.path, file.text);
        return;
      }
    }
    const good: ImageEdit[] = [];
    for (const edit of file.edits) {
      const alone: OverlayFile = { ...file, text: file.original, edits: [], after: new Map() };
      applyEdit(alone, edit);
      try {
        await renderCheck(alone);
        good.push(edit);
      } catch (error) {
        if (isHoistError(error) && error.retryable) throw error;
        items.set(edit, { state: 'failed', error: toHoistError(error).message });
      }
    }
    rebuild(file, good, items);
    await workspace.writeFile(file.path, file.text);
  };

  const attempt = async (
    edits: readonly ImageEdit[],
    optimistic: boolean,
  ): Promise<{ items: Map<ImageEdit, ItemOutcome>; commit?: string; pushed: boolean; unsure?: boolean }> => {
    // Right after our own push the clone is the remote head: no fetch, the push's lease checks it.
    const { fetched } = await workspace.sync({ optimistic });
    const items = new Map<ImageEdit, ItemOutcome>();
    const files = new Map<string, OverlayFile>();
    for (const edit of edits) {
      const since = new Date(Date.parse(edit.createdAt) - 3_600_000);
      if (edit.mayHaveLanded) {
        const landed = await workspace.findPromotionCommit(edit.promotionId, since);
        if (landed) {
          items.set(edit, { state: 'committed', commit: landed });
          continue;
        }
      }
      let file = [...files.values()].find((f) => posix.dirname(f.path) === edit.path);
      if (!file) {
        const found = await locateKustomization(edit.path);
        if (!found) {
          items.set(edit, { state: 'failed', error: `overlay "${edit.path}" of environment ${edit.env} has no kustomization.yaml on the GitOps branch` });
          continue;
        }
        file = { path: found.path, original: found.text, text: found.text, edits: [], after: new Map(), originalTags: new Map() };
        files.set(found.path, file);
      }
      let result: EditResult;
      // An edit the editor cannot do in place parses the whole kustomization: let waiting webhooks in between.
      if (file.edits.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      try {
        // The editor's answer also says which tag the original had.
        result = editor.setImage(file.text, { name: edit.image, tag: edit.tag });
      } catch (error) {
        if (isHoistError(error) && error.retryable) throw error;
        items.set(edit, { state: 'failed', error: toHoistError(error).message });
        continue;
      }
      if (!file.originalTags.has(edit.image)) file.originalTags.set(edit.image, (result.changed ? result.before : result.entry)?.newTag);
      const newer = await runningNewerPipeline(file, edit, file.originalTags.get(edit.image));
      if (newer) {
        items.set(edit, { state: 'skipped', reason: newer });
        continue;
      }
      if (result.changed) {
        keep(file, edit, result);
        items.set(edit, { state: 'landing' });
        continue;
      }
      try {
        // Already there: ours from a run that died before recording it, or simply nothing to do.
        const landed = await workspace.findPromotionCommit(edit.promotionId, since);
        items.set(edit, landed ? { state: 'committed', commit: landed } : { state: 'skipped', reason: `${edit.env} already runs ${edit.image}:${edit.tag}` });
      } catch (error) {
        if (isHoistError(error) && error.retryable) throw error;
        items.set(edit, { state: 'failed', error: toHoistError(error).message });
      }
    }
    for (const file of files.values()) if (file.edits.length > 0) await verify(file, items);
    // A release train lands whole or not at all: drop every edit of a promotion that has a failed item.
    for (;;) {
      const failedPromotions = new Set([...items].filter(([, o]) => o.state === 'failed').map(([e]) => e.promotionId));
      const affected = [...files.values()].filter((f) => f.edits.some((e) => failedPromotions.has(e.promotionId)));
      if (affected.length === 0) break;
      for (const file of affected) {
        for (const e of file.edits) if (failedPromotions.has(e.promotionId)) items.set(e, { state: 'skipped', reason: 'not applied: another app of this release train failed' });
        rebuild(file, file.edits.filter((e) => !failedPromotions.has(e.promotionId)), items);
        if (file.edits.length > 0) await verify(file, items);
        else await workspace.writeFile(file.path, file.text);
      }
    }
    // Edits that end where the file started (v2, then a rollback to the running v1) leave nothing to commit.
    for (const file of files.values()) {
      if (file.edits.length === 0 || file.text !== file.original) continue;
      for (const e of file.edits) {
        items.set(e, { state: 'skipped', reason: `${e.env} already runs ${e.image}:${file.after.get(e.image)?.newTag ?? e.tag}: the edits of this batch cancel out` });
      }
      file.edits = [];
    }
    const changed = [...files.values()].filter((f) => f.edits.length > 0);
    const landing = edits.filter((e) => changed.some((f) => f.edits.includes(e)));
    // Nothing to push means no lease checked what these decisions were based on: only a fetched head counts.
    if (landing.length === 0) return fetched ? { items, pushed: true } : { items, pushed: false, unsure: true };
    const commit = await workspace.commit(buildCommitMessage(landing), changed.map((f) => f.path));
    try {
      await workspace.push();
    } catch (error) {
      if (isHoistError(error) && error.details?.gitFailure === 'rejected_non_fast_forward') return { items, pushed: false };
      throw error;
    }
    logger.info({ commit, promotions: [...new Set(landing.map((e) => e.promotionId))] }, 'pushed GitOps commit');
    return { items, commit, pushed: true };
  };

  return {
    async apply(edits) {
      const { kept, superseded } = supersede(edits);
      const order = [...new Set(edits.map((e) => e.promotionId))];
      let optimistic = true;
      for (let n = 1; n <= maxPushAttempts; n++) {
        const { items, commit, pushed, unsure } = await attempt(kept, optimistic);
        optimistic = false;
        if (unsure) {
          n--; // the same attempt again on a fetched head; not a push retry
          continue;
        }
        if (!pushed) {
          options.onPushRetry?.();
          const delay = Math.min(2_000, 25 * 2 ** (n - 1)) * (0.5 + Math.random());
          logger.info({ attempt: n, delayMs: Math.round(delay) }, 'GitOps branch moved during push; re-applying on the new head');
          await sleep(delay);
          continue;
        }
        return order.map((promotionId): EditOutcome => {
          const reason = superseded.get(promotionId);
          if (reason) return { promotionId, state: 'skipped', reason };
          return aggregate(promotionId, [...items].filter(([e]) => e.promotionId === promotionId), commit);
        });
      }
      throw new HoistError('git_transient', `the GitOps branch kept moving: push rejected ${maxPushAttempts} times`, { retryable: true });
    },
  };
}
