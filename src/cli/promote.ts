import type { PromotionView } from '../service/promotion-service.js';
import type { HoistClient } from './client.js';
import type { CommandContext } from './context.js';
import { describeChanges, followPromotion, outcomeOf, stateText, subjectOf, waitingFor } from './follow.js';
import { clean, clock, type Output } from './output.js';

const lineStyle = (line: string) => (/^committed\b/.test(line) ? 'green' : /^(failed|cancelled|superseded|degraded)\b/.test(line) ? 'red' : undefined);

/**
 * Follows a promotion to its end, a line per change (state, gate, approval) with the time it was seen, and ends
 * with its final state: 0 committed (or skipped: nothing to do), 1 failed, cancelled, superseded or degraded.
 */
export async function watchToEnd(ctx: CommandContext, out: Output, client: HoistClient, id: string): Promise<number> {
  const spinner = out.spinner();
  const interrupt = ctx.trapInterrupt();
  try {
    const final = await followPromotion(client, id, {
      signal: interrupt.signal,
      onChange(next, previous) {
        for (const line of describeChanges(previous, next)) {
          const style = lineStyle(line);
          out.line(`${out.paint('dim', clock())}  ${style ? out.paint(style, clean(line)) : clean(line)}`);
        }
        spinner.update(waitingFor(next));
      },
    });
    spinner.stop();
    const outcome = outcomeOf(final);
    if (out.json) out.data(final);
    if (outcome.note) out.note(`hoist: ${clean(outcome.note)}`);
    return outcome.code;
  } catch (error) {
    if (!interrupt.signal.aborted) throw error;
    // Ctrl-C stops the waiting, not the promotion.
    spinner.stop();
    out.note(`hoist: stopped following ${id}; it goes on without you: \`hoist watch ${id}\``);
    return 130;
  } finally {
    interrupt.release();
    spinner.stop();
  }
}

/** Without --wait: the promotion as Hoist stored it, and how to follow it. */
function accepted(out: Output, view: PromotionView, wait: boolean): void {
  if (out.json) {
    if (!wait) out.data(view);
    return;
  }
  if (!wait) out.line(clean(`${view.id}  ${subjectOf(view)}  ${stateText(view)}`));
  if (!wait && !['committed', 'skipped', 'failed', 'cancelled', 'superseded', 'degraded'].includes(view.state)) out.note(`hoist: follow it with \`hoist watch ${view.id}\``);
}

export interface PromoteOptions {
  tag?: string | undefined;
  wait?: boolean | undefined;
  json?: boolean | undefined;
}

/** `hoist promote <app>[,<app>…] <env> [--tag T] [--wait]`. */
export async function promote(ctx: CommandContext, apps: readonly string[], env: string, options: PromoteOptions): Promise<number> {
  const out = ctx.output(options);
  const client = await ctx.client();
  const view = await client.promote({ apps, env, tag: options.tag });
  accepted(out, view, options.wait === true);
  return options.wait ? watchToEnd(ctx, out, client, view.id) : 0;
}

/** `hoist rollback <app> <env> [--tag T] [--wait]`. */
export async function rollback(ctx: CommandContext, app: string, env: string, options: PromoteOptions): Promise<number> {
  const out = ctx.output(options);
  const client = await ctx.client();
  const view = await client.rollback({ app, env, tag: options.tag });
  accepted(out, view, options.wait === true);
  return options.wait ? watchToEnd(ctx, out, client, view.id) : 0;
}

/** `hoist approve <id>` and `hoist cancel <id>`: the promotion after the act. */
export async function act(ctx: CommandContext, what: 'approve' | 'cancel', id: string, options: { json?: boolean }): Promise<number> {
  const out = ctx.output(options);
  const client = await ctx.client();
  const view = what === 'approve' ? await client.approve(id) : await client.cancel(id);
  if (out.json) out.data(view);
  else out.line(clean(`${what === 'approve' ? 'approved' : 'cancelled'} ${view.id}  ${subjectOf(view)}  ${stateText(view)}`));
  return 0;
}

/** `hoist watch <id>`. */
export async function watch(ctx: CommandContext, id: string, options: { json?: boolean }): Promise<number> {
  const out = ctx.output(options);
  return watchToEnd(ctx, out, await ctx.client(), id);
}
