import { z } from 'zod';

export const PROMOTION_QUEUE = 'hoist-promotions';
export const PROMOTE_JOB = 'promote';

/** The job carries the whole request, so a job whose record was never written can still be run and shown. */
export const promotionJobSchema = z.object({
  promotionId: z.string().min(1),
  request: z.object({
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
  }),
  createdAt: z.string(),
});

export type PromotionJob = z.output<typeof promotionJobSchema>;
