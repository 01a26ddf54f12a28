import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistorySchema, OverviewSchema, PromotionSchema } from '../../src/http/schemas.js';
import { createKustomizeRenderer, findRenderedImages, readImages } from '../../src/kustomize/index.js';
import { createSyntheticGitops, git, type TempGitops } from '../helpers/git-repos.js';
import { API_TOKEN, pipelineEvent, settled, startTestHoist, type TestHoist, WEBHOOK_SECRET, webhookRequest } from '../helpers/hoist.js';
import { HTPASSWD_USER, startRecordingProxy, startRegistry, TOKEN_SERVICE, type RecordingProxy, type TestRegistry } from '../helpers/registry.js';

type View = Record<string, unknown> & { id: string; state: string; error?: string; digests?: Record<string, string> };

/** What a person or pipeline sees of a Hoist on a temp GitOps repo. */
function client(hoist: () => TestHoist, gitops: () => TempGitops) {
  const headers = { Authorization: `Bearer ${API_TOKEN}`, 'X-Hoist-User': 'alice', 'Content-Type': 'application/json' };
  const get = async (path: string) => (await (await hoist().app.request(path, { headers })).json()) as Record<string, unknown>;
  return {
    get,
    async pipeline(app: string, id: number): Promise<View> {
      const res = await hoist().app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: `group/${app}`, id, sha: randomUUID().replace(/-/g, '').padEnd(40, '0') })));
      expect(res.status).toBe(202);
      return (await settled(hoist(), ((await res.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id)) as View;
    },
    async promote(app: string, env: string, tag: string): Promise<View> {
      const res = await hoist().app.request('/api/promotions', { method: 'POST', headers, body: JSON.stringify({ app, env, tag }) });
      expect(res.status).toBe(202);
      return (await settled(hoist(), ((await res.json()) as View).id)) as View;
    },
    entry: async (env: string, image: string) => readImages(await git(gitops().bare, 'show', `main:overlays/${env}/kustomization.yaml`)).find((e) => e.name === image),
    head: async () => (await git(gitops().bare, 'rev-parse', 'main')).trim(),
    message: async () => git(gitops().bare, 'log', '-1', '--format=%B', 'main'),
    /** The overlay rendered with real kustomize, as Argo CD would: the image references it puts in containers. */
    async rendered(env: string): Promise<string[]> {
      const dir = await gitops().clone();
      return findRenderedImages(await createKustomizeRenderer().render(join(dir, 'overlays', env)));
    },
  };
}

