/**
 * The chat command grammar, shared by Slack and Mattermost. Pure: text in, a discriminated union out.
 * People type these on phones and in a hurry, so every refusal says what was expected instead of
 * going silent.
 */

import { isValidName, MAX_PROMOTION_ID_LENGTH } from '../domain/names.js';
import { isRolloutAction, ROLLOUT_ACTIONS, type RolloutAction } from '../domain/rollout.js';
import { editDistance } from '../domain/suggest.js';
import { isValidTag } from '../kustomize/image-ref.js';

// The config loader suggests names the same way; the distance lives below both.
export { editDistance };

export type ParsedCommand =
  | { kind: 'promote'; apps: string[]; env: string; tag?: string }
  | { kind: 'approve'; id: string }
  | { kind: 'cancel'; id: string }
  | { kind: 'rollback'; app: string; env: string; tag?: string }
  | { kind: 'rollout'; app: string; env: string; action: RolloutAction }
  | { kind: 'status'; app?: string }
  | { kind: 'history'; app: string; env?: string }
  | { kind: 'help'; topic?: CommandName };

export type ParseResult = ParsedCommand | { kind: 'error'; message: string };

export type CommandName = ParsedCommand['kind'];

export const COMMAND_NAMES: readonly CommandName[] = ['promote', 'approve', 'cancel', 'rollback', 'rollout', 'status', 'history', 'help'];

export const USAGE: Readonly<Record<CommandName, string>> = {
  promote: 'promote <app>[,<app>…] <env> [tag]',
  approve: 'approve <id>',
  cancel: 'cancel <id>',
  rollback: 'rollback <app> <env> [tag]',
  rollout: `rollout <app> <env> ${ROLLOUT_ACTIONS.join('|')}`,
  status: 'status [app]',
  history: 'history <app> [env]',
  help: 'help [command]',
};

/** Commands that change something; the rest only read and are open to unmapped chat users too. */
export const ACTING_COMMANDS: ReadonlySet<CommandName> = new Set(['promote', 'approve', 'cancel', 'rollback', 'rollout']);

// The same shapes the config and the API accept (one definition of each); checking them here turns a stray
// word into a clear sentence rather than a "not found" from the service.
const PROMOTION_ID = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,${MAX_PROMOTION_ID_LENGTH - 1}}$`);

/** Longer than any command anyone types; the bound keeps a pasted book from being parsed or echoed back. */
export const MAX_COMMAND_LENGTH = 1_000;

/** The command a mistyped word most likely meant, if any is close enough to be worth suggesting. */
export function suggestCommand(word: string): CommandName | undefined {
  const w = word.toLowerCase();
  const prefixed = COMMAND_NAMES.filter((name) => w.length >= 2 && name.startsWith(w));
  if (prefixed.length === 1) return prefixed[0];
  let best: { name: CommandName; distance: number } | undefined;
  for (const name of COMMAND_NAMES) {
    const distance = editDistance(w, name);
    if (best === undefined || distance < best.distance) best = { name, distance };
  }
  // Two edits is a typo in a seven-letter word; in a three-letter word it is a different word.
  const allowed = w.length <= 3 ? 1 : 2;
  return best !== undefined && best.distance <= allowed ? best.name : undefined;
}

function usageError(name: CommandName, problem: string): { kind: 'error'; message: string } {
  return { kind: 'error', message: `${problem}. Usage: \`${USAGE[name]}\`` };
}

function isCommandName(word: string): word is CommandName {
  return (COMMAND_NAMES as readonly string[]).includes(word);
}

function checkName(what: string, value: string): string | undefined {
  return isValidName(value) ? undefined : `\`${value}\` is not a valid ${what} name`;
}

function checkTag(value: string | undefined): string | undefined {
  return value === undefined || isValidTag(value) ? undefined : `\`${value}\` is not a valid image tag`;
}

function parseApps(list: string): string[] | string {
  const parts = list.split(',');
  if (parts.some((p) => p === '')) return `\`${list}\` has an empty app name: write apps as \`web,api\``;
  for (const part of parts) {
    const problem = checkName('app', part);
    if (problem) return problem;
  }
  return [...new Set(parts)];
}

/**
 * Parses what follows the slash command (`/hoist promote web prod v1`). The command word is
 * case-insensitive; arguments keep their case because tags are case-sensitive.
 */
