#!/usr/bin/env node
// The `hoist` command (package.json "bin"): tools around the service, which itself starts from main.ts.
import { readRuntimeEnv } from '../config/index.js';
import { createKustomizeRenderer } from '../kustomize/index.js';
import { parseCliArgs, SHORT_USAGE, USAGE } from './args.js';
import { createValidator, formatProblem, formatSummary } from './validate.js';

async function run(argv: readonly string[]): Promise<number> {
  const command = parseCliArgs(argv);
  if (command.kind === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command.kind === 'usage-error') {
    process.stderr.write(`hoist: ${command.message}\n${SHORT_USAGE}`);
    return 2;
  }
  // The same reading of the environment as the service: ${VAR} values and HOIST_KUSTOMIZE.
  const env = readRuntimeEnv();
  const validator = createValidator({
    renderer: createKustomizeRenderer(env.kustomizeCommand ? { command: env.kustomizeCommand } : {}),
    vars: env.vars,
  });
  const report = await validator.validate({ configPath: command.configPath, repoDir: command.repoDir, allowUnsetVars: command.allowUnsetVars });
  const lines = [...report.problems.map(formatProblem), formatSummary(report)];
  process.stdout.write(`${lines.join('\n')}\n`);
  return report.problems.length > 0 ? 1 : 0;
}

// exitCode rather than exit(): stdout is a pipe in CI, and exit() could cut the report short.
run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`hoist: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
