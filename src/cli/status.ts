import { formatRollout } from '../domain/rollout.js';
import type { CellView, Overview } from '../service/overview.js';
import type { CommandContext } from './context.js';
import { stateText, subjectOf } from './follow.js';
import { shortDate, table, type Output } from './output.js';

/** The running tag, pinned digest and deploy verdict in words (a colour alone tells nothing to a log or a screen reader). */
function cellText(cell: CellView | undefined): string {
  if (!cell) return '';
  const tag = cell.tag ?? (cell.digest ? '' : '(none)');
  const digest = cell.digest ? `@${cell.digest.replace(/^sha256:/, '').slice(0, 12)}` : '';
  return [`${tag}${digest}`, cell.health?.status, cell.rollout ? `(${formatRollout(cell.rollout)})` : '', cell.differs ? '*' : ''].filter(Boolean).join(' ');
}

const healthStyle = (text: string) => (/\bdegraded\b/.test(text) ? 'red' : /\bdeployed\b/.test(text) ? 'green' : undefined);

function grid(overview: Overview, out: Output): string[] {
  const envs = overview.environments.map((e) => e.name);
  const cellOf = new Map(overview.cells.map((c) => [`${c.app}\0${c.env}`, c]));
  const rows = [['APP', ...envs], ...overview.apps.map((app) => [app.name, ...envs.map((env) => cellText(cellOf.get(`${app.name}\0${env}`)))])];
  return table(rows, (r, c, text) => {
    if (r === 0) return out.paint('bold', text);
    const style = c > 0 ? healthStyle(text) : undefined;
    return style ? out.paint(style, text) : text;
  });
}

/** One app: a row per environment, with since when and by whom. */
function detail(overview: Overview, out: Output): string[] {
  const rows = [['ENV', 'TAG', 'HEALTH', 'SINCE', 'BY', 'NOTE']];
  for (const env of overview.environments) {
    for (const cell of overview.cells.filter((c) => c.env === env.name)) {
      const tag = `${cell.tag ?? '(none)'}${cell.digest ? `@${cell.digest.replace(/^sha256:/, '').slice(0, 12)}` : ''}`;
      // A pipeline's cell says `by: pipeline`: the kind alone says it.
      const by = cell.by ? `${cell.by}${cell.kind && cell.kind !== cell.by ? ` (${cell.kind})` : ''}` : '';
      const note = [cell.rollout ? formatRollout(cell.rollout) : '', cell.differs ? `* ${env.from} runs ${cell.fromTag ?? '(none)'}` : ''].filter(Boolean).join('; ');
      rows.push([env.name, tag, cell.health?.status ?? '', shortDate(cell.since), by, note]);
    }
  }
  return table(rows, (r, c, text) => (r === 0 ? out.paint('bold', text) : c === 2 && healthStyle(text) ? out.paint(healthStyle(text) as 'red', text) : text));
}

/** `hoist status [app]`: every app in every environment, what is pending. */
export async function status(ctx: CommandContext, app: string | undefined, options: { json?: boolean }): Promise<number> {
  const out = ctx.output(options);
  const overview = await (await ctx.client()).status(app);
  if (out.json) {
    out.data(overview);
    return 0;
  }
  for (const line of app === undefined ? grid(overview, out) : detail(overview, out)) out.line(line);
  if (overview.cells.some((c) => c.differs)) out.line(`\n* its "from" environment runs another tag: \`hoist diff <app> <env>\` shows what promoting would change`);
  for (const env of overview.environments.filter((e) => e.error)) out.line(out.paint('red', `! ${env.name}: ${env.error}`));
  const pending = overview.pending.filter((p) => app === undefined || p.apps.some((a) => a.app === app) || p.app === app);
  out.line('');
  if (pending.length === 0) {
    out.line('Pending: nothing');
    return 0;
  }
  out.line(out.paint('bold', 'Pending:'));
  const rows = pending.map((p) => {
    const gates = (p.gates ?? []).filter((g) => g.status === 'waiting').map((g) => `${g.gate}: ${g.reason}`);
    return [p.id, subjectOf(p), stateText(p), gates.join('; ')];
  });
  for (const line of table(rows)) out.line(`  ${line}`);
  return 0;
}
