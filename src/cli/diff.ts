import type { CommandContext } from './context.js';
import { clean } from './output.js';

/**
 * `hoist diff <app> <env> [--tag T]`: what the promotion would change in the rendered manifests (kustomize build
 * before → after, Secret values hidden), or the refusal the promotion would get. Nothing is written.
 */
export async function diff(ctx: CommandContext, apps: readonly string[], env: string, options: { tag?: string | undefined; json?: boolean }): Promise<number> {
  const out = ctx.output(options);
  const preview = await (await ctx.client()).preview({ apps, env, tag: options.tag });
  if (out.json) out.data(preview);
  else {
    const changes = preview.apps.map((a) => `${a.app}: ${a.current ?? '(none)'} → ${a.tag ?? '?'}`).join(', ');
    out.line(out.paint('bold', `${changes} in ${preview.env} (${preview.policy}${preview.from ? `, from ${preview.from}` : ''})`));
    if (preview.files.length > 0) out.line(`files: ${preview.files.map((f) => clean(f)).join(', ')}`);
    const lines = preview.diff === '' ? [] : preview.diff.replace(/\n$/, '').split('\n');
    for (const line of lines) {
      const text = clean(line, { keepTabs: true });
      const style = /^(\+\+\+|---)/.test(line) ? 'bold' : line.startsWith('+') ? 'green' : line.startsWith('-') ? 'red' : line.startsWith('@@') ? 'cyan' : undefined;
      out.line(style ? out.paint(style, text) : text);
    }
    if (preview.allowed && preview.diff === '' && preview.files.length === 0) out.line('no change to the rendered manifests');
  }
  if (preview.note) out.note(`hoist: note: ${clean(preview.note)}`);
  if (!preview.allowed) {
    out.note(`hoist: refused: ${clean(preview.refusal?.error ?? 'the promotion would be refused')}`);
    return 1;
  }
  return 0;
}
