/**
 * One planner for every way Hoist writes (push, merge request, GitLab API): which edits land, which are already
 * there, which an older pipeline must not make, and the file texts that result. The writers differ only in how
 * they check and write the result.
 */
import { isDeepStrictEqual } from 'node:util';
import { posix } from 'node:path';
import type { EditOutcome, ImageEdit, LandedGroup } from '../domain/ports.js';
import { newerRunningPipeline } from '../domain/ordering.js';
import { HoistError, isHoistError, toHoistError } from '../errors.js';
import { KUSTOMIZATION_FILES, type EditResult, type ImageChange, type ImageEditor, type ImageEntry } from '../kustomize/index.js';

/** How one image edit of a batch ended (a release train aggregates its items). */
export type ItemOutcome =
  | { state: 'landing' }
  | { state: 'committed'; commit: string }
  | { state: 'skipped'; reason: string }
  | { state: 'failed'; error: string };

export interface KustomizationFile {
  path: string;
  text: string;
  /** The API writer's compare-and-swap guard: the commit that last changed the file. */
  lastCommitId?: string | undefined;
}

/** Where a plan reads the head it builds on: a clone, or GitLab's API. */
export interface PlanSource {
  /** The file kustomize would read in this overlay directory, as of the head. */
  readFile(path: string): Promise<KustomizationFile | undefined>;
  /** Hoist's own landings (trusted commits only) that touched the file, newest first. */
  landings(path: string): Promise<LandedGroup[]>;
  /** Hoist's own commit that carries this promotion, when one already landed it. */
  findLanded(edit: ImageEdit): Promise<string | undefined>;
}

export interface PlannedFile {
  path: string;
  original: string;
  text: string;
  lastCommitId?: string | undefined;
  edits: ImageEdit[];
  /** Per image, the entry as this batch's edits leave it (the editor's answer: no re-parse of the file). */
  after: Map<string, ImageEntry>;
  /** Per image touched, its tag in `original`. */
  originalTags: Map<string, string | undefined>;
  /** Per app, the newest Hoist trailer group for this file's environment (read lazily). */
  landed?: Map<string, LandedGroup>;
}

export interface Plan {
  files: PlannedFile[];
  items: Map<ImageEdit, ItemOutcome>;
}

const imageKey = (e: ImageEdit) => `${e.env}\0${e.path}\0${e.image}`;

/**
 * What an edit writes: the tag, and beside it the digest where the environment pins (`pin: digest`). Everywhere else
 * the tag alone, which drops a digest left from an earlier pin: kustomize would let it win over the new tag.
 */
export const changeOf = (e: ImageEdit): ImageChange => (e.pinDigest && e.digest ? { name: e.image, tag: e.tag, digest: e.digest } : { name: e.image, tag: e.tag });

/** An earlier attempt of a promotion started no earlier than an hour before it was created. */
export const landedSince = (edit: ImageEdit) => new Date(Date.parse(edit.createdAt) - 3_600_000);

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

/** The outcome of every promotion of the batch, in the order they came, superseded ones included. */
export function outcomes(edits: readonly ImageEdit[], superseded: ReadonlyMap<string, string>, items: ReadonlyMap<ImageEdit, ItemOutcome>, commit: string | undefined): EditOutcome[] {
  return [...new Set(edits.map((e) => e.promotionId))].map((promotionId): EditOutcome => {
    const reason = superseded.get(promotionId);
    if (reason) return { promotionId, state: 'skipped', reason };
    return aggregate(promotionId, [...items].filter(([e]) => e.promotionId === promotionId), commit);
  });
}

