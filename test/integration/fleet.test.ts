import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSyntheticGitops, git, type TempGitops } from '../helpers/git-repos.js';
import { API_TOKEN, pipelineEvent, settled, startTestHoist, type TestHoist, waitFor, WEBHOOK_SECRET, webhookRequest } from '../helpers/hoist.js';

// Two GitOps repositories and an environment branch: a pipeline lands in all three targets, each with a commit of
// its own, and a release train that spans repositories lands as one commit per repository.

describe('a fleet: many GitOps repositories and branches', () => {
  let platform: TempGitops;
  let payments: TempGitops;
  let hoist: TestHoist;

  beforeEach(async () => {
    platform = await createSyntheticGitops(['web', 'api']);
    payments = await createSyntheticGitops(['web', 'api']);
    // An environment branch of the platform repo: `env/qa` carries the qa overlay.
    const work = await platform.clone('seed-qa');
    await git(work, 'checkout', '-q', '-b', 'env/qa');
    await git(work, 'push', '-q', 'origin', 'env/qa');
  });
  afterEach(async () => {
    await hoist?.close();
    await platform.cleanup();
    await payments.cleanup();
  });

  const config = () => `gitops:
  url: "${platform.url}"
  branch: main
  repos:
    payments: { url: "${payments.url}", branch: main }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN}, trustUserHeader: true }
auth: { demo: true, publicUrl: "http://127.0.0.1:8080" }
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - { name: qa, path: overlays/staging, promotion: auto, branch: env/qa }
  - { name: prod, path: overlays/prod, from: dev, promotion: manual, repo: payments }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web, tag: "v$CI_PIPELINE_ID" }
  - { name: api, project: group/api, image: registry.example.com/group/api, tag: "v$CI_PIPELINE_ID", repos: { prod: default } }
`;
  const tagIn = async (repo: TempGitops, ref: string, path: string, app = 'web') =>
    new RegExp(`name: registry.example.com/group/${app}\\n    newTag: "([^"]+)"`).exec(await git(repo.bare, 'show', `${ref}:${path}/kustomization.yaml`))?.[1];
  const as = (user: string) => ({ Authorization: `Bearer ${API_TOKEN}`, 'X-Hoist-User': user, 'Content-Type': 'application/json' });

  it('promotes into two repositories and an environment branch, each its own commit, and names the repository everywhere', async () => {
    hoist = await startTestHoist(config());
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id: 41 })));
    expect(res.status).toBe(202);
    const ids = ((await res.json()) as { promotions: Array<{ id: string; env: string }> }).promotions;
    expect(ids.map((p) => p.env).sort()).toEqual(['dev', 'qa']);
    for (const p of ids) expect(await settled(hoist, p.id)).toMatchObject({ state: 'committed' });
    expect(await tagIn(platform, 'main', 'overlays/dev')).toBe('v41');
    expect(await tagIn(platform, 'env/qa', 'overlays/staging')).toBe('v41');
    // The qa branch got its own commit; main never saw the qa change.
    expect(await tagIn(platform, 'main', 'overlays/staging')).toBe('0.0.0');
    expect((await git(platform.bare, 'log', '-1', '--format=%s', 'env/qa')).trim()).toBe('promote web to qa: v41');

    // prod lives in the payments repository.
    const prod = await hoist.app.request('/api/promotions', { method: 'POST', headers: as('alice'), body: JSON.stringify({ app: 'web', env: 'prod' }) });
    expect(prod.status).toBe(202);
    expect(await settled(hoist, ((await prod.json()) as { id: string }).id)).toMatchObject({ state: 'committed' });
    expect(await tagIn(payments, 'main', 'overlays/prod')).toBe('v41');
    expect(await tagIn(platform, 'main', 'overlays/prod')).toBe('0.0.0');

    const envs = ((await (await hoist.app.request('/api/environments', { headers: as('reader') })).json()) as { environments: Array<{ name: string; repo: string; branch: string; apps: Array<{ app: string; tag: string | null; repo?: string }> }> }).environments;
    expect(envs.map((e) => [e.name, e.repo, e.branch])).toEqual([
      ['dev', 'default', 'main'],
      ['qa', 'default', 'env/qa'],
      ['prod', 'payments', 'main'],
    ]);
    // web's prod entry is read in payments; api's prod entry lives in the default repository.
    expect(envs.find((e) => e.name === 'prod')?.apps).toEqual(expect.arrayContaining([expect.objectContaining({ app: 'web', tag: 'v41' }), expect.objectContaining({ app: 'api', tag: '0.0.0', repo: 'default' })]));
    const history = ((await (await hoist.app.request('/api/history?app=web', { headers: as('reader') })).json()) as { entries: Array<{ env: string; kind: string; repo?: string }> }).entries.filter((e) => e.kind !== 'outside');
    expect(history.map((e) => [e.env, e.repo]).sort()).toEqual([
      ['dev', 'default'],
      ['prod', 'payments'],
      ['qa', 'default'],
    ]);

    // The board heads each environment's column with where its overlay lives.
    const signIn = await hoist.app.request('http://127.0.0.1:8080/auth/demo', { method: 'POST', headers: { Origin: 'http://127.0.0.1:8080', 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'name=alice&return=%2F' });
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const board = await (await hoist.app.request('http://127.0.0.1:8080/', { headers: { Cookie: cookie } })).text();
    const headers = [...board.matchAll(/<th scope="col">([\s\S]*?)<\/th>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim());
    expect(headers).toEqual(['App', 'dev auto default@main', 'qa auto default@env/qa', 'prod manual from dev payments@main']);
  });

  it('lands a release train that spans repositories as one commit per repository, and says so', async () => {
    hoist = await startTestHoist(config());
    for (const [app, id] of [['web', 51], ['api', 52]] as const) {
      const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: `group/${app}`, id })));
      for (const p of ((await res.json()) as { promotions: Array<{ id: string }> }).promotions) await settled(hoist, p.id);
    }
    const train = await hoist.app.request('/api/promotions', { method: 'POST', headers: as('alice'), body: JSON.stringify({ apps: ['web', 'api'], env: 'prod' }) });
    expect(train.status).toBe(202);
    const id = ((await train.json()) as { id: string }).id;
    const final = await waitFor(async () => {
      const view = (await (await hoist.app.request(`/api/promotions/${id}`, { headers: as('reader') })).json()) as { state: string; commits?: Array<{ repo: string; commit: string }> };
      return view.state === 'committed' ? view : undefined;
    }, 'the train to land');
    expect(final.commits?.map((c) => c.repo).sort()).toEqual(['default', 'payments']);
    expect(await tagIn(payments, 'main', 'overlays/prod', 'web')).toBe('v51');
    expect(await tagIn(platform, 'main', 'overlays/prod', 'api')).toBe('v52');
    const paymentsHead = (await git(payments.bare, 'rev-parse', 'main')).trim();
    const platformHead = (await git(platform.bare, 'rev-parse', 'main')).trim();
    expect(final.commits?.find((c) => c.repo === 'payments')?.commit).toBe(paymentsHead);
    expect(final.commits?.find((c) => c.repo === 'default')?.commit).toBe(platformHead);
  });

  it('refuses a config that names a repository it does not have', async () => {
    const bad = config().replace('repo: payments', 'repo: paymnets');
    await expect(startTestHoist(bad)).rejects.toThrow(/environments\[2\]\.repo: unknown repository "paymnets" \(did you mean "payments"\?\)/);
  });
});
