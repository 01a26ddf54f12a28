import { posix } from 'node:path';
import type { Logger } from 'pino';
import type { EditOutcome, ImageEdit, RepoWriter } from '../domain/ports.js';
import { isHoistError, toHoistError } from '../errors.js';
import type { GitlabApi } from '../gitlab/api.js';
import { KUSTOMIZATION_FILES, findRenderedImages, setImage, type ImageEntry, type Renderer } from '../kustomize/index.js';
import { checkImages, renderedImages } from '../kustomize/render.js';
import { buildCommitMessage } from './commit-message.js';
import { renderedDiff } from './rendered-diff.js';
import { renderBudgetMs } from './render-cache.js';
import type { Workspace } from './workspace.js';

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
 */
export function createMergeRequestWriter(options: MergeRequestWriterOptions): RepoWriter {
  const { workspace, renderer, gitlab, project, branch, logger } = options;

  const locate = async (overlay: string) => {
    for (const name of KUSTOMIZATION_FILES) {
      const path = posix.join(overlay, name);
      const text = await workspace.readFile(path);
      if (text !== undefined) return { path, text };
    }
    return undefined;
  };

  const openOne = async (edits: readonly ImageEdit[]): Promise<EditOutcome> => {
    const [first] = edits as [ImageEdit];
    const promotionId = first.promotionId;
    await workspace.sync();
    if (first.mayHaveLanded) {
      const landed = await workspace.findPromotionCommit(promotionId, new Date(Date.parse(first.createdAt) - 3_600_000));
      if (landed) return { promotionId, state: 'committed', commit: landed };
    }
    const found = await locate(first.path);
    if (!found) return { promotionId, state: 'failed', error: `overlay "${first.path}" of environment ${first.env} has no kustomization.yaml on the GitOps branch` };
    let text = found.text;
    // Per image, the entry the edits leave (the editor's answer: no re-parse of the file for the check).
    const entries = new Map<string, ImageEntry>();
    try {
      for (const edit of edits) {
        const result = setImage(text, { name: edit.image, tag: edit.tag });
        text = result.text;
        entries.set(edit.image, result.changed ? result.after : result.entry);
      }
    } catch (error) {
      return { promotionId, state: 'failed', error: toHoistError(error).message };
    }
    if (text === found.text) {
      return { promotionId, state: 'skipped', reason: `${first.env} already runs ${edits.map((e) => `${e.image}:${e.tag}`).join(', ')}` };
    }
    const dir = posix.join(workspace.dir, first.path);
    let before: string;
    let after: string;
    try {
      // Large overlays take kustomize minutes (images × resources); the default 30 s would fail them for good.
      const timeoutMs = await renderBudgetMs(workspace, found.path, text);
      before = await renderer.render(dir, { timeoutMs }).catch(() => '');
      await workspace.writeFile(found.path, text);
      after = await renderer.render(dir, { timeoutMs });
      checkImages(dir, await renderedImages(async () => findRenderedImages(after), dir), [...entries.values()]);
    } catch (error) {
      if (isHoistError(error) && error.retryable) throw error;
      return { promotionId, state: 'failed', error: toHoistError(error).message };
    }
    const message = buildCommitMessage(edits);
    await workspace.commit(message, [found.path]);
    const source = mergeRequestBranch(first);
    // Forced: a re-run rebuilds the branch on the current head, and the open merge request follows it.
    await workspace.pushTo(source, { force: true });
    const diff = await renderedDiff(before, after, first.path, options.gitEnv);
    const title = message.split('\n')[0] as string;
    const body = description(edits, diff, first.path);
    const open = await gitlab.findOpenMergeRequest({ project, sourceBranch: source, targetBranch: branch });
    const mr = open
      ? await gitlab.updateMergeRequest({ project, iid: open.iid, title, description: body })
      : await gitlab.createMergeRequest({ project, sourceBranch: source, targetBranch: branch, title, description: body, removeSourceBranch: true });
    logger.info({ promotionId, mergeRequest: mr.iid, branch: source, updated: open !== undefined }, open ? 'merge request updated' : 'merge request opened');
    return { promotionId, state: 'awaiting-merge', mergeRequest: { iid: mr.iid, url: mr.webUrl, branch: source } };
  };

  return {
    async apply(edits) {
      const byPromotion = new Map<string, ImageEdit[]>();
      for (const edit of edits) byPromotion.set(edit.promotionId, [...(byPromotion.get(edit.promotionId) ?? []), edit]);
      const outcomes: EditOutcome[] = [];
      for (const group of byPromotion.values()) {
        try {
          outcomes.push(await openOne(group));
        } catch (error) {
          const e = toHoistError(error);
          // A retryable failure leaves the job to BullMQ's backoff; the rest of the batch still gets its answer.
          if (e.retryable && byPromotion.size === 1) throw e;
          outcomes.push({ promotionId: (group[0] as ImageEdit).promotionId, state: 'failed', error: e.message });
        }
      }
      return outcomes;
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
