import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyntheticGitops, git, type TempGitops } from '../helpers/git-repos.js';
import { appsConfig, pipelineEvent, settled, startTestHoist, type TestHoist, webhookRequest } from '../helpers/hoist.js';

const APPS = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];

describe('two Hoist processes sharing one Redis and one GitOps branch', () => {
  let gitops: TempGitops;
  let a: TestHoist;
  let b: TestHoist;

  beforeAll(async () => {
    gitops = await createSyntheticGitops(APPS);
    const prefix = `t${randomUUID().slice(0, 8)}`;
    a = await startTestHoist(appsConfig(gitops.url, APPS), { prefix });
    b = await startTestHoist(appsConfig(gitops.url, APPS), { prefix });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await gitops.cleanup();
  });

  it('serialises writes, coalesces them into few commits, and leaves every app at its newest build', async () => {
    const deliveries = APPS.flatMap((app, i) => [1, 2, 3].map((n) => ({ app, pipelineId: 100 * (i + 1) + n })));
    deliveries.sort(() => Math.random() - 0.5);
    const responses = await Promise.all(
      deliveries.map(async (d, i) => {
        const target = i % 2 === 0 ? a : b;
        const res = await target.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: `group/${d.app}`, id: d.pipelineId, sha: randomUUID().replace(/-/g, '').padEnd(40, '0') })));
        expect(res.status).toBe(202);
        return (await res.json()) as { promotions: Array<{ id: string; app: string }> };
      }),
    );
    const ids = responses.flatMap((r) => r.promotions.map((p) => p.id));
    expect(new Set(ids).size).toBe(15);
    const finals = await Promise.all(ids.map((id) => settled(a, id)));
    for (const f of finals) expect(['committed', 'skipped']).toContain(f.state);

    const dev = await git(gitops.bare, 'show', 'main:overlays/dev/kustomization.yaml');
    APPS.forEach((app, i) => {
      // Pipelines finish in any order; an older one never overwrites a newer one.
      expect(dev).toMatch(new RegExp(`name: registry.example.com/group/${app}\\n    newTag: "p${i + 1}03"`));
    });
    const commits = Number((await git(gitops.bare, 'rev-list', '--count', 'main')).trim()) - 1;
    expect(commits).toBeGreaterThan(0);
    expect(commits).toBeLessThan(15);
    expect((await git(gitops.bare, 'rev-list', '--merges', 'main')).trim()).toBe('');
    const committed = finals.filter((f) => f.state === 'committed');
    const landed = (await git(gitops.bare, 'log', '--format=%(trailers:key=Hoist-Promotion,valueonly)', 'main')).split('\n').filter(Boolean);
    expect(landed.sort()).toEqual(committed.map((f) => f.id as string).sort());
  });
});
