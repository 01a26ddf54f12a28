import { describe, expect, it } from 'vitest';
import { judgeNodes, judgePersistence, type PersistenceSettings } from './redis-persistence.js';

const read = (appendonly: string | undefined, save: string | undefined, maxmemoryPolicy: string | undefined): PersistenceSettings => ({
  kind: 'read',
  appendonly,
  save,
  maxmemoryPolicy,
});
const risks = (settings: PersistenceSettings) => judgePersistence(settings).map((w) => w.risk);

describe('judgePersistence', () => {
  it('has nothing to say about a Redis with AOF or RDB snapshots and noeviction', () => {
    expect(judgePersistence(read('yes', '', 'noeviction'))).toEqual([]);
    expect(judgePersistence(read('no', '3600 1 300 100 60 10000', 'noeviction'))).toEqual([]);
    expect(judgePersistence(read('yes', '3600 1', 'noeviction'))).toEqual([]);
  });

  it('warns that accepted promotions would be lost on a restart when Redis persists nothing, and says how to fix it', () => {
    const warnings = judgePersistence(read('no', '', 'noeviction'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ risk: 'no_persistence', message: expect.stringMatching(/persists nothing.*lost on a Redis restart.*appendonly yes/) });
    expect(risks(read('no', '   ', 'noeviction'))).toEqual(['no_persistence']);
  });

  it('warns that promotions could be evicted under any policy but noeviction, naming the policy', () => {
    for (const policy of ['allkeys-lru', 'volatile-lru', 'allkeys-random', 'volatile-ttl', 'allkeys-lfu']) {
      const warnings = judgePersistence(read('yes', '', policy));
      expect(warnings).toEqual([{ risk: 'eviction', message: expect.stringContaining(`maxmemory-policy ${policy}`) }]);
      expect(warnings[0]?.message).toMatch(/could be evicted.*Set maxmemory-policy noeviction/);
    }
  });

  it('names both risks when both apply', () => {
    expect(risks(read('no', '', 'allkeys-lru'))).toEqual(['no_persistence', 'eviction']);
  });

  it('says it could not check when CONFIG is refused, with the reason', () => {
    const warnings = judgePersistence({ kind: 'refused', reason: "ERR unknown command 'config'" });
    expect(warnings).toEqual([{ risk: 'unknown', message: expect.stringMatching(/^could not check Redis persistence \(CONFIG GET refused: ERR unknown command 'config'\)/) }]);
  });

  it('says which settings it could not read, and still judges the ones it could', () => {
    expect(judgePersistence(read(undefined, undefined, 'noeviction'))).toEqual([{ risk: 'unknown', message: expect.stringContaining('could not check Redis appendonly and save') }]);
    expect(risks(read('no', '', undefined))).toEqual(['no_persistence', 'unknown']);
    // AOF on answers the persistence question; a missing `save` then does not matter.
    expect(judgePersistence(read('yes', undefined, 'noeviction'))).toEqual([]);
    expect(risks(read(undefined, '900 1', 'allkeys-lru'))).toEqual(['eviction']);
  });
});

describe('judgeNodes', () => {
  it('judges one Redis as judgePersistence does', () => {
    expect(judgeNodes([{ settings: read('no', '', 'noeviction') }])).toEqual(judgePersistence(read('no', '', 'noeviction')));
  });

  it('names the cluster masters a risk concerns, one warning per risk', () => {
    const safe = read('yes', '', 'noeviction');
    const warnings = judgeNodes([
      { node: '10.0.0.1:7000', settings: safe },
      { node: '10.0.0.2:7000', settings: read('no', '', 'noeviction') },
      { node: '10.0.0.3:7000', settings: read('no', '', 'allkeys-lru') },
    ]);
    expect(warnings.map((w) => [w.risk, w.message.replace(/: Redis (persists|may evict).*$/, '')])).toEqual([
      ['no_persistence', 'Redis Cluster master 10.0.0.2:7000, 10.0.0.3:7000'],
      ['eviction', 'Redis Cluster master 10.0.0.3:7000'],
    ]);
    expect(judgeNodes([{ node: 'a:1', settings: read('no', '', 'noeviction') }, { node: 'b:1', settings: read('no', '', 'noeviction') }])[0]?.message).toMatch(/^every Redis Cluster master: Redis persists nothing/);
    expect(judgeNodes([])).toEqual([{ risk: 'unknown', message: expect.stringMatching(/^could not check Redis persistence/) }]);
  });
});
