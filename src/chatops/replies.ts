/**
 * What Hoist says in chat and in GitLab comments. Pure: views in, text out. Slack (mrkdwn), Mattermost (Markdown) and
 * GitLab (GitLab Flavored Markdown) agree on code spans and blocks but not on bold or links; Slack reads `<…>` as
 * mentions and links, and GitLab turns `@name`, `#1`, `!1`, `~label`, URLs and HTML into mentions, references and
 * links, so everything that came from a person or a repository goes through `plain` or `code`.
 */
import { formatRollout } from '../domain/rollout.js';
import type { HoistError } from '../errors.js';
import type { EnvironmentStatus, HistoryEntry, PromotionView } from '../service/promotion-service.js';
import { COMMAND_NAMES, USAGE, type CommandName } from './grammar.js';

export type ChatFlavor = 'slack' | 'mattermost' | 'gitlab';

/** Slack's three control characters; https://api.slack.com/reference/surfaces/formatting#escaping */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * GitLab's reserved characters (doc/user/markdown.md, "Escape characters"), each behind a backslash: since GitLab 14.0
 * an escaped `@`, `#`, `!`, `~`, `%`, `$` or `&` is no reference or mention either. A line break would start a new
 * block (or a quick action such as `/close`, which GitLab runs in notes Hoist posts), so it becomes a space.
 */
function escapeGitlab(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g, '\\$&');
}

export function plain(flavor: ChatFlavor, text: string): string {
  return flavor === 'slack' ? escapeSlack(text) : flavor === 'gitlab' ? escapeGitlab(text) : text;
}

/** Text for the inside of a code block: only Slack still reads `<…>` there. */
function verbatim(flavor: ChatFlavor, text: string): string {
  return flavor === 'slack' ? escapeSlack(text) : text;
}

/**
 * A code span; backticks inside would end it early, so they go. Inside one nothing is a reference, mention, link
 * or HTML (GitLab included), and a backslash is a backslash, so GitLab's text is not escaped there.
 */
export function code(flavor: ChatFlavor, text: string): string {
  const inner = text.replace(/`/g, "'");
  return `\`${flavor === 'gitlab' ? inner.replace(/[\r\n]+/g, ' ') : plain(flavor, inner)}\``;
}

export function bold(flavor: ChatFlavor, text: string): string {
  // Mattermost renders `*x*` as italics and wants `**x**` (its Slack-compatibility notes say so).
  return flavor === 'slack' ? `*${plain(flavor, text)}*` : flavor === 'gitlab' ? `**${plain(flavor, text)}**` : `**${text}**`;
}

function link(flavor: ChatFlavor, url: string, label: string): string {
  if (flavor === 'slack') return `<${url}|${escapeSlack(label)}>`;
  // A parenthesis or a space would end the destination early.
  return flavor === 'gitlab' ? `[${plain(flavor, label)}](${url.replace(/[()\s<>]/g, encodeURIComponent)})` : `[${label}](${url})`;
}

/**
 * A message of the chat grammar (its own words, with what the person typed in code spans) for this flavor. For GitLab
 * the text between code spans is escaped and the spans are kept, with a lone backtick escaped too, so no part of it
 * can become a mention or a link, whatever the person typed.
 */
export function grammarText(flavor: ChatFlavor, message: string): string {
  if (flavor !== 'gitlab') return plain(flavor, message);
  const parts = message.split('`');
  // An odd number of backticks leaves the last one unpaired: GitLab shows it as text, so its "code" is text too.
  const paired = parts.length % 2 === 1 ? parts.length : parts.length - 1;
  return parts
    .map((part, i) => (i % 2 === 1 && i < paired ? `\`${part.replace(/[\r\n]+/g, ' ')}\`` : (i > 0 && i >= paired ? '\\`' : '') + escapeGitlab(part)))
    .join('');
}

const STATE_MARK: Readonly<Record<PromotionView['state'], string>> = {
  waiting: '⏳',
  'awaiting-approval': '✋',
  queued: '📬',
  running: '⚙️',
  'awaiting-merge': '🔀',
  committed: '✅',
  degraded: '🩺',
  skipped: '⏭️',
  failed: '❌',
  cancelled: '🚫',
  superseded: '↪️',
};

export function shortSha(sha: string): string {
  return sha.slice(0, 8);
}

function appsAndTags(flavor: ChatFlavor, view: PromotionView): string {
  const items = view.apps.length > 0 ? view.apps : [{ app: view.app, tag: view.tag }];
  return items.map((i) => `${plain(flavor, i.app)} ${code(flavor, i.tag)}`).join(', ');
}

/** One promotion, as much as a person needs to decide what to do next. */
export function formatPromotion(flavor: ChatFlavor, view: PromotionView): string {
  const lines = [
    `${STATE_MARK[view.state]} ${bold(flavor, `Promotion ${view.id}`)} · ${appsAndTags(flavor, view)} → ${bold(flavor, view.env)} · ${plain(flavor, view.state)}` +
      (view.kind === 'pipeline' ? '' : ` (${view.kind}${view.requestedBy ? `, requested by ${plain(flavor, view.requestedBy)}` : ''})`),
  ];
  if (view.gates && view.gates.length > 0) {
    lines.push('Gates:');
    for (const gate of view.gates) {
      lines.push(`• ${gate.status === 'passed' ? '✔︎' : '…'} ${plain(flavor, gate.gate)}: ${plain(flavor, gate.status)} — ${plain(flavor, gate.reason)}`);
    }
  }
  if (view.approvals) {
    const { required, given, missing } = view.approvals;
    const who = given.length > 0 ? ` (${given.map((g) => plain(flavor, g.by)).join(', ')})` : '';
    lines.push(`Approvals: ${given.length} of ${required}${who}${missing > 0 ? `; ${missing} missing` : ''}`);
  }
  if (view.commit) lines.push(`Commit: ${code(flavor, shortSha(view.commit))}`);
  if (view.rollout) lines.push(`Rollout: ${plain(flavor, formatRollout(view.rollout))}`);
  if (view.reason) lines.push(`Reason: ${plain(flavor, view.reason)}`);
  if (view.error) lines.push(`Error: ${plain(flavor, view.error)}`);
  return lines.join('\n');
}

/** What to type next when a promotion waits on people. */
export function approvalHint(flavor: ChatFlavor, view: PromotionView, commandName: string): string | undefined {
  if (view.state !== 'awaiting-approval') return undefined;
  return `Approve with ${code(flavor, `${commandName} approve ${view.id}`)}, or cancel with ${code(flavor, `${commandName} cancel ${view.id}`)}.`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length)));
  return rows.map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]!))).join('  ')).join('\n');
}

