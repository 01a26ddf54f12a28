import { posix } from 'node:path';
import type { Logger } from 'pino';
import type { EditOutcome, ImageEdit, RepoWriter } from '../domain/ports.js';
import { isHoistError, toHoistError } from '../errors.js';
import type { GitlabApi } from '../gitlab/api.js';
import { createImageEditor, findRenderedImages, type Renderer } from '../kustomize/index.js';
import { checkImages, renderedImages } from '../kustomize/render.js';
import { buildCommitMessage } from './commit-message.js';
import { createPlanner, outcomes, supersede, type PlannedFile } from './planner.js';
import { renderedDiff } from './rendered-diff.js';
import { renderBudgetMs } from './render-cache.js';
import type { Workspace } from './workspace.js';
import { workspaceSource } from './writer.js';

export interface MergeRequestWriterOptions {
  workspace: Workspace;
  renderer: Renderer;
  gitlab: GitlabApi;
  /** The GitOps repository's GitLab project (path_with_namespace). */
  project: string;
  /** The GitOps branch merge requests target. */
  branch: string;
  logger: Logger;
  /** Environment for the `git diff` of the renders. */
  gitEnv: NodeJS.ProcessEnv;
}

/** GitLab refuses descriptions over 1,048,576 characters; leave room for the text around the diff. */
const MAX_DIFF_CHARS = 900_000;

/** `hoist/<env>/<app>-<tag>`: the same promotion always maps to the same branch, so a re-run updates its MR. */
export function mergeRequestBranch(edit: Pick<ImageEdit, 'env' | 'app' | 'tag'>): string {
  return `hoist/${edit.env}/${edit.app}-${edit.tag}`.replace(/[^A-Za-z0-9._/-]/g, '-').replace(/\.{2,}/g, '.').replace(/\.lock$/, '-lock');
}

function description(edits: readonly ImageEdit[], diff: string, overlay: string): string {
  const [first] = edits as [ImageEdit];
  const lines = [
    `Hoist promotes to **${first.env}** (\`${overlay}\`):`,
    '',
    '| app | image | tag |',
    '|---|---|---|',
    ...edits.map((e) => `| ${e.app} | \`${e.image}\` | \`${e.tag}\` |`),
    '',
    first.source.kind === 'pipeline' ? `Built by ${first.source.url || `${first.source.project} pipeline ${first.source.pipelineId}`}.` : `Kind: ${first.source.kind}${first.requestedBy ? `, requested by ${first.requestedBy}` : ''}.`,
    `Promotion \`${first.promotionId}\`: Hoist marks it committed when this merge request is merged.`,
    '',
    '### Rendered manifests (`kustomize build`, before → after)',
    '',
  ];
  if (diff === '') lines.push('_The rendered manifests do not change._');
  else {
    const cut = diff.length > MAX_DIFF_CHARS;
    lines.push('```diff', cut ? diff.slice(0, MAX_DIFF_CHARS) : diff, '```');
    if (cut) lines.push('', `_Diff cut at ${MAX_DIFF_CHARS} characters._`);
  }
  return lines.join('\n');
}

/**
 * `write: merge-request`: each promotion becomes a branch `hoist/<env>/<app>-<tag>` off the GitOps branch
 * with the same commit Hoist would push, and a merge request whose description holds the rendered diff.
 * Approvals then live in GitLab's own rules; the promotion completes when the merge request is merged.
 * The plan is the push writer's (already landed, ordering, supersede); each promotion is planned on the head alone,
 * since each merge request is merged on its own.
 */
