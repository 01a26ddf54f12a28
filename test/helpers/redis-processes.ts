import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One redis-server (or sentinel) the test started; `kill` is a crash (SIGKILL). */
export interface RedisNode {
  port: number;
  child: ChildProcess;
  kill(): Promise<void>;
}

// Children die with the test process even when it crashes or a test forgets its cleanup.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts `redis-server <configFile>` (a node or, with `--sentinel`, a sentinel) and waits until it listens. */
export async function spawnRedis(configFile: string, port: number, extraArgs: readonly string[] = []): Promise<RedisNode> {
  const child = spawn('redis-server', [configFile, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start on ${port}: ${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      // A node says it is ready; a sentinel says it started monitoring its master.
      if (/Ready to accept connections|\+monitor master/.test(output)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.resume();
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${output}`));
    });
  });
  return {
    port,
    child,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}

/** `redis-cli -p <port> <args…>`, its answer as text. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 30_000 });
  return stdout;
}

export async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The settings every test node shares: loopback only, AOF on (what Hoist asks of a production Redis), noeviction. */
export function nodeConfig(port: number, dir: string, extra = ''): string {
  return `port ${port}\nbind 127.0.0.1\ndir ${dir}\nappendonly yes\nsave ""\nmaxmemory-policy noeviction\n${extra}`;
}
