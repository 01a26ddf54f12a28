import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../../test/helpers/redis-server.js';

export const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

/** git's config isolation, as the tests use it; HOME and PATH come from the caller. */
export const GIT_ISOLATION = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } as const;

export const baseEnv = (): Record<string, string> => ({
  PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
  HOME: process.env.HOME ?? '/tmp',
  ...GIT_ISOLATION,
});

export interface Memory {
  /** Peak resident set size of the process (VmHWM), MiB. */
  peakMiB: number;
  /** Largest VmRSS seen by the 100 ms sampler, MiB. */
  sampledMaxMiB: number;
  samples: number;
}

/** Samples /proc/<pid>/status every `everyMs`; `stop()` reads VmHWM one last time. */
export function sampleMemory(pid: number, everyMs = 100) {
  let peakKiB = 0;
  let sampledKiB = 0;
  let samples = 0;
  const read = () => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      sampledKiB = Math.max(sampledKiB, rss);
      peakKiB = Math.max(peakKiB, hwm, rss);
      samples++;
    } catch {
      // the process is gone; keep what was seen
    }
  };
  read();
  const timer = setInterval(read, everyMs);
  timer.unref();
  return {
    current: (): Memory => ({ peakMiB: Math.round(peakKiB / 102.4) / 10, sampledMaxMiB: Math.round(sampledKiB / 102.4) / 10, samples }),
    stop(): Memory {
      read();
      clearInterval(timer);
      return this.current();
    },
  };
}

export interface ServiceHandle {
  name: string;
  url: string;
  pid: number;
  logFile: string;
  child: ChildProcess;
  /** Stops the process (SIGTERM, then SIGKILL to its process group after `graceMs`); returns its memory figures. */
  stop(graceMs?: number): Promise<Memory>;
}

export interface StartOptions {
  name: string;
  /** node arguments before the script (e.g. --cpu-prof). */
  nodeArgs?: string[];
  script: string;
  env: Record<string, string>;
  logFile: string;
  /** The path answered with 200 once the process is ready. */
  readyPath: string;
  cwd?: string;
}

/**
 * Starts a node process on a free loopback port in its own process group (so children such as
 * kustomize die with it), logs to a file, waits until `readyPath` answers 200.
 */
export async function startNodeProcess(options: StartOptions): Promise<ServiceHandle> {
  const port = await freePort();
  const fd = openSync(options.logFile, 'a');
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.script], {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: { ...options.env, PORT: String(port) },
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.name} did not start`);
  const memory = sampleMemory(pid);
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${options.name} exited early (${child.exitCode ?? child.signalCode}); see ${options.logFile}:\n${tail(options.logFile)}`);
    }
    const ok = await fetch(`${url}${options.readyPath}`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      killGroup(pid, 'SIGKILL');
      throw new Error(`${options.name} was not ready within 30 s; see ${options.logFile}:\n${tail(options.logFile)}`);
    }
    await sleep(50);
  }
  let stopped: Promise<Memory> | undefined;
  return {
    name: options.name,
    url,
    pid,
    logFile: options.logFile,
    child,
    stop(graceMs = 15_000) {
      stopped ??= (async () => {
        const last = memory.current();
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
          await exited;
          clearTimeout(timer);
        }
        // Whatever the process left running in its group (a kustomize it was waiting for).
        killGroup(pid, 'SIGKILL');
        const final = memory.stop();
        return final.samples > 0 ? final : last;
      })();
      return stopped;
    },
  };
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface Timed {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command and measures spawn to exit with a monotonic clock. */
export function timed(command: string, args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Timed> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ ms: performance.now() - started, code, stdout, stderr }));
  });
}

export async function writeConfig(path: string, text: string): Promise<string> {
  await writeFile(path, text);
  return path;
}
