import type { App, Environment } from './types.js';

/** A pipeline as the policy needs to see it (built from a GitLab event at the edge). */
export interface BuildFacts {
  project: string;
  ref: string;
  isTag: boolean;
  isMergeRequest: boolean;
  status: string;
  defaultBranch: string | undefined;
}

export type BuildDecision = { kind: 'promote'; apps: App[]; environments: Environment[] } | { kind: 'ignore'; reason: string };

/** `release/*` style patterns, as users write them for GitLab's protected branches. */
export function branchMatches(pattern: string, ref: string): boolean {
  if (!pattern.includes('*')) return pattern === ref;
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(ref);
}

export function autoEnvironments(environments: readonly Environment[]): Environment[] {
  return environments.filter((env) => env.promotion === 'auto');
}

/** Which apps a finished pipeline built, and which environments take them without asking anyone. */
export function decideBuild(build: BuildFacts, apps: readonly App[], environments: readonly Environment[]): BuildDecision {
  if (build.status !== 'success') return { kind: 'ignore', reason: `pipeline status is "${build.status}", not "success"` };
  const ofProject = apps.filter((app) => app.project === build.project);
  if (ofProject.length === 0) return { kind: 'ignore', reason: `project "${build.project}" is not configured` };
  const eligible = ofProject.filter((app) => {
    if (build.isMergeRequest && !app.mergeRequestPipelines) return false;
    if (app.branches !== undefined) return app.branches.some((pattern) => branchMatches(pattern, build.ref));
    return !build.isTag && build.defaultBranch !== undefined && build.ref === build.defaultBranch;
  });
  if (eligible.length === 0) {
    if (build.isMergeRequest && ofProject.every((app) => !app.mergeRequestPipelines)) {
      return { kind: 'ignore', reason: 'merge request pipelines are not promoted (set mergeRequestPipelines: true on the app to allow it)' };
    }
    return { kind: 'ignore', reason: `${build.isTag ? 'tag' : 'branch'} "${build.ref}" is not configured for project "${build.project}"` };
  }
  const targets = autoEnvironments(environments);
  if (targets.length === 0) return { kind: 'ignore', reason: 'no environment has promotion: auto' };
  return { kind: 'promote', apps: eligible, environments: targets };
}