/**
 * Apps down, environments across, in a code block: Slack has no tables and a monospace grid reads
 * the same in both clients.
 */
export function formatStatus(flavor: ChatFlavor, status: EnvironmentStatus, pending: readonly PromotionView[] = []): string {
  const apps = [...new Set(status.environments.flatMap((e) => e.apps.map((a) => a.app)))];
  const lines = [`${bold(flavor, 'Environments')} at ${code(flavor, shortSha(status.commit))}`];
  if (apps.length === 0 || status.environments.length === 0) {
    lines.push('No apps deployed yet.');
  } else {
    const header = ['app', ...status.environments.map((e) => e.name)];
    const cell = (a: EnvironmentStatus['environments'][number]['apps'][number] | undefined) => (a?.tag ?? '—') + (a?.rollout ? ` (${formatRollout(a.rollout)})` : '');
    const rows = apps.map((app) => [app, ...status.environments.map((e) => cell(e.apps.find((a) => a.app === app)))]);
    // Inside a code block nothing is formatted, but Slack still reads `<…>`; backticks would close the block.
    lines.push('```', verbatim(flavor, table([header, ...rows]).replace(/`/g, "'")), '```');
  }
  if (pending.length > 0) {
    lines.push(bold(flavor, 'Waiting'));
    for (const p of pending) {
      const detail =
        p.state === 'awaiting-approval' && p.approvals
          ? `${p.approvals.missing} approval${p.approvals.missing === 1 ? '' : 's'} missing`
          : (p.gates ?? []).filter((g) => g.status === 'waiting').map((g) => `${g.gate}: ${g.reason}`).join('; ') || p.state;
      lines.push(`• ${code(flavor, p.id)} ${appsAndTags(flavor, p)} → ${plain(flavor, p.env)} · ${plain(flavor, p.state)} (${plain(flavor, detail)})`);
    }
  }
  return lines.join('\n');
}

export const HISTORY_LIMIT = 10;

export function formatHistory(flavor: ChatFlavor, entries: readonly HistoryEntry[], filter: { app: string; env?: string }): string {
  const scope = `${filter.app}${filter.env ? ` in ${filter.env}` : ''}`;
  if (entries.length === 0) return `No history for ${plain(flavor, scope)}.`;
  const lines = [bold(flavor, `History of ${scope}`)];
  for (const e of entries.slice(0, HISTORY_LIMIT)) {
    const when = plain(flavor, e.date.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC'));
    if (e.kind === 'outside') {
      // Someone else's commit: shown for what it is, with what it says about itself (attacker-controlled, escaped).
      const what = e.image !== undefined ? `${plain(flavor, e.app ?? e.image)} ${code(flavor, e.tag ?? 'no tag')}` : plain(flavor, e.paths.join(', '));
      lines.push(`• ${when} ⚠️ outside change (not by Hoist): ${what} in ${plain(flavor, e.env)} by ${plain(flavor, e.author)} ${code(flavor, shortSha(e.commit))}`);
      continue;
    }
    const who = [e.requestedBy ? `by ${e.requestedBy}` : undefined, e.approvedBy.length > 0 ? `approved by ${e.approvedBy.join(', ')}` : undefined]
      .filter((s) => s !== undefined)
      .join(', ');
    const source = /^https?:\/\//.test(e.source) ? ` · ${link(flavor, e.source, 'pipeline')}` : '';
    lines.push(
      `• ${when} ${plain(flavor, e.app)} ${code(flavor, e.tag)} → ${plain(flavor, e.env)} ` +
        `(${plain(flavor, e.kind)}${who ? `, ${plain(flavor, who)}` : ''}) ${code(flavor, shortSha(e.commit))}${source}`,
    );
  }
  if (entries.length > HISTORY_LIMIT) lines.push(`…and ${entries.length - HISTORY_LIMIT} older; the full list is at GET /api/history.`);
  return lines.join('\n');
}

const DESCRIPTIONS: Readonly<Record<CommandName, string>> = {
  promote: 'move the version an app runs in the previous environment (or the tag given) into <env>; several apps travel together',
  approve: 'approve a promotion waiting for approvals',
  cancel: 'cancel a promotion that has not landed yet',
  rollback: 'go back to the previous tag (or the one given) in <env>, as a new commit',
  rollout: "drive the Argo Rollouts canary or blue-green of what <app> runs in <env>: resume a pause, promote-full, or abort (an abort then rolls back with a new commit)",
  status: 'what every environment runs now, and what is waiting',
  history: 'the latest promotions of an app, newest first',
  help: 'this text',
};

export function helpText(flavor: ChatFlavor, commandName: string, topic?: CommandName): string {
  const names = topic ? [topic] : COMMAND_NAMES;
  const lines = topic ? [] : [`${bold(flavor, 'Hoist')} moves image tags through your environments. Commands:`];
  for (const name of names) lines.push(`• ${code(flavor, `${commandName} ${USAGE[name]}`)} — ${plain(flavor, DESCRIPTIONS[name])}`);
  if (!topic) lines.push(`Example: ${code(flavor, `${commandName} promote web,api prod`)}`);
  return lines.join('\n');
}

/** A refusal from the service in words for chat; the service's message already names the reason. */
export function formatServiceError(flavor: ChatFlavor, error: HoistError): string {
  const reason = plain(flavor, error.message);
  switch (error.code) {
    case 'forbidden':
      return `🚫 not allowed: ${reason}`;
    case 'not_found':
      return `🔍 not found: ${reason}`;
    case 'bad_request':
      return `⚠️ can't do that: ${reason}`;
    case 'conflict':
      return `⚠️ conflict: ${reason}`;
    case 'unavailable':
      return `⏳ Hoist cannot reach its store right now (${reason}); try again in a moment`;
    default:
      return `❌ that failed: ${reason}`;
  }
}

export function unmappedUserText(flavor: ChatFlavor, platform: string, userId: string): string {
  return (
    `🚫 not allowed: your ${platform} user id ${code(flavor, userId)} is not mapped in ${code(flavor, 'chatops.users')}, ` +
    `so Hoist does not know who you are. Ask whoever runs Hoist to add it; until then you can use ${code(flavor, 'status')}, ${code(flavor, 'history')} and ${code(flavor, 'help')}.`
  );
}

export const SLACK_APPROVE_ACTION = 'hoist_approve';

/** Slack caps a section's text at 3000 characters; past that the whole message is refused. */
const SECTION_TEXT_MAX = 3000;

export type SlackBlock = Record<string, unknown>;

/** The message blocks for a promotion: its text, and an Approve button while it waits for approvals. */
export function slackPromotionBlocks(text: string, view: PromotionView): SlackBlock[] {
  const body = text.length > SECTION_TEXT_MAX ? `${text.slice(0, SECTION_TEXT_MAX - 1)}…` : text;
  const blocks: SlackBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: body } }];
  if (view.state === 'awaiting-approval') {
    blocks.push({
      type: 'actions',
      elements: [
        { type: 'button', action_id: SLACK_APPROVE_ACTION, style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value: view.id },
      ],
    });
  }
  return blocks;
}
