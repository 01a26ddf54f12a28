import { posix } from 'node:path';
import type { ImageEdit, Previewer } from '../domain/ports.js';
import { isHoistError, toHoistError } from '../errors.js';
import { createImageEditor, type Renderer } from '../kustomize/index.js';
import { createPlanner, outcomes } from './planner.js';
import { renderBudgetMs } from './render-cache.js';
import { renderedDiff } from './rendered-diff.js';
import type { Workspace } from './workspace.js';
import { workspaceSource } from './writer.js';

type Preview = Awaited<ReturnType<Previewer['preview']>>;

/**
 * Previews for the board's Promote dialog and `hoist diff`: the writers' own planner on a clone of its own (the
 * writer's clone belongs to whoever holds the repo's write lock), then two renders and the rendered diff. One
 * preview at a time per process; each starts from a freshly synced head.
 */
export function createPreviewer(options: { workspace: Workspace; renderer: Renderer; gitEnv: NodeJS.ProcessEnv }): Previewer {
  const { workspace, renderer } = options;
  const planner = createPlanner(createImageEditor());
  const source = workspaceSource(workspace);
  let chain: Promise<unknown> = Promise.resolve();

  const run = async (edits: readonly ImageEdit[]): Promise<Preview> => {
    await workspace.sync();
    const plan = await planner.plan(edits, source);
    await planner.dropFailedTrains(plan);
    const { changed, landing } = await planner.finish(plan);
    if (landing.length === 0) {
      const [outcome] = outcomes(edits, new Map(), plan.items, undefined);
      if (outcome?.state === 'failed') return { outcome: 'refused', reason: outcome.error, files: [], diff: '' };
      return { outcome: 'no-change', reason: outcome?.state === 'skipped' ? outcome.reason : undefined, files: [], diff: '' };
    }
    const diffs: string[] = [];
    try {
      for (const file of changed) {
        const overlay = posix.dirname(file.path);
        const dir = posix.join(workspace.dir, overlay);
        const timeoutMs = await renderBudgetMs(workspace, file.path, file.text);
        const before = await renderer.render(dir, { timeoutMs, root: workspace.dir }).catch(() => '');
        await workspace.writeFile(file.path, file.text);
        const after = await renderer.render(dir, { timeoutMs, root: workspace.dir });
        diffs.push(await renderedDiff(before, after, overlay, options.gitEnv));
      }
    } catch (error) {
      if (isHoistError(error) && error.retryable) throw error;
      return { outcome: 'refused', reason: toHoistError(error).message, files: changed.map((f) => f.path), diff: diffs.join('') };
    }
    // Nothing to undo here: the next sync finds files written since and checks the head out again.
    return { outcome: 'changes', files: changed.map((f) => f.path), diff: diffs.filter(Boolean).join('\n') };
  };

  return {
    preview(edits) {
      const next = chain.then(() => run(edits));
      chain = next.catch(() => undefined);
      return next;
    },
  };
}
