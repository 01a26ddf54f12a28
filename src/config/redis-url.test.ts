import { describe, expect, it } from 'vitest';
import type { HoistError } from '../errors.js';
import { parseRedisUrl, redactRedisUrl } from './redis-url.js';

const refusal = (value: string): string => {
  try {
    parseRedisUrl(value);
  } catch (error) {
    expect((error as HoistError).code).toBe('config_invalid');
    return (error as Error).message;
  }
  throw new Error(`expected REDIS_URL=${JSON.stringify(value)} to be refused`);
};

describe('parseRedisUrl', () => {
  it('keeps redis:// and rediss:// as one Redis, handed to ioredis as written', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379')).toEqual({ kind: 'single', url: 'redis://127.0.0.1:6379' });
    expect(parseRedisUrl(' rediss://:pw@redis.example.com:6380/2 ')).toEqual({ kind: 'single', url: 'rediss://:pw@redis.example.com:6380/2' });
  });

  it('reads a cluster by its seed nodes, with the password for every node and TLS from rediss+cluster', () => {
    expect(parseRedisUrl('redis+cluster://10.0.0.1:7000,10.0.0.2:7001,redis-2.redis:7002')).toEqual({
      kind: 'cluster',
      nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }, { host: 'redis-2.redis', port: 7002 }],
      auth: {},
      tls: false,
    });
    expect(parseRedisUrl('rediss+cluster://hoist:p%40ss@a:7000,[::1]:7001,b/')).toEqual({
      kind: 'cluster',
      nodes: [{ host: 'a', port: 7000 }, { host: '::1', port: 7001 }, { host: 'b', port: 6379 }],
      auth: { username: 'hoist', password: 'p@ss' },
      tls: true,
    });
    // An unencoded '@' in the password: the hosts start after the last one.
    expect(parseRedisUrl('redis+cluster://:p@ss@a:7000')).toMatchObject({ nodes: [{ host: 'a', port: 7000 }], auth: { password: 'p@ss' } });
  });

  it('reads a Sentinel set, its master name, a database and the sentinels\' own credentials', () => {
    expect(parseRedisUrl('redis+sentinel://:pw@s1:26379,s2:26380,s3/mymaster')).toEqual({
      kind: 'sentinel',
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }, { host: 's3', port: 26379 }],
      name: 'mymaster',
      db: 0,
      auth: { password: 'pw' },
      sentinelAuth: {},
      tls: false,
    });
    expect(parseRedisUrl('rediss+sentinel://s1:26379/hoist-master/3?sentinelPassword=sp&sentinelUsername=watch')).toMatchObject({
      name: 'hoist-master',
      db: 3,
      sentinelAuth: { username: 'watch', password: 'sp' },
      tls: true,
    });
  });

  it('refuses malformed URLs with the reason, never echoing a password', () => {
    expect(refusal('127.0.0.1:6379')).toMatch(/^REDIS_URL must start with redis:\/\/ or rediss:\/\/ .*redis\+cluster:\/\/.*redis\+sentinel:\/\/.*e\.g\. redis:\/\/127\.0\.0\.1:6379$/);
    expect(refusal('https://:s3cret@redis.example.com')).toMatch(/, not https:\/\/$/);
    expect(refusal('redis+kluster://a:1')).toMatch(/, not redis\+kluster:\/\/$/);
    expect(refusal('redis://')).toMatch(/^REDIS_URL names no host/);
    expect(refusal('redis+cluster://:s3cret@')).toBe('REDIS_URL names no host: write it as redis+cluster://[:password@]host:port,host:port');
    expect(refusal('redis+cluster://a:7000,,b:7001')).toBe('REDIS_URL node 2 is not host:port (got "")');
    expect(refusal('redis+cluster://a:7000,b:70000')).toBe('REDIS_URL node 2 (b) has no valid port: "70000" is not a number from 1 to 65535');
    expect(refusal('redis+cluster://a:port')).toMatch(/^REDIS_URL node 1 \(a\) has no valid port: "port"/);
    expect(refusal('redis+cluster://a:0')).toMatch(/^REDIS_URL node 1 \(a\) has no valid port/);
    expect(refusal('redis+cluster://a:7000/2')).toMatch(/^REDIS_URL names a database, but a Redis Cluster has only database 0/);
    expect(refusal('redis+cluster://a:7000?sentinelPassword=x')).toBe('REDIS_URL has an unknown parameter "sentinelPassword": redis+cluster:// takes none');
    expect(refusal('redis+sentinel://:s3cret@s1:26379')).toBe('REDIS_URL names no master: Sentinel knows masters by name, write it as redis+sentinel://[:password@]host:port,host:port/<master name>');
    expect(refusal('redis+sentinel://s1:26379/')).toMatch(/^REDIS_URL names no master/);
    expect(refusal('redis+sentinel://s1:26379/m/x')).toMatch(/^REDIS_URL may name a database after the master/);
    expect(refusal('redis+sentinel://s1/m?password=x')).toBe('REDIS_URL has an unknown parameter "password": redis+sentinel:// takes sentinelUsername and sentinelPassword');
    expect(refusal('redis+sentinel://s1/m#x')).toMatch(/^REDIS_URL takes no #fragment/);
    for (const value of ['https://:s3cret@redis.example.com', 'redis+sentinel://:s3cret@a:26379', 'redis+cluster://:s3cret@', 'redis+cluster://u:s3cret@a:x']) {
      expect(refusal(value)).not.toContain('s3cret');
    }
  });
});

describe('redactRedisUrl', () => {
  it('hides every password, the sentinels\' too, and keeps the rest readable', () => {
    expect(redactRedisUrl('redis://:pw@h:6379/1')).toBe('redis://:***@h:6379/1');
    expect(redactRedisUrl('rediss://user:pw@h')).toBe('rediss://user:***@h');
    expect(redactRedisUrl('redis://h:6379')).toBe('redis://h:6379');
    expect(redactRedisUrl('redis+cluster://hoist:p@ss@a:1,b:2')).toBe('redis+cluster://hoist:***@a:1,b:2');
    expect(redactRedisUrl('redis+sentinel://:pw@s1,s2/m?sentinelUsername=w&sentinelPassword=sp')).toBe('redis+sentinel://:***@s1,s2/m?sentinelUsername=w&sentinelPassword=***');
  });
});
