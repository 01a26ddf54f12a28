import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { decideBuild } from '../domain/policy.js';
import type { App, Environment, Promotion } from '../domain/types.js';
import { HoistError, isHoistError } from '../errors.js';
import type { PipelineBuild } from '../gitlab/events.js';
import { renderTag, templateVariables } from '../gitlab/tag-template.js';
import type { BuildIndex } from '../store/builds.js';
import type { PromotionStore } from '../store/promotion-store.js';
import { PROMOTE_JOB, type PipelineRequest, type PromotionJob } from './promotion-job.js';

export interface AcceptedPromotion {
  id: string;
  app: string;
  env: string;
  tag: string;
  state: Promotion['state'];
}

export type IntakeResult =
  | { kind: 'ignored'; reason: string }
  | { kind: 'accepted'; promotions: AcceptedPromotion[]; ignored: string[] };

export interface PipelineIntakeDeps {
  apps: readonly App[];
  environments: readonly Environment[];
  queue: Queue<PromotionJob>;
  store: PromotionStore;
  /** Remembers where each tag was built, for promotions further up the chain (statuses, deployments, lead time). */
  builds?: BuildIndex | undefined;
  logger: Logger;
  now?: () => Date;
}

/** Same delivery, app and environment → same id, so a resent webhook maps onto the promotion it already made. */
export function promotionId(deliveryKey: string, app: string, env: string): string {
  return `p-${createHash('sha256').update(`${deliveryKey}\n${app}\n${env}`).digest('hex').slice(0, 24)}`;
}

export function createPipelineIntake(deps: PipelineIntakeDeps) {
  const now = deps.now ?? (() => new Date());
  return {
    /** Decides what a finished pipeline promotes and stores a job for each; nothing slow happens here. */
    async accept(build: PipelineBuild, deliveryKey: string, requestId?: string): Promise<IntakeResult> {
      const decision = decideBuild(build, deps.apps, deps.environments);
      if (decision.kind === 'ignore') return { kind: 'ignored', reason: decision.reason };
      const variables = templateVariables(build);
      const requests: PipelineRequest[] = [];
      const ignored: string[] = [];
      const built = new Map<string, string>();
      for (const app of decision.apps) {
        let tag: string;
        try {
          tag = renderTag(app.tag, variables);
        } catch (error) {
          if (!isHoistError(error)) throw error;
          ignored.push(`app ${app.name}: ${error.message}`);
          deps.logger.warn({ app: app.name, err: error.message }, 'tag template gave no valid tag');
          continue;
        }
        built.set(app.name, tag);
        for (const env of decision.environments) {
          requests.push({
            app: app.name,
            env: env.name,
            image: app.image,
            path: env.path,
            tag,
            source: { kind: 'pipeline', project: build.project, pipelineId: build.pipelineId, url: build.url, ref: build.ref, sha: build.sha },
          });
        }
      }
      if (requests.length === 0) return { kind: 'ignored', reason: ignored.join('; ') };
      const createdAt = now().toISOString();
      const promotions: AcceptedPromotion[] = [];
      for (const request of requests) {
        const id = promotionId(deliveryKey, request.app, request.env);
        try {
          // The job is the promise we make to GitLab: store it first; the record only mirrors it for the API.
          await deps.queue.add(PROMOTE_JOB, { promotionId: id, request, createdAt, ...(requestId ? { requestId } : {}) }, { jobId: id });
          const { promotion } = await deps.store.ensure({ ...request, id, state: 'queued', createdAt, updatedAt: createdAt, attempts: 0 });
          promotions.push({ id, app: request.app, env: request.env, tag: promotion.tag, state: promotion.state });
        } catch (cause) {
          // A write whose answer timed out may still have landed in Redis: say so, and why a resend is safe anyway.
          throw new HoistError(
            'unavailable',
            'the job queue (Redis) is unreachable or did not answer in time, so the webhook may or may not have been stored; ' +
              'resending it with the same Idempotency-Key is always safe: it maps onto the same job',
            { cause, retryable: true },
          );
        }
      }
      const facts = { project: build.project, sha: build.sha, ref: build.ref, isTag: build.isTag, pipelineId: build.pipelineId, ...(build.commitTimestamp ? { commitTimestamp: build.commitTimestamp } : {}) };
      try {
        // After the jobs: a failure here answers 503 and GitLab's resend maps onto the same jobs, then records again.
        for (const [app, tag] of built) await deps.builds?.record(app, tag, facts);
      } catch (cause) {
        throw new HoistError('unavailable', 'the build index (Redis) is unreachable; the promotions are queued, resending the webhook is safe', { cause, retryable: true });
      }
      return { kind: 'accepted', promotions, ignored };
    },
  };
}

export type PipelineIntake = ReturnType<typeof createPipelineIntake>;