describe('digest pinning against a real registry', () => {
  describe('pin: digest up the chain (anonymous registry)', () => {
    let registry: TestRegistry;
    let proxy: RecordingProxy;
    let gitops: TempGitops;
    let hoist: TestHoist;
    const api = client(() => hoist, () => gitops);
    let image = '';
    let pushed = '';
    const manifestRequests = () => proxy.requests.filter((r) => r.path.includes('/manifests/'));

    beforeAll(async () => {
      registry = await startRegistry();
      proxy = await startRecordingProxy(registry.url);
      image = `${proxy.host}/group/web`;
      gitops = await createSyntheticGitops(['web'], { registry: proxy.host });
      hoist = await startTestHoist(`gitops: { url: "${gitops.url}", branch: main }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN}, trustUserHeader: true }
environments:
  - { name: dev, path: overlays/dev, promotion: auto, pin: digest }
  - { name: staging, path: overlays/staging, from: dev, promotion: manual, pin: digest }
  - { name: prod, path: overlays/prod, from: staging, promotion: manual, verifyTag: true }
apps:
  - { name: web, project: group/web, image: "${image}", tag: "p$CI_PIPELINE_ID" }
`);
    });
    afterAll(async () => {
      await hoist?.close();
      await gitops?.cleanup();
      await proxy?.close();
      await registry?.stop();
    });

    it("writes the registry's digest beside the tag, renders name:tag@digest, and shows it in the API, history and status", async () => {
      pushed = await registry.push('group/web', 'p1001');
      proxy.requests.length = 0;
      const promotion = await api.pipeline('web', 1001);
      expect(promotion).toMatchObject({ state: 'committed', digests: { web: pushed } });
      expect(PromotionSchema.parse(promotion)).toBeTruthy();

      expect(await api.entry('dev', image)).toEqual({ name: image, newTag: 'p1001', digest: pushed });
      // What README "Digest pinning" says kustomize renders: the tag for people, the digest for the pull.
      expect(await api.rendered('dev')).toEqual([`${image}:p1001@${pushed}`]);
      expect(await api.message()).toContain(`Hoist-Tag: p1001\nHoist-Promotion: ${promotion.id}\nHoist-Source: https://gitlab.example.com/group/web/-/pipelines/1001\nHoist-Digest: ${pushed}\n`);
      expect(manifestRequests().map((r) => `${r.method} ${r.path}`)).toEqual(['HEAD /v2/group/web/manifests/p1001']);

      const history = HistorySchema.parse(await api.get('/api/history?env=dev'));
      expect(history.entries[0]).toMatchObject({ kind: 'pipeline', app: 'web', env: 'dev', tag: 'p1001', digest: pushed });
      const status = OverviewSchema.parse(await api.get('/api/status'));
      expect(status.cells.find((c) => c.env === 'dev' && c.app === 'web')).toMatchObject({ tag: 'p1001', digest: pushed });
    });

    it("carries dev's digest to staging without asking the registry, even after the tag was pushed again", async () => {
      const repushed = await registry.push('group/web', 'p1001', 'other bytes under the same tag');
      expect(repushed).not.toBe(pushed);
      proxy.requests.length = 0;
      // The Promote dialog's preview shows what would be written: the carried digest, not a re-resolved one.
      const preview = (await api.get('/api/diff?app=web&env=staging&tag=p1001')) as { allowed: boolean; diff: string };
      expect(preview.allowed).toBe(true);
      expect(preview.diff).toContain(`+      - image: ${image}:p1001@${pushed}\n`);
      const promotion = await api.promote('web', 'staging', 'p1001');
      expect(promotion).toMatchObject({ state: 'committed', digests: { web: pushed } });
      expect(await api.entry('staging', image)).toEqual({ name: image, newTag: 'p1001', digest: pushed });
      expect(await api.rendered('staging')).toEqual([`${image}:p1001@${pushed}`]);
      expect(await api.message()).toContain(`Hoist-Digest: ${pushed}\n`);
      expect(manifestRequests()).toEqual([]);
    });

    it('carries it to a verifyTag environment, which writes the tag alone and drops a digest left from an earlier pin', async () => {
      // Someone pinned prod by hand once: with the tag alone written, that digest would win and the tag change nothing.
      const dir = await gitops.clone();
      const file = join(dir, 'overlays/prod/kustomization.yaml');
      const stale = `sha256:${'0'.repeat(64)}`;
      await writeFile(file, (await git(dir, 'show', 'HEAD:overlays/prod/kustomization.yaml')).replace('newTag: "0.0.0"', `newTag: "0.0.0"\n    digest: "${stale}"`));
      await git(dir, 'commit', '-qam', 'pin prod by hand');
      await git(dir, 'push', '-q', 'origin', 'main');
      proxy.requests.length = 0;

      const promotion = await api.promote('web', 'prod', 'p1001');
      expect(promotion).toMatchObject({ state: 'committed', digests: { web: pushed } });
      expect(await api.entry('prod', image)).toEqual({ name: image, newTag: 'p1001' });
      expect(await api.rendered('prod')).toEqual([`${image}:p1001`]);
      expect(await api.message()).toContain(`Hoist-Digest: ${pushed}\n`);
      expect(manifestRequests()).toEqual([]);
      const status = OverviewSchema.parse(await api.get('/api/status'));
      // The overlay pins nothing; the cell shows what the promotion recorded.
      expect(status.cells.find((c) => c.env === 'prod' && c.app === 'web')).toMatchObject({ tag: 'p1001', digest: pushed });
    });

    it('fails a pipeline whose tag the registry does not have at once, with the reason, committing nothing', async () => {
      const head = await api.head();
      proxy.requests.length = 0;
      const promotion = await api.pipeline('web', 1999);
      expect(promotion.state).toBe('failed');
      expect(promotion.error).toBe(`registry ${proxy.host} has no image ${image}:p1999 (HTTP 404: no such tag, or no such repository)`);
      // Not retried: one worker start, one question to the registry.
      expect(promotion.attempts).toBe(1);
      expect(manifestRequests().map((r) => `${r.method} ${r.path}`)).toEqual(['HEAD /v2/group/web/manifests/p1999']);
      expect(await api.head()).toBe(head);
      expect(await api.entry('dev', image)).toEqual({ name: image, newTag: 'p1001', digest: pushed });
    });
  });

  describe('verifyTag and credentials (htpasswd and a token service)', () => {
    let basic: TestRegistry;
    let bearer: TestRegistry;
    const proxies = new Map<string, RecordingProxy>();
    let gitops: TempGitops;
    let hoist: TestHoist;
    const api = client(() => hoist, () => gitops);
    const hostOf = (app: string) => proxies.get(app)?.host ?? '';

    beforeAll(async () => {
      basic = await startRegistry({ auth: 'htpasswd' });
      bearer = await startRegistry({ auth: 'token' });
      // One proxy per app, so each app's registry host has credentials of its own (or none).
      for (const [app, registry] of [['basic', basic], ['nocreds', basic], ['badcreds', basic], ['bearer', bearer]] as const) proxies.set(app, await startRecordingProxy(registry.url));
      gitops = await createSyntheticGitops([...proxies.keys()], { registry: hostOf });
      hoist = await startTestHoist(`gitops: { url: "${gitops.url}", branch: main }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN}, trustUserHeader: true }
registries:
  "${hostOf('basic')}": { username: ${HTPASSWD_USER.username}, password: "${HTPASSWD_USER.password}" }
  "${hostOf('badcreds')}": { username: ${HTPASSWD_USER.username}, password: not-the-password }
  "${hostOf('bearer')}": { username: ${HTPASSWD_USER.username}, password: "${HTPASSWD_USER.password}" }
environments:
  - { name: dev, path: overlays/dev, promotion: auto, verifyTag: true }
  - { name: staging, path: overlays/staging, from: dev, promotion: manual }
apps:
${[...proxies.keys()].map((app) => `  - { name: ${app}, project: group/${app}, image: "${hostOf(app)}/group/${app}", tag: "p$CI_PIPELINE_ID" }`).join('\n')}
`);
    });
    afterAll(async () => {
      await hoist?.close();
      await gitops?.cleanup();
      for (const proxy of proxies.values()) await proxy.close();
      await basic?.stop();
      await bearer?.stop();
    });

    it('checks the tag with Basic credentials, writes only the tag, and records the digest', async () => {
      const digest = await basic.push('group/basic', 'p2001');
      const promotion = await api.pipeline('basic', 2001);
      expect(promotion).toMatchObject({ state: 'committed', digests: { basic: digest } });
      const image = `${hostOf('basic')}/group/basic`;
      expect(await api.entry('dev', image)).toEqual({ name: image, newTag: 'p2001' });
      expect(await api.message()).toContain(`Hoist-Digest: ${digest}\n`);
      expect(proxies.get('basic')?.requests.map((r) => r.authorization?.split(' ')[0])).toEqual([undefined, 'Basic']);
    });

    it('refuses a tag the registry does not have with verifyTag alone, committing nothing', async () => {
      const head = await api.head();
      const promotion = await api.pipeline('basic', 2999);
      expect(promotion).toMatchObject({ state: 'failed', attempts: 1 });
      expect(promotion.error).toBe(`registry ${hostOf('basic')} has no image ${hostOf('basic')}/group/basic:p2999 (HTTP 404: no such tag, or no such repository)`);
      expect(await api.head()).toBe(head);
    });

    it('fails clearly, naming the host, without credentials and with wrong ones', async () => {
      await basic.push('group/nocreds', 'p3001');
      await basic.push('group/badcreds', 'p3001');
      const head = await api.head();
      const none = await api.pipeline('nocreds', 3001);
      expect(none).toMatchObject({ state: 'failed', attempts: 1 });
      expect(none.error).toBe(`registry ${hostOf('nocreds')} asks for credentials (Basic) to read group/nocreds: set registries["${hostOf('nocreds')}"].username and password`);
      const wrong = await api.pipeline('badcreds', 3001);
      expect(wrong).toMatchObject({ state: 'failed', attempts: 1 });
      expect(wrong.error).toBe(`registry ${hostOf('badcreds')} refused the credentials of registries["${hostOf('badcreds')}"] for group/badcreds (HTTP 401 after authenticating)`);
      expect(hoist.logs.join('')).not.toContain('not-the-password');
      expect(await api.head()).toBe(head);
    });

    it('gets a pull token from the token service once, and uses it for the next promotion too', async () => {
      const tokens = bearer.tokens!;
      tokens.requests.length = 0;
      const first = await bearer.push('group/bearer', 'p4001');
      const second = await bearer.push('group/bearer', 'p4002');
      expect(await api.pipeline('bearer', 4001)).toMatchObject({ state: 'committed', digests: { bearer: first } });
      expect(await api.pipeline('bearer', 4002)).toMatchObject({ state: 'committed', digests: { bearer: second } });
      expect(tokens.requests.map((r) => ({ path: r.path, query: Object.fromEntries(r.query), authorization: r.authorization?.split(' ')[0] }))).toEqual([
        { path: '/token', query: { service: TOKEN_SERVICE, scope: 'repository:group/bearer:pull' }, authorization: 'Basic' },
      ]);
      expect(proxies.get('bearer')?.requests.map((r) => `${r.method} ${r.path} ${r.authorization?.split(' ')[0] ?? '-'}`)).toEqual([
        'HEAD /v2/group/bearer/manifests/p4001 -',
        'HEAD /v2/group/bearer/manifests/p4001 Bearer',
        'HEAD /v2/group/bearer/manifests/p4002 Bearer',
      ]);
    });
  });
});
