import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { nodeConfig, redisCli, spawnRedis, waitUntil, type RedisNode } from './redis-processes.js';
import { freePort } from './redis-server.js';

const run = promisify(execFile);

export interface RedisClusterHandle {
  /** `redis+cluster://127.0.0.1:p1,…` naming every node as a seed. */
  url: string;
  nodes: RedisNode[];
  /** The node currently serving `key`'s slot as master (asks the cluster). */
  masterOf(key: string): Promise<RedisNode>;
  /** Waits until every live node reports cluster_state:ok and `key`'s slot has a master that answers. */
  waitHealthy(key?: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real Redis Cluster: three masters with one replica each (six redis-server processes on free ports, bus ports
 * given explicitly so they cannot collide), built by `redis-cli --cluster create`. A short node timeout so a replica
 * takes over a killed master within a few seconds.
 */
export async function startRedisCluster(options: { nodeTimeoutMs?: number } = {}): Promise<RedisClusterHandle> {
  const root = await mkdtemp(join(tmpdir(), 'hoist-redis-cluster-'));
  const nodes: RedisNode[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 6; i++) {
      const port = await freePort();
      const busPort = await freePort();
      const dir = join(root, `node-${i}`);
      await mkdir(dir);
      const file = join(dir, 'redis.conf');
      await writeFile(
        file,
        nodeConfig(port, dir, `cluster-enabled yes\ncluster-config-file nodes.conf\ncluster-port ${busPort}\ncluster-node-timeout ${options.nodeTimeoutMs ?? 3_000}\n`),
      );
      nodes.push(await spawnRedis(file, port));
    }
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 60_000 });
  } catch (error) {
    await stop();
    throw error;
  }
  const alive = () => nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  const handle: RedisClusterHandle = {
    url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    nodes,
    async masterOf(key) {
      for (const node of alive()) {
        try {
          const slot = Number((await redisCli(node.port, 'CLUSTER', 'KEYSLOT', key)).trim());
          // `<id> <host:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot ranges…>`, one node a line.
          for (const line of (await redisCli(node.port, 'CLUSTER', 'NODES')).trim().split('\n')) {
            const [, address, flags, , , , , link, ...ranges] = line.trim().split(' ');
            if (!address || !flags?.split(',').includes('master') || flags.includes('fail') || link !== 'connected') continue;
            const owns = ranges.some((range) => {
              const [from, to = from] = range.split('-').map(Number);
              return from !== undefined && to !== undefined && slot >= from && slot <= to;
            });
            const found = nodes.find((n) => n.port === Number(address.split('@')[0]?.split(':')[1]));
            if (owns && found) return found;
          }
        } catch {
          // That node is down or not answering yet: ask another.
        }
      }
      throw new Error(`no live master serves the slot of ${key}`);
    },
    async waitHealthy(key = 'hoist') {
      await waitUntil(async () => {
        for (const node of alive()) {
          if (!(await redisCli(node.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
        }
        const master = await handle.masterOf(key);
        return (await redisCli(master.port, 'PING')).trim() === 'PONG';
      }, 'the Redis Cluster to be healthy');
    },
    stop,
  };
  await handle.waitHealthy();
  // Replicas in sync with their masters, so a failover has someone to promote.
  await waitUntil(async () => {
    const infos = await Promise.all(nodes.map((n) => redisCli(n.port, 'INFO', 'replication')));
    return infos.filter((i) => i.includes('role:slave') && i.includes('master_link_status:up')).length === 3;
  }, 'every replica to sync with its master');
  return handle;
}

