import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../store/redis-client.js';
import type { Logger } from 'pino';
import { parseCommand, runCommand, type ChatReply, type CommandContext, type ParsedCommand } from '../chatops/index.js';
import { bold, code, formatPromotion, formatServiceError, grammarText, plain } from '../chatops/replies.js';
import { TERMINAL_STATES, type App, type Environment, type Promotion } from '../domain/types.js';
import { HoistError, isHoistError, toHoistError } from '../errors.js';
import type { GitlabApi } from '../gitlab/api.js';
import type { PipelineBuild } from '../gitlab/events.js';
import type { NoteComment, NoteTarget } from '../gitlab/note-event.js';
import { renderTag, templateVariables } from '../gitlab/tag-template.js';
import type { BuildIndex } from '../store/builds.js';
import type { PromotionStore } from '../store/promotion-store.js';
import { createKeyedChains } from './keyed-chains.js';
import type { Actor, PromotionService, PromotionView } from './promotion-service.js';
import { GITLAB_NOTE_JOB, type GitlabFollowupJob, type GitlabNoteJob } from './promotion-job.js';
import { toView } from './promotions.js';

export interface GitlabCommentsDeps {
  gitlab: GitlabApi;
  service: PromotionService;
  builds: BuildIndex;
  /** Reads a promotion as stored, for the end-state note. */
  store: Pick<PromotionStore, 'get'>;
  redis: RedisClient;
  prefix: string;
  apps: readonly App[];
  environments: readonly Environment[];
  /** The GitOps repository's project: comments there count too. */
  gitopsProject?: string | undefined;
  followups: Queue<GitlabFollowupJob>;
  logger: Logger;
}

export type CommentOutcome = { ignored: string } | { note: number; command: ParsedCommand['kind'] | 'invalid'; promotions: string[] };

const COMMAND = /^\/hoist(?:[ \t]+(.*))?$/;
/** Notes are remembered for as long as GitLab redelivers and people edit old comments. */
const NOTE_TTL_SECONDS = 90 * 24 * 3600;
const WATCH_TTL_SECONDS = 30 * 24 * 3600;
const NOTE_ATTEMPTS = 8;

const ENDED: Readonly<Record<string, string>> = {
  committed: 'landed',
  degraded: 'degraded after it landed',
  skipped: 'was skipped',
  failed: 'failed',
  cancelled: 'was cancelled',
  superseded: 'was superseded',
};

/**
 * `/hoist …` in GitLab comments: a Note Hook on a merge request or a commit of a configured project runs the chat
 * grammar as the commenting GitLab user, under the same rbac and approvals, and Hoist answers with a note in the same
 * place (the same thread when there is one), later also with the promotion's end state. Comments by Hoist's own user
 * are ignored, and a note id runs once (an edit or a redelivery runs nothing twice).
 */
