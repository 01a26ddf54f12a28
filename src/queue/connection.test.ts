import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createRedisConnection, keyPrefixFor } from './connection.js';

describe('keyPrefixFor', () => {
  it('makes the prefix a hash tag on a cluster, so every key of the install shares one slot', () => {
    expect(keyPrefixFor('hoist', 'redis+cluster://a:7000,b:7001')).toBe('{hoist}');
    expect(keyPrefixFor('team-a', 'rediss+cluster://a:7000')).toBe('{team-a}');
    expect(keyPrefixFor('{hoist}', 'redis+cluster://a:7000')).toBe('{hoist}');
  });

  it('keeps the prefix as written on one Redis and under Sentinel, where existing keys must stay where they are', () => {
    expect(keyPrefixFor('hoist', 'redis://127.0.0.1:6379')).toBe('hoist');
    expect(keyPrefixFor('hoist', 'redis+sentinel://s1:26379/m')).toBe('hoist');
    expect(keyPrefixFor('{hoist}', 'redis://127.0.0.1:6379')).toBe('{hoist}');
  });
});

describe('createRedisConnection', () => {
  const opened: Array<Redis | Cluster> = [];
  const open = (url: string, role: 'producer' | 'worker') => {
    const client = createRedisConnection(url, role);
    opened.push(client);
    return client;
  };

  it('opens a Cluster for redis+cluster://, with the password on every node and the role\'s options per node', () => {
    const worker = open('redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001', 'worker');
    expect(worker).toBeInstanceOf(Cluster);
    const { redisOptions, lazyConnect, enableOfflineQueue } = (worker as Cluster).options;
    // BullMQ refuses a worker connection whose nodes give up on a command (maxRetriesPerRequest must be null).
    expect(redisOptions).toMatchObject({ password: 'pw', maxRetriesPerRequest: null, connectionName: 'hoist-worker' });
    expect({ lazyConnect, enableOfflineQueue }).toEqual({ lazyConnect: true, enableOfflineQueue: true });
    const producer = open('rediss+cluster://a:7000', 'producer') as Cluster;
    expect(producer.options.enableOfflineQueue).toBe(false);
    expect(producer.options.redisOptions).toMatchObject({ maxRetriesPerRequest: 1, commandTimeout: 2_000, tls: {} });
  });

  it('opens a Sentinel-backed Redis for redis+sentinel://, and one Redis for redis://', () => {
    const sentinel = open('redis+sentinel://:pw@s1:26379,s2/hoist-master/2?sentinelPassword=sp', 'producer');
    expect(sentinel).toBeInstanceOf(Redis);
    expect((sentinel as Redis).options).toMatchObject({
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }],
      name: 'hoist-master',
      db: 2,
      password: 'pw',
      sentinelPassword: 'sp',
      maxRetriesPerRequest: 1,
    });
    const single = open('redis://127.0.0.1:6390/1', 'worker') as Redis;
    expect(single).toBeInstanceOf(Redis);
    expect(single.options).toMatchObject({ host: '127.0.0.1', port: 6390, db: 1, maxRetriesPerRequest: null });
    for (const client of opened) client.disconnect();
  });
});
