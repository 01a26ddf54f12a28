/**
 * Runs a parsed chat command against the PromotionService and words the outcome. No HTTP here: the
 * Slack and Mattermost endpoints decide when and where the reply goes. Every outcome is a reply, a
 * refusal included, because silence in chat reads as "Hoist is down".
 */
import type { Logger } from 'pino';
import { isHoistError } from '../errors.js';
import type { Actor, Channel, PromotionService, PromotionView } from '../service/promotion-service.js';
import { ACTING_COMMANDS, type ParsedCommand } from './grammar.js';
import { approvalHint, code, formatHistory, formatPromotion, formatServiceError, formatStatus, helpText, plain, unmappedUserText, type ChatFlavor } from './replies.js';

export interface ChatReply {
  visibility: 'ephemeral' | 'in_channel';
  text: string;
  /** The promotion the reply is about, so Slack can offer an Approve button while it awaits approvals. */
  promotion?: PromotionView;
}

export interface CommandContext {
  service: PromotionService;
  flavor: ChatFlavor;
  /** "Slack" or "Mattermost", for sentences. */
  platform: string;
  userId: string;
  /** Undefined when the chat user id is not in chatops.users: such users may read but not act. */
  actor: Actor | undefined;
  /** The slash command as the user typed it (`/hoist`), for hints. */
  commandName: string;
  logger: Logger;
}

/**
 * Chat user id → the name rbac and approvals know. Own keys only: `constructor` or `__proto__` typed
 * as a user id must not find something on Object.prototype.
 */
export function resolveActor(users: Readonly<Record<string, string>>, userId: string, via: Exclude<Channel, 'api'>): Actor | undefined {
  if (!Object.hasOwn(users, userId)) return undefined;
  const name = users[userId];
  return typeof name === 'string' && name !== '' ? { name, via } : undefined;
}

export function isActing(command: ParsedCommand): boolean {
  return ACTING_COMMANDS.has(command.kind);
}

/** What the requester is told at once, before a slow outcome arrives (Slack wants an answer in 3 s). */
export function acknowledgement(flavor: ChatFlavor, command: ParsedCommand): string {
  switch (command.kind) {
    case 'promote':
      return `⏳ asking Hoist to promote ${plain(flavor, command.apps.join(', '))} to ${plain(flavor, command.env)}${command.tag ? ` at ${code(flavor, command.tag)}` : ''}…`;
    case 'approve':
      return `⏳ approving ${code(flavor, command.id)}…`;
    case 'cancel':
      return `⏳ cancelling ${code(flavor, command.id)}…`;
    case 'rollback':
      return `⏳ asking Hoist to roll back ${plain(flavor, command.app)} in ${plain(flavor, command.env)}${command.tag ? ` to ${code(flavor, command.tag)}` : ''}…`;
    case 'rollout':
      return `⏳ asking Argo CD to ${plain(flavor, command.action)} the Rollout of ${plain(flavor, command.app)} in ${plain(flavor, command.env)}…`;
    default:
      return '⏳ looking…';
  }
}

function promotionReply(ctx: CommandContext, headline: string, view: PromotionView): ChatReply {
  const hint = approvalHint(ctx.flavor, view, ctx.commandName);
  return { visibility: 'in_channel', text: [headline, formatPromotion(ctx.flavor, view), ...(hint ? [hint] : [])].join('\n'), promotion: view };
}

async function run(command: ParsedCommand, ctx: CommandContext): Promise<ChatReply> {
  const { service, flavor } = ctx;
  if (isActing(command) && ctx.actor === undefined) return { visibility: 'ephemeral', text: unmappedUserText(flavor, ctx.platform, ctx.userId) };
  const name = plain(flavor, ctx.actor?.name ?? '');
  switch (command.kind) {
    case 'promote': {
      const view = await service.requestPromotion({ apps: command.apps, to: command.env, ...(command.tag ? { tag: command.tag } : {}) }, ctx.actor!);
      return promotionReply(ctx, `${name} asked to promote ${plain(flavor, command.apps.join(', '))} to ${plain(flavor, command.env)}:`, view);
    }
    case 'approve':
      return promotionReply(ctx, `${name} approved ${code(flavor, command.id)}:`, await service.approve(command.id, ctx.actor!));
    case 'cancel':
      return promotionReply(ctx, `${name} cancelled ${code(flavor, command.id)}:`, await service.cancel(command.id, ctx.actor!));
    case 'rollback': {
      const view = await service.rollback({ app: command.app, env: command.env, ...(command.tag ? { tag: command.tag } : {}) }, ctx.actor!);
      return promotionReply(ctx, `${name} asked to roll back ${plain(flavor, command.app)} in ${plain(flavor, command.env)}:`, view);
    }
    case 'rollout': {
      if (!service.rollout) return { visibility: 'ephemeral', text: `⚠️ can't do that: Argo CD is not configured (argocd), and Hoist drives Rollouts through it` };
      const view = await service.rollout({ app: command.app, env: command.env }, command.action, ctx.actor!);
      return promotionReply(ctx, `${name} ran ${code(flavor, command.action)} on the Rollout of ${plain(flavor, command.app)} in ${plain(flavor, command.env)}:`, view);
    }
    case 'status': {
      const [status, pending] = await Promise.all([service.status(command.app), service.listPending()]);
      const app = command.app;
      const relevant = app === undefined ? pending : pending.filter((p) => p.app === app || p.apps.some((a) => a.app === app));
      return { visibility: 'ephemeral', text: formatStatus(flavor, status, relevant) };
    }
    case 'history': {
      const filter = { app: command.app, ...(command.env ? { env: command.env } : {}) };
      return { visibility: 'ephemeral', text: formatHistory(flavor, await service.history(filter), filter) };
    }
    case 'help':
      return { visibility: 'ephemeral', text: helpText(flavor, ctx.commandName, command.topic) };
  }
}

/** Never rejects: service refusals become friendly text, anything else is logged and summarised. */
export async function runCommand(command: ParsedCommand, ctx: CommandContext): Promise<ChatReply> {
  try {
    return await run(command, ctx);
  } catch (error) {
    if (isHoistError(error)) {
      if (!['forbidden', 'not_found', 'bad_request', 'conflict'].includes(error.code)) {
        ctx.logger.error({ err: error, code: error.code, command: command.kind }, 'chat command failed');
      }
      return { visibility: 'ephemeral', text: formatServiceError(ctx.flavor, error) };
    }
    ctx.logger.error({ err: error, command: command.kind }, 'chat command failed unexpectedly');
    return { visibility: 'ephemeral', text: "❌ that failed inside Hoist; the details are in Hoist's log" };
  }
}