export function createGitlabComments(deps: GitlabCommentsDeps) {
  const { gitlab, redis, prefix, logger } = deps;
  const noteKey = (noteId: number) => `${prefix}:gitlab-note:${noteId}`;
  const watchKey = (promotionId: string) => `${prefix}:gitlab-watch:${promotionId}`;
  const toldKey = (promotionId: string, state: string) => `${prefix}:gitlab-watch-told:${promotionId}:${state}`;
  const chains = createKeyedChains((id, error) => logger.warn({ promotionId: id, err: toHoistError(error).message }, 'could not queue the end-state comment'));
  const projects = new Set([...deps.apps.map((a) => a.project.toLowerCase()), ...(deps.gitopsProject ? [deps.gitopsProject.toLowerCase()] : [])]);

  let self: Promise<{ id: number; username: string }> | undefined;
  /** Who Hoist is in GitLab, asked once (and again after a failure). */
  const selfUser = () => {
    self ??= gitlab.currentUser().catch((error: unknown) => {
      self = undefined;
      throw new HoistError('unavailable', `cannot tell whether this comment is Hoist's own: GET /user with gitlab.token failed: ${toHoistError(error).message}`, { cause: error });
    });
    return self;
  };

  const reply = async (target: NoteTarget, body: string, id: string) => {
    // Job ids are deterministic, so a retried webhook or observer queues one note, not two.
    const jobId = `gitlab-note-${createHash('sha256').update(`${id}\n${JSON.stringify(target)}`).digest('hex').slice(0, 32)}`;
    await deps.followups.add(GITLAB_NOTE_JOB, { target, body }, { jobId, attempts: NOTE_ATTEMPTS, backoff: { type: 'exponential', delay: 5_000 }, removeOnComplete: true, removeOnFail: 100 });
  };

  const endNote = (p: Promotion): string => {
    const view = toView(p, deps.environments.find((e) => e.name === p.env));
    return [`🏁 ${bold('gitlab', `Promotion ${p.id}`)} ${plain('gitlab', ENDED[p.state] ?? p.state)}:`, formatPromotion('gitlab', view)].join('\n');
  };

  /** Posts the end state to every comment thread that asked for this promotion, once per state. */
  const tellEnd = async (p: Promotion) => {
    const targets = await redis.smembers(watchKey(p.id));
    if (targets.length === 0) return;
    if ((await redis.set(toldKey(p.id, p.state), '1', 'EX', WATCH_TTL_SECONDS, 'NX')) !== 'OK') return;
    for (const raw of targets) await reply(JSON.parse(raw) as NoteTarget, endNote(p), `${p.id}:${p.state}`);
  };

  const watch = async (views: readonly PromotionView[], target: NoteTarget) => {
    for (const view of views) {
      if (TERMINAL_STATES.has(view.state)) continue;
      await redis.multi().sadd(watchKey(view.id), JSON.stringify(target)).expire(watchKey(view.id), WATCH_TTL_SECONDS).exec();
      // It may have ended between the command and the watch: look once more.
      const now = await deps.store.get(view.id);
      if (now && TERMINAL_STATES.has(now.state)) chains.run(view.id, () => tellEnd(now));
    }
  };

  /**
   * `promote <env>` in a merge request of a source project: the apps this project builds, at the tag each app's
   * template gives for the merge request's last pipeline.
   */
  const promoteFromMergeRequest = async (ctx: CommandContext, target: Extract<NoteTarget, { kind: 'merge-request' }>, env: string): Promise<ChatReply[]> => {
    const built = deps.apps.filter((a) => a.project.toLowerCase() === target.project.toLowerCase());
    const [pipeline] = await gitlab.listMergeRequestPipelines({ project: target.project, iid: target.iid });
    if (!pipeline) return [{ visibility: 'in_channel', text: `⚠️ merge request !${target.iid} has no pipeline yet: nothing was built to promote` }];
    if (pipeline.status !== 'success') {
      return [{ visibility: 'in_channel', text: `⚠️ the last pipeline of merge request !${target.iid} (${code('gitlab', `#${pipeline.id}`)}) is ${plain('gitlab', pipeline.status)}: promote once it has succeeded` }];
    }
    const build: PipelineBuild = {
      project: target.project,
      pipelineId: pipeline.id,
      pipelineIid: pipeline.iid,
      ref: pipeline.ref,
      isTag: false,
      sha: pipeline.sha,
      status: pipeline.status,
      isMergeRequest: pipeline.source === 'merge_request_event' || pipeline.ref.startsWith('refs/merge-requests/'),
      defaultBranch: undefined,
      url: '',
      variables: {},
    };
    const byTag = new Map<string, string[]>();
    for (const app of built) {
      let tag: string;
      try {
        tag = renderTag(app.tag, templateVariables(build));
      } catch (error) {
        if (!isHoistError(error)) throw error;
        return [{ visibility: 'in_channel', text: `⚠️ ${plain('gitlab', `app ${app.name}: ${error.message}`)}` }];
      }
      byTag.set(tag, [...(byTag.get(tag) ?? []), app.name]);
      // Deployments and the lead time need the source commit; a comment may be the first Hoist hears of this build.
      if (!(await deps.builds.get(app.name, tag))) await deps.builds.record(app.name, tag, { project: target.project, sha: pipeline.sha, ref: pipeline.ref, isTag: false, pipelineId: pipeline.id });
    }
    const replies: ChatReply[] = [];
    for (const [tag, apps] of byTag) replies.push(await runCommand({ kind: 'promote', apps, env, tag }, ctx));
    return replies;
  };

  return {
    /** A Note Hook, verified and parsed; answers what it did (or why it did nothing) as soon as the command ran. */
    async event(comment: NoteComment): Promise<CommentOutcome> {
      const line = comment.text.trimStart().split(/\r?\n/, 1)[0] ?? '';
      const match = COMMAND.exec(line.trimEnd());
      if (!match) return { ignored: 'not a /hoist command' };
      if (!projects.has(comment.project.toLowerCase())) return { ignored: `comment in ${comment.project}, which is neither an app's project nor the GitOps project` };
      const target = comment.target;
      if (!target) return { ignored: 'only comments on merge requests and commits run commands' };
      if (comment.system) return { ignored: 'a system note' };
      const me = await selfUser();
      if (comment.author.id === me.id || comment.author.username === me.username) return { ignored: "a comment by Hoist's own user" };
      if ((await redis.set(noteKey(comment.noteId), '1', 'EX', NOTE_TTL_SECONDS, 'NX')) !== 'OK') {
        return { ignored: `note ${comment.noteId} was taken already (an edit or a redelivery runs nothing twice)` };
      }
      const log = logger.child({ gitlabNote: comment.noteId, project: comment.project, user: comment.author.username });
      const actor: Actor = { name: comment.author.username, via: 'gitlab' };
      const ctx: CommandContext = { service: deps.service, flavor: 'gitlab', platform: 'GitLab', userId: comment.author.username, actor, commandName: '/hoist', logger: log };
      // Backticks typed in the comment would pair with the grammar's own code spans.
      const text = (match[1] ?? '').replace(/`/g, "'");
      const words = text.trim().split(/\s+/);
      let command: ParsedCommand['kind'] | 'invalid';
      let replies: ChatReply[];
      try {
        if (
          target.kind === 'merge-request' &&
          words.length === 2 &&
          words[0]?.toLowerCase() === 'promote' &&
          deps.environments.some((e) => e.name === words[1]) &&
          !deps.apps.some((a) => a.name === words[1]) &&
          deps.apps.some((a) => a.project.toLowerCase() === target.project.toLowerCase())
        ) {
          command = 'promote';
          // GitLab refusing or failing to list the pipelines is an answer for the person, like any refusal.
          replies = await promoteFromMergeRequest(ctx, target, words[1] as string).catch((error: unknown) => {
            if (!isHoistError(error)) throw error;
            log.warn({ err: error.message }, 'could not read the merge request pipelines');
            return [{ visibility: 'in_channel' as const, text: formatServiceError('gitlab', error) }];
          });
        } else {
          const parsed = parseCommand(text);
          command = parsed.kind === 'error' ? 'invalid' : parsed.kind;
          replies = [parsed.kind === 'error' ? { visibility: 'in_channel', text: `⚠️ ${grammarText('gitlab', parsed.message)}` } : await runCommand(parsed, ctx)];
        }
      } catch (error) {
        // The command never ran (GitLab or Redis could not be asked): the comment may be sent again.
        await redis.del(noteKey(comment.noteId)).catch(() => undefined);
        throw error;
      }
      const views = replies.flatMap((r) => (r.promotion ? [r.promotion] : []));
      await reply(target, replies.map((r) => r.text).join('\n\n'), `note:${comment.noteId}`);
      // The command ran and its answer is queued: a failure to watch costs only the later end-state note.
      await watch(views, target).catch((error: unknown) => log.warn({ err: toHoistError(error).message }, 'could not watch the promotion for its end state'));
      log.info({ command, promotions: views.map((v) => v.id) }, 'GitLab comment command');
      return { note: comment.noteId, command, promotions: views.map((v) => v.id) };
    },

    /** Told about every promotion the store writes (observeStore): the end state goes to the threads that asked. */
    observe(p: Promotion): void {
      if (TERMINAL_STATES.has(p.state)) chains.run(p.id, () => tellEnd(p));
    },

    flush: () => chains.flush(),

    /** One follow-up job: post a note. */
    async post(job: GitlabNoteJob): Promise<void> {
      try {
        await gitlab.createNote({ target: job.target, body: job.body });
      } catch (error) {
        const e = toHoistError(error);
        logger.warn({ target: job.target, err: e.message, retryable: e.retryable }, 'could not post the GitLab comment');
        throw e;
      }
    },
  };
}

export type GitlabComments = ReturnType<typeof createGitlabComments>;
