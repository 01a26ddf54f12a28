import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { NAME_PATTERN } from '../domain/names.js';
import { formatRollout, isRolloutAction, ROLLOUT_ACTIONS, type RolloutAction } from '../domain/rollout.js';
import { HoistError } from '../errors.js';
import type { CommandContext } from './context.js';
import { stateText, subjectOf } from './follow.js';
import { clean } from './output.js';

/** `hoist rollout <app> <env> <action>`: Argo CD's action on the Rollout of what the app runs there. */
export async function rollout(ctx: CommandContext, app: string, env: string, action: RolloutAction, options: { json?: boolean }): Promise<number> {
  const out = ctx.output(options);
  const client = await ctx.client();
  const overview = await client.status(app);
  const cell = overview.cells.find((c) => c.app === app && c.env === env);
  if (!cell) throw new HoistError('bad_request', `unknown environment "${env}" (known: ${overview.environments.map((e) => e.name).join(', ')})`);
  if (!cell.promotion) {
    throw new HoistError('not_found', `${env} runs ${app}:${cell.tag ?? '(none)'}, which Hoist's signed history does not say it landed: there is no promotion whose Rollout to drive`);
  }
  const view = await client.rollout(cell.promotion, action);
  if (out.json) out.data(view);
  else out.line(clean(`${action} ${view.id}  ${subjectOf(view)}  ${view.rollout ? `Rollout ${formatRollout(view.rollout)}` : stateText(view)}`));
  if (!out.json && action === 'abort' && view.rolledBackBy) out.note(`hoist: rolling back with promotion ${view.rolledBackBy}: \`hoist watch ${view.rolledBackBy}\``);
  return 0;
}

const name = (what: string) => (value: string) => {
  if (!NAME_PATTERN.test(value)) throw new InvalidArgumentError(`not ${what} name ([a-z0-9][a-z0-9-]*, at most 63 characters).`);
  return value;
};
const actionOf = (value: string): RolloutAction => {
  const action = value.toLowerCase();
  if (!isRolloutAction(action)) throw new InvalidArgumentError(`one of ${ROLLOUT_ACTIONS.join(', ')}.`);
  return action;
};

/** Adds `hoist rollout` to the program. */
export function addRolloutCommand(program: Command, ctx: CommandContext, done: (code: number) => void): void {
  program
    .command('rollout')
    .description("drive the Argo Rollouts canary or blue-green of what <app> runs in <env>: resume a pause, promote-full, or abort (an abort then rolls back with a new commit)")
    .argument('<app>', 'the app', name('an app'))
    .argument('<env>', 'the environment', name('an environment'))
    .argument('<action>', ROLLOUT_ACTIONS.join(' | '), actionOf)
    .option('--json', 'machine output: one JSON document on stdout (reasons still go to stderr)')
    .addHelpText('after', `\nThe same rights as promoting to <env>; resume and promote-full also take an approver where <env> needs approvals.\n\nExamples:\n  $ hoist rollout web prod resume\n  $ hoist rollout web prod abort\n`)
    .action(async (app: string, env: string, action: RolloutAction, options: { json?: boolean }) => done(await rollout(ctx, app, env, action, options)));
}
