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

/**
 * `release/*` style patterns, as users write them for GitLab's protected branches: `*` matches any run of
 * characters (`/` included), everything else is literal. Matched in linear time, without a regex: the first
 * part must start the ref, the last must end it, and each part between is taken at its first place after the
 * one before. Taking the first place is never wrong for `*`-only globs, since a later place leaves less room.
 */
export function branchMatches(pattern: string, ref: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === ref;
  const first = parts[0] as string;
  const last = parts[parts.length - 1] as string;
  if (ref.length < first.length + last.length || !ref.startsWith(first) || !ref.endsWith(last)) return false;
  let at = first.length;
  const end = ref.length - last.length;
  for (const part of parts.slice(1, -1)) {
    if (part === '') continue;
    const found = ref.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
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
