import { z } from 'zod';

export const PROMOTION_QUEUE = 'hoist-promotions';
export const PROMOTE_JOB = 'promote';
export const GATE_QUEUE = 'hoist-gates';
export const GATE_JOB = 'check-gates';

const pipelineRequestSchema = z.object({
  app: z.string(),
  env: z.string(),
  image: z.string(),
  path: z.string(),
  tag: z.string(),
  source: z.object({
    kind: z.literal('pipeline'),
    project: z.string(),
    pipelineId: z.number(),
    url: z.string(),
    ref: z.string(),
    sha: z.string(),
  }),
});

/**
 * A pipeline's job carries its whole request, so a job whose record was never written (a crash between
 * the two writes) can still be run and shown. Requested promotions are stored before their job exists.
 */
export const promotionJobSchema = z.object({
  promotionId: z.string().min(1),
  request: pipelineRequestSchema.optional(),
  createdAt: z.string(),
  /** The webhook's request id, so one id follows a promotion from delivery to commit in the logs. */
  requestId: z.string().optional(),
});

export type PromotionJob = z.output<typeof promotionJobSchema>;
export type PipelineRequest = z.output<typeof pipelineRequestSchema>;

export const gateJobSchema = z.object({ promotionId: z.string().min(1) });
export type GateJob = z.output<typeof gateJobSchema>;

/** Work after a commit: follow its deploy in Argo CD, or wait for its merge request to be merged. */
export const FOLLOWUP_QUEUE = 'hoist-followups';
export const DEPLOY_JOB = 'follow-deploy';
export const MERGE_JOB = 'follow-merge';

export const followupJobSchema = z.object({
  promotionId: z.string().min(1),
  /** How many checks came before this one (drives the backoff). */
  round: z.number().int().min(0).default(0),
  /** When following started (ISO), for the give-up deadline. */
  since: z.string(),
});
export type FollowupJob = z.output<typeof followupJobSchema>;

/** GitLab follow-ups, on the same queue: converge a promotion's deployments to their desired status; post a comment. */
export const GITLAB_DEPLOYMENT_JOB = 'gitlab-deployment';
export const GITLAB_NOTE_JOB = 'gitlab-note';

export const gitlabDeploymentJobSchema = z.object({
  promotionId: z.string().min(1),
  /** The desired status's version this job was queued for (its job id: a newer status gets a job of its own). */
  version: z.number().int().min(1),
});
export type GitlabDeploymentJob = z.output<typeof gitlabDeploymentJobSchema>;

const noteTargetSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('merge-request'), project: z.string().min(1), iid: z.number().int().positive(), discussionId: z.string().optional() }),
  z.object({ kind: z.literal('commit'), project: z.string().min(1), sha: z.string().min(7), discussionId: z.string().optional() }),
]);

export const gitlabNoteJobSchema = z.object({ target: noteTargetSchema, body: z.string().min(1).max(60_000) });
export type GitlabNoteJob = z.output<typeof gitlabNoteJobSchema>;

export type GitlabFollowupJob = GitlabDeploymentJob | GitlabNoteJob;
