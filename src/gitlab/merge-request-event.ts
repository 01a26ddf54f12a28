import { z } from 'zod';

/**
 * The fields of a GitLab "Merge Request Hook" that Hoist uses (a `write: merge-request` promotion
 * completes when its merge request is merged). Shape from GitLab's webhook events docs
 * (doc/user/project/integrations/webhook_events.md, "Merge request events"); see
 * test/fixtures/gitlab/merge-request-event.json. Everything else in the payload is allowed and kept.
 */
export const mergeRequestEventSchema = z
  .object({
    object_kind: z.literal('merge_request'),
    project: z
      .object({
        id: z.number().int().positive(),
        path_with_namespace: z.string().min(1),
      })
      .loose(),
    object_attributes: z
      .object({
        iid: z.number().int().positive(),
        state: z.string().min(1),
        action: z.string().nullish(),
        source_branch: z.string().min(1),
        target_branch: z.string().min(1),
        // Not in the docs' example, but GitLab sends it (a safe hook attribute) once merged.
        merge_commit_sha: z.string().nullish(),
      })
      .loose(),
  })
  .loose();

export type MergeRequestEvent = z.output<typeof mergeRequestEventSchema>;

/** What changed on a merge request, in the terms the rest of Hoist speaks. */
export interface MergeRequestChange {
  /** The project the hook belongs to (the merge request's target project), `path_with_namespace`. */
  project: string;
  projectId: number;
  iid: number;
  /** `opened`, `closed`, `merged` or `locked`. */
  state: string;
  /** `open`, `close`, `reopen`, `update`, `approved`, `unapproved`, `approval`, `unapproval`, `merge`. */
  action?: string | undefined;
  sourceBranch: string;
  targetBranch: string;
  mergeCommitSha?: string | undefined;
}

export function toMergeRequestChange(payload: MergeRequestEvent): MergeRequestChange {
  const attrs = payload.object_attributes;
  return {
    project: payload.project.path_with_namespace,
    projectId: payload.project.id,
    iid: attrs.iid,
    state: attrs.state,
    action: attrs.action ?? undefined,
    sourceBranch: attrs.source_branch,
    targetBranch: attrs.target_branch,
    mergeCommitSha: attrs.merge_commit_sha || undefined,
  };
}