export function parseCommand(text: string): ParseResult {
  if (text.length > MAX_COMMAND_LENGTH) {
    return { kind: 'error', message: `the command is ${text.length} characters long: at most ${MAX_COMMAND_LENGTH} are read. \`help\` lists the commands` };
  }
  const trimmed = text.trim();
  if (trimmed === '') return { kind: 'help' };
  const [head = '', rest = ''] = trimmed.split(/\s+(.*)/s);
  // People write "web, api"; an app list is one argument, so glue the words back together.
  const glued = rest.trim().replace(/\s*,\s*/g, ',');
  const args = glued === '' ? [] : glued.split(/\s+/);
  const word = head.toLowerCase();
  if (!isCommandName(word)) {
    const suggestion = suggestCommand(word);
    const known = COMMAND_NAMES.map((n) => `\`${n}\``).join(', ');
    return {
      kind: 'error',
      message: suggestion
        ? `unknown command \`${head}\` — did you mean \`${suggestion}\`? Usage: \`${USAGE[suggestion]}\``
        : `unknown command \`${head}\`. Commands: ${known}; \`help\` explains them`,
    };
  }
  switch (word) {
    case 'promote': {
      if (args.length === 0) return usageError(word, '`promote` needs an app and an environment');
      if (args.length === 1) {
        const list = args[0]!;
        return usageError(word, list.includes(',') ? `\`promote\` needs an environment after the apps (\`${list}\` reads as one list of apps)` : '`promote` needs an environment');
      }
      if (args.length > 3) return usageError(word, `\`promote\` takes at most 3 arguments, got ${args.length}`);
      const [list = '', env = '', tag] = args;
      const apps = parseApps(list);
      if (typeof apps === 'string') return usageError(word, apps);
      const problem = checkName('environment', env) ?? checkTag(tag);
      if (problem) return usageError(word, problem);
      return { kind: 'promote', apps, env, ...(tag !== undefined ? { tag } : {}) };
    }
    case 'approve':
    case 'cancel': {
      if (args.length !== 1) return usageError(word, args.length === 0 ? `\`${word}\` needs a promotion id` : `\`${word}\` takes one promotion id, got ${args.length} words`);
      const id = args[0]!;
      if (!PROMOTION_ID.test(id)) return usageError(word, `\`${id}\` is not a promotion id`);
      return { kind: word, id };
    }
    case 'rollback': {
      if (args.length < 2) return usageError(word, args.length === 0 ? '`rollback` needs an app and an environment' : '`rollback` needs an environment');
      if (args.length > 3) return usageError(word, `\`rollback\` takes at most 3 arguments, got ${args.length}`);
      const [app = '', env = '', tag] = args;
      if (app.includes(',')) return usageError(word, '`rollback` takes one app at a time');
      const problem = checkName('app', app) ?? checkName('environment', env) ?? checkTag(tag);
      if (problem) return usageError(word, problem);
      return { kind: 'rollback', app, env, ...(tag !== undefined ? { tag } : {}) };
    }
    case 'rollout': {
      if (args.length !== 3) return usageError(word, `\`rollout\` needs an app, an environment and one of ${ROLLOUT_ACTIONS.map((a) => `\`${a}\``).join(', ')}`);
      const [app = '', env = '', typed = ''] = args;
      const problem = checkName('app', app) ?? checkName('environment', env);
      if (problem) return usageError(word, problem);
      const action = typed.toLowerCase();
      if (!isRolloutAction(action)) {
        const near = ROLLOUT_ACTIONS.find((a) => editDistance(action, a) <= 2 || a.startsWith(action));
        return usageError(word, `\`${typed}\` is not a Rollout action${near ? ` — did you mean \`${near}\`?` : ''}`);
      }
      return { kind: 'rollout', app, env, action };
    }
    case 'status': {
      if (args.length > 1) return usageError(word, `\`status\` takes at most one app, got ${args.length} words`);
      const app = args[0];
      if (app === undefined) return { kind: 'status' };
      const problem = checkName('app', app);
      return problem ? usageError(word, problem) : { kind: 'status', app };
    }
    case 'history': {
      if (args.length === 0) return usageError(word, '`history` needs an app');
      if (args.length > 2) return usageError(word, `\`history\` takes at most 2 arguments, got ${args.length}`);
      const [app = '', env] = args;
      const problem = checkName('app', app) ?? (env === undefined ? undefined : checkName('environment', env));
      if (problem) return usageError(word, problem);
      return { kind: 'history', app, ...(env !== undefined ? { env } : {}) };
    }
    case 'help': {
      const topic = args[0]?.toLowerCase();
      return topic !== undefined && isCommandName(topic) ? { kind: 'help', topic } : { kind: 'help' };
    }
  }
}
