import type { PromotionSource } from './types.js';

/**
 * The pipeline a landed promotion came from, read back from its `Hoist-Source` trailer. GitLab pipeline
 * URLs are `<instance>/<project path>/-/pipelines/<id>`; an instance may live under a sub-path.
 */
export function pipelineFromSourceUrl(url: string): { projectPath: string; pipelineId: number } | undefined {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return undefined;
  }
  const match = /^\/(.+)\/-\/pipelines\/(\d+)\/?$/.exec(path);
  if (!match) return undefined;
  return { projectPath: decodeURIComponent(match[1] as string), pipelineId: Number(match[2]) };
}

/**
 * When `incoming` was built by an older pipeline of the same project than the one whose tag the
 * environment runs, returns that newer pipeline's id: the incoming promotion must not overwrite it.
 * GitLab pipeline ids only grow, so a lower id is an older pipeline.
 */
export function newerRunningPipeline(incoming: PromotionSource, runningSourceUrl: string): number | undefined {
  if (incoming.kind !== 'pipeline') return undefined;
  const running = pipelineFromSourceUrl(runningSourceUrl);
  if (!running) return undefined;
  const sameProject = `/${running.projectPath.toLowerCase()}`.endsWith(`/${incoming.project.toLowerCase()}`);
  return sameProject && running.pipelineId > incoming.pipelineId ? running.pipelineId : undefined;
}
