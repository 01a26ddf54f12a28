import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeConfig, redisCli, spawnRedis, waitUntil, type RedisNode } from './redis-processes.js';
import { freePort } from './redis-server.js';

export interface RedisSentinelHandle {
  /** `redis+sentinel://127.0.0.1:s1,…/<name>`. */
  url: string;
  name: string;
  master: RedisNode;
  replica: RedisNode;
  sentinels: RedisNode[];
  /** The port the sentinels name as master right now. */
  masterPort(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A real Sentinel set: one master, one replica, three sentinels (quorum 2) with a short down-after and failover
 * timeout, so a killed master is replaced within a few seconds.
 */
export async function startRedisSentinel(options: { name?: string; downAfterMs?: number } = {}): Promise<RedisSentinelHandle> {
  const name = options.name ?? 'hoist-master';
  const root = await mkdtemp(join(tmpdir(), 'hoist-redis-sentinel-'));
  const started: RedisNode[] = [];
  const stop = async () => {
    await Promise.all(started.map((n) => n.kill()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    const serverAt = async (label: string, extra: string) => {
      const port = await freePort();
      const dir = join(root, label);
      await mkdir(dir);
      const file = join(dir, 'redis.conf');
      await writeFile(file, nodeConfig(port, dir, extra));
      const node = await spawnRedis(file, port);
      started.push(node);
      return node;
    };
    const master = await serverAt('master', '');
    const replica = await serverAt('replica', `replicaof 127.0.0.1 ${master.port}\n`);
    await waitUntil(async () => (await redisCli(replica.port, 'INFO', 'replication')).includes('master_link_status:up'), 'the replica to sync');
    const sentinels: RedisNode[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const dir = join(root, `sentinel-${i}`);
      await mkdir(dir);
      const file = join(dir, 'sentinel.conf');
      // Sentinel rewrites its own config file (what it learnt about the set), so each gets one of its own.
      await writeFile(
        file,
        `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor ${name} 127.0.0.1 ${master.port} 2\n` +
          `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 2_000}\nsentinel failover-timeout ${name} 10000\nsentinel parallel-syncs ${name} 1\n`,
      );
      const node = await spawnRedis(file, port, ['--sentinel']);
      started.push(node);
      sentinels.push(node);
    }
    const masterPort = async () => {
      for (const s of sentinels) {
        try {
          const answer = (await redisCli(s.port, 'SENTINEL', 'get-master-addr-by-name', name)).trim().split('\n');
          if (answer[1]) return Number(answer[1]);
        } catch {
          // Ask the next sentinel.
        }
      }
      throw new Error('no sentinel names a master');
    };
    // Every sentinel knows the replica and the others, so a failover can be agreed on.
    await waitUntil(async () => {
      for (const s of sentinels) {
        const info = await redisCli(s.port, 'SENTINEL', 'master', name);
        const fields = info.trim().split('\n');
        const value = (k: string) => fields[fields.indexOf(k) + 1];
        if (value('num-slaves') !== '1' || value('num-other-sentinels') !== '2') return false;
      }
      return true;
    }, 'the sentinels to find the replica and each other');
    return { url: `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${name}`, name, master, replica, sentinels, masterPort, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
