import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

export interface RedisServerHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

export interface RedisServerOptions {
  port?: number;
  appendOnly?: boolean;
  dir?: string;
  /** BullMQ needs noeviction, the default; another policy plays a misconfigured managed Redis. */
  maxmemoryPolicy?: string;
  /** Disables CONFIG (`--rename-command CONFIG ""`), as managed Redis offerings often do. */
  disableConfig?: boolean;
  /** Appended last, so they win over the defaults above (e.g. the arguments a manifest gives redis-server). */
  extraArgs?: readonly string[];
}

/** Starts a real redis-server on a free loopback port. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'hoist-redis-')));
  const ownsDir = options.dir === undefined;
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir,
    '--appendonly', options.appendOnly ? 'yes' : 'no', '--maxmemory-policy', options.maxmemoryPolicy ?? 'noeviction',
    ...(options.disableConfig ? ['--rename-command', 'CONFIG', ''] : []),
    ...(options.extraArgs ?? []),
  ];
  const child: ChildProcess = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start on ${port}: ${output}`)), 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${output}`));
    });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      if (ownsDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
