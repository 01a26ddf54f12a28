export { acknowledgement, isActing, resolveActor, runCommand } from './commands.js';
export type { ChatReply, CommandContext } from './commands.js';
export { ACTING_COMMANDS, COMMAND_NAMES, MAX_COMMAND_LENGTH, USAGE, editDistance, parseCommand, suggestCommand } from './grammar.js';
export type { CommandName, ParseResult, ParsedCommand } from './grammar.js';
export { CHAT_FIELD_LIMITS, overLongField } from './request-fields.js';
export { checkResponseUrl } from './response-url.js';
export type { ResponseUrlVerdict } from './response-url.js';
export { mattermostHeaderToken, parseMattermostRequest, verifyMattermostToken } from './mattermost.js';
export type { MattermostRequest } from './mattermost.js';
export {
  SLACK_APPROVE_ACTION,
  formatHistory,
  formatPromotion,
  formatServiceError,
  formatStatus,
  helpText,
  plain,
  slackPromotionBlocks,
  unmappedUserText,
} from './replies.js';
export type { ChatFlavor, SlackBlock } from './replies.js';
export { SLACK_MAX_SKEW_SECONDS, parseSlackRequest, slackSignature, verifySlackRequest } from './slack.js';
export type { SlackRequest, SlackVerification } from './slack.js';
