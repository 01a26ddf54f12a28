import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSyntheticGitops, git, type TempGitops } from '../helpers/git-repos.js';
import { appsConfig, pipelineEvent, settled, startTestHoist, type TestHoist, webhookRequest } from '../helpers/hoist.js';
import { recordFigures } from './figures.js';

const sha = () => randomUUID().replace(/-/g, '').padEnd(40, '0');

async function send(hoist: TestHoist, app: string, pipelineId: number, key = randomUUID()) {
  const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: `group/${app}`, id: pipelineId, sha: sha() }), { 'Idempotency-Key': key }));
  expect(res.status).toBe(202);
  return ((await res.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id;
}

async function devTag(gitops: TempGitops, app: string): Promise<string | undefined> {
  const file = await git(gitops.bare, 'show', 'main:overlays/dev/kustomization.yaml');
  return new RegExp(`name: registry.example.com/group/${app}\\n    newTag: "([^"]+)"`).exec(file)?.[1];
}

describe('ordering: an older pipeline never overwrites a newer one', () => {
  let gitops: TempGitops;
  let hoist: TestHoist;
  beforeEach(async () => {
    gitops = await createSyntheticGitops(['web']);
    hoist = await startTestHoist(appsConfig(gitops.url, ['web']));
  });
  afterEach(async () => {
    await hoist.close();
    await gitops.cleanup();
  });

  it('skips the late older pipeline with the reason, and lets a newer one through', async () => {
    expect((await settled(hoist, await send(hoist, 'web', 200))).state).toBe('committed');
    const late = await settled(hoist, await send(hoist, 'web', 150));
    expect(late).toMatchObject({ state: 'skipped', reason: 'pipeline 150 is older than pipeline 200, whose tag p200 dev already runs' });
    expect(await devTag(gitops, 'web')).toBe('p200');
    expect((await settled(hoist, await send(hoist, 'web', 201))).state).toBe('committed');
    expect(await devTag(gitops, 'web')).toBe('p201');
  });

  it('does not hold a hand-edited tag against an older pipeline (we no longer know where it came from)', async () => {
    await settled(hoist, await send(hoist, 'web', 300));
    const clone = await gitops.clone();
    const { readFile, writeFile } = await import('node:fs/promises');
    const path = `${clone}/overlays/dev/kustomization.yaml`;
    await writeFile(path, (await readFile(path, 'utf8')).replace('"p300"', '"hotfix-1"'));
    await git(clone, 'commit', '-qam', 'hotfix by hand');
    await git(clone, 'push', '-q', 'origin', 'main');
    expect((await settled(hoist, await send(hoist, 'web', 250))).state).toBe('committed');
    expect(await devTag(gitops, 'web')).toBe('p250');
  });
});

describe('idempotency: GitLab delivers at least once', () => {
  it('1,000 deliveries of 100 events, each resent 1–20 times in shuffled order, give one promotion per event and no empty or duplicate commit', async () => {
    const apps = Array.from({ length: 10 }, (_, i) => `app${i}`);
    const gitops = await createSyntheticGitops(apps);
    const hoist = await startTestHoist(appsConfig(gitops.url, apps));
    try {
      const events = Array.from({ length: 100 }, (_, i) => ({ app: apps[i % 10]!, pipelineId: 1000 + i, key: randomUUID(), body: undefined as unknown }));
      for (const e of events) e.body = await pipelineEvent({ project: `group/${e.app}`, id: e.pipelineId, sha: sha() });
      // 1–20 copies each, 1,000 in all, shuffled.
      const copies = events.map(() => 1 + Math.floor(Math.random() * 20));
      let total = copies.reduce((a, b) => a + b, 0);
      for (let i = 0; total !== 1000; i = (i + 1) % 100) {
        const step = total < 1000 && copies[i]! < 20 ? 1 : total > 1000 && copies[i]! > 1 ? -1 : 0;
        copies[i]! += step;
        total += step;
      }
      const deliveries = events.flatMap((e, i) => Array.from({ length: copies[i]! }, () => e));
      deliveries.sort(() => Math.random() - 0.5);
      const idsByEvent = new Map<string, Set<string>>();
      for (let i = 0; i < deliveries.length; i += 50) {
        await Promise.all(
          deliveries.slice(i, i + 50).map(async (e) => {
            const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(e.body, { 'Idempotency-Key': e.key }));
            expect(res.status).toBe(202);
            const id = ((await res.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id;
            (idsByEvent.get(e.key) ?? idsByEvent.set(e.key, new Set()).get(e.key)!).add(id);
          }),
        );
      }
      expect([...idsByEvent.values()].every((ids) => ids.size === 1)).toBe(true);
      const ids = [...idsByEvent.values()].map((s) => [...s][0]!);
      expect(new Set(ids).size).toBe(100);
      const finals = await Promise.all(ids.map((id) => settled(hoist, id)));
      const committed = finals.filter((f) => f.state === 'committed');
      const skipped = finals.filter((f) => f.state === 'skipped');
      expect(committed.length + skipped.length).toBe(100);
      for (const s of skipped) expect(s.reason).toMatch(/older than pipeline|already runs|superseded/);

      const commits = (await git(gitops.bare, 'rev-list', 'main')).trim().split('\n').slice(0, -1);
      for (const c of commits) expect((await git(gitops.bare, 'diff-tree', '--no-commit-id', '--name-only', '-r', c)).trim()).not.toBe('');
      const landed = (await git(gitops.bare, 'log', '--format=%(trailers:key=Hoist-Promotion,valueonly)', 'main')).split('\n').filter(Boolean);
      expect(new Set(landed).size).toBe(landed.length);
      expect(landed.sort()).toEqual(committed.map((c) => c.id as string).sort());
      for (const [i, app] of apps.entries()) expect(await devTag(gitops, app)).toBe(`p${1090 + i}`);
      recordFigures('idempotency', { events: 100, deliveries: 1000, duplicates: 900, committed: committed.length, skipped: skipped.length, failed: finals.filter((f) => f.state === 'failed').length, commits: commits.length, lost: 100 - committed.length - skipped.length, duplicated: landed.length - new Set(landed).size });
    } finally {
      await hoist.close();
      await gitops.cleanup();
    }
  });
});