export function createMergeRequestWriter(options: MergeRequestWriterOptions): RepoWriter {
  const { workspace, renderer, gitlab, project, branch, logger } = options;
  const planner = createPlanner(createImageEditor());
  const source = workspaceSource(workspace);

  const openOne = async (edits: readonly ImageEdit[]): Promise<EditOutcome> => {
    const [first] = edits as [ImageEdit];
    const promotionId = first.promotionId;
    const plan = await planner.plan(edits, source);
    const render = async (file: PlannedFile, timeoutMs: number) => renderer.render(posix.join(workspace.dir, posix.dirname(file.path)), { timeoutMs, root: workspace.dir });
    const diffs: string[] = [];
    const check = async (file: PlannedFile) => {
      if (file.edits.length === 0) return;
      const overlay = posix.dirname(file.path);
      try {
        // Large overlays take kustomize minutes (images × resources); the default 30 s would fail them for good.
        const timeoutMs = await renderBudgetMs(workspace, file.path, file.text);
        await workspace.writeFile(file.path, file.original);
        const before = await render(file, timeoutMs).catch(() => '');
        await workspace.writeFile(file.path, file.text);
        const after = await render(file, timeoutMs);
        const entries = [...new Set(file.edits.map((e) => e.image))].flatMap((name) => file.after.get(name) ?? []);
        checkImages(overlay, await renderedImages(async () => findRenderedImages(after), overlay), entries);
        diffs.push(await renderedDiff(before, after, overlay, options.gitEnv));
      } catch (error) {
        if (isHoistError(error) && error.retryable) throw error;
        for (const e of file.edits) plan.items.set(e, { state: 'failed', error: toHoistError(error).message });
        planner.rebuild(file, [], plan.items);
      }
    };
    for (const file of plan.files) await check(file);
    await planner.dropFailedTrains(plan, check);
    const { changed, landing } = await planner.finish(plan, check);
    // Nothing to open (already landed, skipped or failed): the plan's own outcome.
    if (landing.length === 0) return outcomes(edits, new Map(), plan.items, undefined)[0] as EditOutcome;
    const message = buildCommitMessage(landing);
    const commit = await workspace.commit(message, changed.map((f) => ({ path: f.path, text: f.text })));
    const sourceBranch = mergeRequestBranch(first);
    // Forced: a re-run rebuilds the branch on the current head, and the open merge request follows it.
    await workspace.pushTo(commit, sourceBranch, { force: true });
    const title = message.split('\n')[0] as string;
    const body = description(edits, diffs.filter(Boolean).join('\n'), first.path);
    const open = await gitlab.findOpenMergeRequest({ project, sourceBranch, targetBranch: branch });
    const mr = open
      ? await gitlab.updateMergeRequest({ project, iid: open.iid, title, description: body })
      : await gitlab.createMergeRequest({ project, sourceBranch, targetBranch: branch, title, description: body, removeSourceBranch: true });
    logger.info({ promotionId, mergeRequest: mr.iid, branch: sourceBranch, updated: open !== undefined }, open ? 'merge request updated' : 'merge request opened');
    return { promotionId, state: 'awaiting-merge', mergeRequest: { iid: mr.iid, url: mr.webUrl, branch: sourceBranch } };
  };

  return {
    async apply(edits) {
      const { kept, superseded } = supersede(edits);
      const byPromotion = new Map<string, ImageEdit[]>();
      for (const edit of kept) byPromotion.set(edit.promotionId, [...(byPromotion.get(edit.promotionId) ?? []), edit]);
      const results = new Map<string, EditOutcome>();
      // One fetch for the batch: every merge request is built on the same head, none moves the branch.
      await workspace.sync();
      for (const group of byPromotion.values()) {
        const promotionId = (group[0] as ImageEdit).promotionId;
        try {
          results.set(promotionId, await openOne(group));
        } catch (error) {
          const e = toHoistError(error);
          // A retryable failure leaves the job to BullMQ's backoff; the rest of the batch still gets its answer.
          if (e.retryable && byPromotion.size === 1) throw e;
          results.set(promotionId, { promotionId, state: 'failed', error: e.message });
        }
      }
      return [...new Set(edits.map((e) => e.promotionId))].map(
        (id): EditOutcome => results.get(id) ?? { promotionId: id, state: 'skipped', reason: superseded.get(id) ?? 'superseded in the same batch' },
      );
    },
  };
}

/** Routes each environment's edits to the writer of its `write` mode; outcomes keep the edits' order. */
export function createRoutingWriter(writers: Partial<Record<'push' | 'merge-request' | 'api', RepoWriter>>, modeOf: (env: string) => 'push' | 'merge-request' | 'api'): RepoWriter {
  return {
    async apply(edits) {
      const groups = new Map<'push' | 'merge-request' | 'api', ImageEdit[]>();
      for (const edit of edits) {
        const mode = modeOf(edit.env);
        groups.set(mode, [...(groups.get(mode) ?? []), edit]);
      }
      const byId = new Map<string, EditOutcome>();
      for (const [mode, group] of groups) {
        const writer = writers[mode];
        if (!writer) {
          for (const e of group) byId.set(e.promotionId, { promotionId: e.promotionId, state: 'failed', error: `environment ${e.env} writes by ${mode}, which needs gitlab.url, gitlab.token and gitops.project` });
          continue;
        }
        for (const outcome of await writer.apply(group)) byId.set(outcome.promotionId, outcome);
      }
      return [...new Set(edits.map((e) => e.promotionId))].flatMap((id) => (byId.has(id) ? [byId.get(id) as EditOutcome] : []));
    },
  };
}
