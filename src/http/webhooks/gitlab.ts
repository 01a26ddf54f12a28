import { Hono } from 'hono';
import type { Logger } from 'pino';
import { HoistError, isHoistError } from '../../errors.js';
import type { WebhookOutcome } from '../../observability/metrics.js';
import { pipelineEventSchema, toPipelineBuild } from '../../gitlab/events.js';
import type { PipelineIntake } from '../../service/pipeline-intake.js';
import { mergeRequestEventSchema, toMergeRequestChange } from '../../gitlab/merge-request-event.js';
import { noteEventSchema, toNoteComment, type NoteComment } from '../../gitlab/note-event.js';
import { verifyStandardWebhook } from '../../gitlab/signing.js';
import { secretMatcher } from '../auth.js';
import type { HttpEnv } from '../types.js';

export interface GitlabWebhookDeps {
  /** X-Gitlab-Token's expected value, when set. */
  webhookSecret?: string | undefined;
  /** A signed webhook's `whsec_…` token, when set: the Standard Webhooks headers are verified. */
  signingToken?: string | undefined;
  intake: PipelineIntake;
  /** Merge Request Hooks of the GitOps project complete `write: merge-request` promotions. */
  mergeRequests?: { event(change: ReturnType<typeof toMergeRequestChange>): Promise<{ promotionId?: string; state?: string; ignored?: string }> } | undefined;
  /** Note Hooks: `/hoist …` in comments; absent without gitlab.url and gitlab.token (Hoist could not answer). */
  comments?: { event(comment: NoteComment): Promise<{ ignored: string } | Record<string, unknown>> } | undefined;
  now?: () => Date;
  logger: Logger;
  /** Counts each delivery's outcome (metrics). */
  onOutcome?: (outcome: WebhookOutcome) => void;
}

function issuesText(error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> }): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`)
    .join('; ');
}

/**
 * GitLab's Pipeline Hook, and the Merge Request Hook (GitOps project) and Note Hook (`/hoist` comments). Order matters: size limit (mounted on the route group, src/http/app.ts), then the
 * token, then parsing; the answer comes as soon as the jobs are in Redis, because GitLab waits 10 s and
 * disables hooks that keep failing.
 */
export function gitlabWebhook(deps: GitlabWebhookDeps) {
  const secretMatches = deps.webhookSecret === undefined ? undefined : secretMatcher(deps.webhookSecret);
  return new Hono<HttpEnv>().post(
    '/',
    async (c, next) => {
      try {
        await next();
      } catch (error) {
        deps.onOutcome?.(isHoistError(error) && error.code === 'unavailable' ? 'unavailable' : 'rejected');
        throw error;
      }
      const status = c.res.status;
      deps.onOutcome?.(status === 202 ? 'accepted' : status === 200 ? 'ignored' : status === 503 ? 'unavailable' : 'rejected');
    },
    async (c) => {
      const signature = c.req.header('webhook-signature');
      // Signed webhooks sign the exact bytes, so the body is read before it is trusted (the size is already checked).
      const text = deps.signingToken !== undefined && signature !== undefined ? await c.req.text() : undefined;
      if (text !== undefined) {
        const verdict = verifyStandardWebhook({
          secret: deps.signingToken as string,
          id: c.req.header('webhook-id'),
          timestamp: c.req.header('webhook-timestamp'),
          signature,
          body: text,
          now: (deps.now ?? (() => new Date()))(),
        });
        if (!verdict.ok) throw new HoistError('unauthorized', `signed webhook rejected: ${verdict.reason}`);
      } else if (secretMatches === undefined || !secretMatches(c.req.header('x-gitlab-token'))) {
        throw new HoistError(
          'unauthorized',
          deps.webhookSecret === undefined ? 'missing webhook-signature: this hook must be a signed webhook (gitlab.signingToken)' : 'missing or wrong X-Gitlab-Token',
        );
      }
      const contentType = c.req.header('content-type') ?? '';
      if (!/^application\/json\s*(;|$)/i.test(contentType)) {
        return c.json({ error: `content type must be application/json, got "${contentType || 'none'}"`, code: 'bad_request' }, 415);
      }
      const raw = text ?? (await c.req.text());
      if (raw.trim() === '') throw new HoistError('bad_request', 'empty body: expected a GitLab webhook JSON payload');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch (error) {
        throw new HoistError('bad_request', `body is not valid JSON: ${(error as Error).message}`);
      }
      const event = c.req.header('x-gitlab-event');
      if (event === 'Merge Request Hook' && deps.mergeRequests) {
        const parsedMr = mergeRequestEventSchema.safeParse(body);
        if (!parsedMr.success) throw new HoistError('bad_request', `not a usable Merge Request Hook payload: ${issuesText(parsedMr.error)}`);
        const result = await deps.mergeRequests.event(toMergeRequestChange(parsedMr.data));
        deps.logger.info({ requestId: c.get('requestId'), ...result }, 'merge request event');
        return c.json(result, result.ignored ? 200 : 202);
      }
      if (event === 'Note Hook') {
        if (!deps.comments) return c.json({ ignored: '/hoist in GitLab comments needs gitlab.url and gitlab.token (Hoist answers with a comment)' }, 200);
        const parsedNote = noteEventSchema.safeParse(body);
        if (!parsedNote.success) throw new HoistError('bad_request', `not a usable Note Hook payload: ${issuesText(parsedNote.error)}`);
        const result = await deps.comments.event(toNoteComment(parsedNote.data));
        deps.logger.info({ requestId: c.get('requestId'), ...result }, 'note event');
        return c.json(result, 'ignored' in result ? 200 : 202);
      }
      if (event !== 'Pipeline Hook') {
        return c.json({ ignored: `event "${event ?? '(no X-Gitlab-Event header)'}" is not a Pipeline Hook` }, 200);
      }
      const parsed = pipelineEventSchema.safeParse(body);
      if (!parsed.success) throw new HoistError('bad_request', `not a usable Pipeline Hook payload: ${issuesText(parsed.error)}`);
      const build = toPipelineBuild(parsed.data);
      // Idempotency-Key (GitLab 17.4+) survives retries and manual resends; the event UUID is the older equivalent.
      const deliveryKey =
        c.req.header('idempotency-key') ?? c.req.header('x-gitlab-event-uuid') ?? `pipeline:${build.project}:${build.pipelineId}:${build.status}`;
      const result = await deps.intake.accept(build, deliveryKey, c.get('requestId'));
      // One log call, no child logger: this line is on the path of every webhook.
      const fields = { requestId: c.get('requestId'), project: build.project, pipelineId: build.pipelineId };
      if (result.kind === 'ignored') {
        deps.logger.info({ ...fields, reason: result.reason }, 'pipeline ignored');
        return c.json({ ignored: result.reason }, 200);
      }
      deps.logger.info({ ...fields, promotions: result.promotions.map((p) => p.id) }, 'promotions queued');
      return c.json(
        {
          promotions: result.promotions.map(({ id, app, env, tag }) => ({ id, app, env, tag })),
          ...(result.ignored.length > 0 ? { ignored: result.ignored.join('; ') } : {}),
        },
        202,
      );
    },
  );
}
