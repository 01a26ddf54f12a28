#!/usr/bin/env node
// The `hoist` command (package.json "bin"): the service's API for people and pipelines, and `validate`. The
// service itself starts from main.ts.
// cli-env.js, not config/index.js: commands that only talk to Hoist need not load the config schema.
import { readCliEnv } from '../config/cli-env.js';
import { runCli } from './program.js';

/** Only while a command waits: anywhere else Ctrl-C ends the process as usual. */
function trapInterrupt() {
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  process.once('SIGINT', onInterrupt);
  return { signal: controller.signal, release: () => process.removeListener('SIGINT', onInterrupt) };
}

// `hoist history web | head`: the reader has gone, so there is nobody left to tell anything to.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

// exitCode rather than exit(): stdout is a pipe in CI, and exit() could cut the output short.
runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }, readCliEnv(), trapInterrupt).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`hoist: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