/** The first kustomization file in an overlay directory, in kustomize's order. */
export async function locateKustomization(overlay: string, read: (path: string) => Promise<KustomizationFile | undefined>): Promise<KustomizationFile | undefined> {
  for (const name of KUSTOMIZATION_FILES) {
    const found = await read(posix.join(overlay, name));
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Every entry of the edited file that no edit is meant for is as it was at the base, and each edited image reads
 * exactly as intended: the last word before bytes leave for the GitOps repository.
 */
function checkEntries(editor: ImageEditor, file: PlannedFile): void {
  const before = editor.entries(file.original);
  const after = editor.entries(file.text);
  const refuse = (why: string) => {
    throw new HoistError('kustomization_invalid', `refusing to write ${file.path}: ${why}`, { retryable: false });
  };
  const edited = new Set(file.edits.map((e) => e.image));
  const appended = [...edited].filter((name) => !before.some((e) => e.name === name));
  if (after.length !== before.length + appended.length) refuse(`it would have ${after.length} images entries instead of ${before.length + appended.length}`);
  before.forEach((entry, i) => {
    const expected = edited.has(entry.name) ? file.after.get(entry.name) : entry;
    if (!isDeepStrictEqual(after[i], expected)) refuse(`images[${i}] (${entry.name}) would change in a way no edit asked for`);
  });
  appended.forEach((name, i) => {
    if (!isDeepStrictEqual(after[before.length + i], file.after.get(name))) refuse(`the appended entry for ${name} is not the intended one`);
  });
}

export function createPlanner(editor: ImageEditor) {
  /** Takes an edit's result into the file, with the entry it leaves. */
  const keep = (file: PlannedFile, edit: ImageEdit, result: EditResult): void => {
    file.text = result.text;
    file.after.set(edit.image, result.changed ? result.after : result.entry);
    file.edits.push(edit);
  };

  /** Re-applies `edits` to the file's original text, dropping (as failed) any that no longer apply. */
  const rebuild = (file: PlannedFile, edits: readonly ImageEdit[], items: Map<ImageEdit, ItemOutcome>): void => {
    file.text = file.original;
    file.edits = [];
    file.after = new Map();
    for (const edit of edits) {
      try {
        keep(file, edit, editor.setImage(file.text, changeOf(edit)));
      } catch (error) {
        items.set(edit, { state: 'failed', error: toHoistError(error).message });
      }
    }
  };

  /**
   * Pipelines finish out of order: an older pipeline must not overwrite the tag a newer one landed. The running
   * tag counts as the newer pipeline's only while it is still the tag in the file (a hand edit since then means we
   * do not know where it came from), and only Hoist's own commits say which pipeline landed it.
   */
  const newerPipeline = async (source: PlanSource, file: PlannedFile, edit: ImageEdit): Promise<string | undefined> => {
    if (edit.source.kind !== 'pipeline') return undefined;
    if (!file.landed) {
      file.landed = new Map();
      for (const group of await source.landings(file.path)) {
        if (group.env === edit.env && !file.landed.has(group.app)) file.landed.set(group.app, group);
      }
    }
    const landed = file.landed.get(edit.app);
    if (!landed || file.originalTags.get(edit.image) !== landed.tag) return undefined;
    const newer = newerRunningPipeline(edit.source, landed.source);
    return newer === undefined ? undefined : `pipeline ${edit.source.pipelineId} is older than pipeline ${newer}, whose tag ${landed.tag} ${edit.env} already runs`;
  };

  /**
   * A release train lands whole or not at all: drops every edit of a promotion that has a failed item, rebuilds the
   * files it touched, and lets the writer check each rebuilt file again (`recheck` may fail more edits).
   */
  const dropFailedTrains = async (plan: Plan, recheck?: (file: PlannedFile) => Promise<void>): Promise<void> => {
    for (;;) {
      const failedPromotions = new Set([...plan.items].filter(([, o]) => o.state === 'failed').map(([e]) => e.promotionId));
      const affected = plan.files.filter((f) => f.edits.some((e) => failedPromotions.has(e.promotionId)));
      if (affected.length === 0) return;
      for (const file of affected) {
        for (const e of file.edits) if (failedPromotions.has(e.promotionId)) plan.items.set(e, { state: 'skipped', reason: 'not applied: another app of this release train failed' });
        rebuild(file, file.edits.filter((e) => !failedPromotions.has(e.promotionId)), plan.items);
        await recheck?.(file);
      }
    }
  };

  return {
    rebuild,
    dropFailedTrains,

    /** Decides every edit against the head `source` reads: already landed, skipped, failed, or landing in a file. */
    async plan(edits: readonly ImageEdit[], source: PlanSource): Promise<Plan> {
      const items = new Map<ImageEdit, ItemOutcome>();
      const files = new Map<string, PlannedFile | undefined>();
      const fail = (edit: ImageEdit, error: unknown) => {
        if (isHoistError(error) && error.retryable) throw error;
        items.set(edit, { state: 'failed', error: toHoistError(error).message });
      };
      for (const edit of edits) {
        if (edit.mayHaveLanded) {
          const landed = await source.findLanded(edit);
          if (landed) {
            items.set(edit, { state: 'committed', commit: landed });
            continue;
          }
        }
        const overlay = posix.normalize(edit.path).replace(/\/+$/, '');
        if (!files.has(overlay)) {
          const found = await locateKustomization(overlay, source.readFile);
          files.set(overlay, found && { path: found.path, original: found.text, text: found.text, lastCommitId: found.lastCommitId, edits: [], after: new Map(), originalTags: new Map() });
        }
        const file = files.get(overlay);
        if (!file) {
          items.set(edit, { state: 'failed', error: `overlay "${edit.path}" of environment ${edit.env} has no kustomization.yaml on the GitOps branch` });
          continue;
        }
        // An edit the editor cannot do in place parses the whole kustomization: let waiting webhooks in between.
        if (file.edits.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        let result: EditResult;
        try {
          result = editor.setImage(file.text, changeOf(edit));
        } catch (error) {
          fail(edit, error);
          continue;
        }
        // The editor's answer also says which tag the original had.
        if (!file.originalTags.has(edit.image)) file.originalTags.set(edit.image, (result.changed ? result.before : result.entry)?.newTag);
        const newer = await newerPipeline(source, file, edit);
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
          const landed = await source.findLanded(edit);
          items.set(edit, landed ? { state: 'committed', commit: landed } : { state: 'skipped', reason: `${edit.env} already runs ${edit.image}:${edit.tag}${edit.pinDigest && edit.digest ? `@${edit.digest}` : ''}` });
        } catch (error) {
          fail(edit, error);
        }
      }
      return { files: [...files.values()].filter((f): f is PlannedFile => f !== undefined), items };
    },

    /**
     * The files to write and the edits they land. Edits that end where a file started (v2, then a rollback to the
     * running v1) leave it out; every file left is checked entry by entry against its original, and a file that
     * fails the check fails its edits (and their release trains, whose other files `recheck` sees again).
     */
    async finish(plan: Plan, recheck?: (file: PlannedFile) => Promise<void>): Promise<{ changed: PlannedFile[]; landing: ImageEdit[] }> {
      for (;;) {
        let refused = false;
        for (const file of plan.files) {
          if (file.edits.length === 0) continue;
          if (file.text === file.original) {
            for (const e of file.edits) plan.items.set(e, { state: 'skipped', reason: `${e.env} already runs ${e.image}:${file.after.get(e.image)?.newTag ?? e.tag}: the edits of this batch cancel out` });
            file.edits = [];
            continue;
          }
          try {
            checkEntries(editor, file);
          } catch (error) {
            for (const e of file.edits) plan.items.set(e, { state: 'failed', error: toHoistError(error).message });
            rebuild(file, [], plan.items);
            refused = true;
          }
        }
        if (!refused) break;
        await dropFailedTrains(plan, recheck);
      }
      const changed = plan.files.filter((f) => f.edits.length > 0);
      const landing = [...plan.items].filter(([e, o]) => o.state === 'landing' && changed.some((f) => f.edits.includes(e))).map(([e]) => e);
      return { changed, landing };
    },
  };
}

export type Planner = ReturnType<typeof createPlanner>;
