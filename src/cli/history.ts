import type { CommandContext } from './context.js';
import { shortDate, table } from './output.js';

/** `hoist history <app> [env]`: Hoist's signed promotions and the outside changes, newest first. */
export async function history(ctx: CommandContext, app: string, env: string | undefined, options: { json?: boolean }): Promise<number> {
  const out = ctx.output(options);
  const { entries } = await (await ctx.client()).history({ app, env });
  if (out.json) {
    out.data({ entries });
    return 0;
  }
  if (entries.length === 0) {
    out.line(`no history of ${app}${env ? ` in ${env}` : ''} yet`);
    return 0;
  }
  const rows = [['DATE', 'ENV', 'TAG', 'KIND', 'BY', 'PROMOTION', 'COMMIT']];
  for (const e of entries) {
    if (e.kind === 'outside') {
      // Not Hoist's commit: who it says made it and what it says, for what they are (and never a grant).
      const tag = e.tag !== undefined ? `${e.previousTag ?? '(none)'} → ${e.tag ?? '(none)'}` : `(${e.paths.length} file${e.paths.length === 1 ? '' : 's'})`;
      rows.push([shortDate(e.date), e.env, tag, 'outside', `${e.author}: ${e.subject}`, '', e.commit.slice(0, 12)]);
    } else {
      const by = [e.requestedBy, e.approvedBy.length > 0 ? `approved by ${e.approvedBy.join(', ')}` : ''].filter(Boolean).join(', ');
      rows.push([shortDate(e.date), e.env, e.tag, e.kind, by, e.promotion, e.commit.slice(0, 12)]);
    }
  }
  for (const line of table(rows, (r, _c, text) => (r === 0 ? out.paint('bold', text) : rows[r]?.[3] === 'outside' ? out.paint('yellow', text) : text))) out.line(line);
  return 0;
}
