import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { API_ROUTES } from '../../src/http/api.js';
import { createSyntheticGitops, type TempGitops } from '../helpers/git-repos.js';
import { API_TOKEN, pipelineEvent, settled, startTestHoist, type TestHoist, WEBHOOK_SECRET, webhookRequest } from '../helpers/hoist.js';

const ORIGIN = 'http://127.0.0.1:8080';

function config(url: string): string {
  return `gitops: { url: "${url}", branch: main }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN} }
auth: { demo: true, publicUrl: "${ORIGIN}" }
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - { name: staging, path: overlays/staging, from: dev, promotion: manual }
  - name: prod
    path: overlays/prod
    from: staging
    promotion: manual
    approvals: { required: 1, approvers: ["*"] }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web, tag: "v$CI_PIPELINE_ID" }
`;
}

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[] }>>;
  components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
}

type RouteDef = (typeof API_ROUTES)[keyof typeof API_ROUTES];

/** The zod schema a route declares for a status's JSON answer, if any. */
function declared(route: RouteDef, status: number): z.ZodTypeAny | undefined {
  const response = (route.responses as Record<number, { content?: Record<string, { schema?: z.ZodTypeAny }> }>)[status];
  return response?.content?.['application/json']?.schema;
}

describe('the OpenAPI document: every route, and real answers that match it', () => {
  let gitops: TempGitops;
  let hoist: TestHoist;
  const checked: string[] = [];
  beforeAll(async () => {
    gitops = await createSyntheticGitops(['web']);
    hoist = await startTestHoist(config(gitops.url));
  });
  afterAll(async () => {
    await hoist.close();
    await gitops.cleanup();
  });

  /** Calls a documented /api route and checks its JSON answer against the schema it declares for that status. */
  async function call(route: RouteDef, path: string, init: RequestInit, expected: number): Promise<Record<string, unknown>> {
    const res = await hoist.app.request(`/api${path}`, { ...init, headers: { Authorization: `Bearer ${API_TOKEN}`, 'Content-Type': 'application/json', ...(init.headers as Record<string, string>) } });
    expect(res.status, `${route.method.toUpperCase()} ${path}`).toBe(expected);
    if (res.status === 204) return {};
    const body = (await res.json()) as Record<string, unknown>;
    const schema = declared(route, res.status) ?? declared(route, Number(String(res.status)[0]) * 100);
    expect(schema, `${route.path} declares no schema for ${res.status}`).toBeDefined();
    const parsed = schema!.safeParse(body);
    expect(parsed.success, `${route.method.toUpperCase()} ${path} → ${res.status} does not match its schema: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
    checked.push(`${route.method} ${route.path} ${res.status}`);
    return body;
  }

  it('is served without a token, OpenAPI 3.1, with its security schemes', async () => {
    const res = await hoist.app.request('/api/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as OpenApiDoc;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['argocdToken', 'bearer', 'deploymentsToken', 'gitlabToken', 'mattermostToken', 'session', 'slackSignature']);
    expect(doc.paths['/api/promotions']?.post?.security).toEqual([{ bearer: [] }, { session: [] }]);
    expect(Object.keys(doc.paths['/api/promotions']?.post?.responses ?? {})).toEqual(expect.arrayContaining(['202', '400', '401', '403', '409', '413', '503']));
    expect(doc.components.schemas.Error).toBeDefined();
  });

  it('lists every route the app registers', async () => {
    const doc = (await (await hoist.app.request('/api/openapi.json')).json()) as OpenApiDoc;
    const registered = hoist.app.routes
      .filter((r) => r.method !== 'ALL' && !r.path.endsWith('*'))
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)));
    const missing = [...new Set(registered)].filter((r) => !documented.has(r));
    expect(missing, 'routes missing from the OpenAPI document').toEqual([]);
    // …and the document names no route the app does not have.
    const extra = [...documented].filter((d) => !registered.includes(d));
    expect(extra).toEqual([]);
  });

  it('renders the document with a reference UI served by Hoist (no CDN, no inline script)', async () => {
    const page = await hoist.app.request('/api/docs');
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const html = await page.text();
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(body).toBe('');
      expect(attrs).toMatch(/src="\/api\/docs\/[a-z.-]+\.js"/);
      const src = /src="([^"]+)"/.exec(attrs as string)?.[1] as string;
      const asset = await hoist.app.request(src);
      expect(asset.status).toBe(200);
      expect((await asset.text()).length).toBeGreaterThan(10);
    }
    expect(html).not.toMatch(/https?:\/\//);
    expect((await hoist.app.request('/api/docs/swagger-ui.css')).status).toBe(200);
    expect((await hoist.app.request('/api/docs/..%2F..%2Fpackage.json')).status).toBe(404);
  });

  it('answers what it declares, on every /api route', async () => {
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id: 21 })));
    const id = ((await res.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id;
    await settled(hoist, id);
    const r = API_ROUTES;
    await call(r.getPromotion, `/promotions/${id}`, {}, 200);
    await call(r.getPromotion, '/promotions/p-none', {}, 404);
    await call(r.listPromotions, '/promotions?state=committed&app=web&env=dev&limit=5', {}, 200);
    await call(r.listPromotions, '/promotions?state=nope', {}, 400);
    await call(r.environments, '/environments', {}, 200);
    await call(r.status, '/status', {}, 200);
    await call(r.history, '/history?app=web', {}, 200);
    await call(r.preview, '/diff?app=web&env=staging', {}, 200);
    await call(r.preview, '/diff?app=web&env=prod&tag=v999', {}, 200); // a refusal is an answer too
    const staged = await call(r.requestPromotion, '/promotions', { method: 'POST', body: JSON.stringify({ app: 'web', env: 'staging' }) }, 202);
    await settled(hoist, staged.id as string);
    await call(r.requestPromotion, '/promotions', { method: 'POST', body: JSON.stringify({ app: 'web', env: 'staging' }) }, 409);
    await call(r.requestPromotion, '/promotions', { method: 'POST', body: JSON.stringify({ app: 'web', env: 'staging', tag: 'bad tag' }) }, 400);
    const prod = await call(r.requestPromotion, '/promotions', { method: 'POST', body: JSON.stringify({ apps: ['web'], env: 'prod' }) }, 202);
    await call(r.cancel, `/promotions/${prod.id}/cancel`, { method: 'POST' }, 200);
    await call(r.approve, `/promotions/${prod.id}/approve`, { method: 'POST' }, 409);
    // Without Argo CD there is no Rollout to drive; the 202 answers are checked in rollouts.test.ts, against the stub.
    await call(r.rollout, `/promotions/${id}/rollout`, { method: 'POST', body: JSON.stringify({ action: 'resume' }) }, 409);
    await call(r.rollout, '/promotions/p-none/rollout', { method: 'POST', body: JSON.stringify({ action: 'abort' }) }, 404);
    await call(r.rollout, `/promotions/${id}/rollout`, { method: 'POST', body: JSON.stringify({ action: 'pause' }) }, 400);
    const again = await call(r.requestPromotion, '/promotions', { method: 'POST', body: JSON.stringify({ app: 'web', to: 'prod' }) }, 202);
    await call(r.approve, `/promotions/${again.id}/approve`, { method: 'POST' }, 403); // the robot asked: not its own approver
    const signedIn = await hoist.app.request(`${ORIGIN}/auth/demo`, { method: 'POST', headers: { Origin: ORIGIN, 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'name=erin' });
    const erin = (signedIn.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const csrf = ((await (await hoist.app.request('/api/me', { headers: { Cookie: erin } })).json()) as { csrf: string }).csrf;
    await call(r.approve, `/promotions/${again.id}/approve`, { method: 'POST', headers: { Authorization: '', Cookie: erin, 'X-CSRF-Token': csrf } }, 200);
    await settled(hoist, again.id as string);
    await call(r.rollback, '/rollbacks', { method: 'POST', body: JSON.stringify({ app: 'web', env: 'prod' }) }, 202);
    await call(r.rollback, '/rollbacks', { method: 'POST', body: JSON.stringify({ app: 'web', env: 'prod', tag: 'never' }) }, 400);
    await call(r.me, '/me', {}, 200);
    await call(r.dora, '/dora?env=dev&app=web', {}, 200);
    await call(r.dora, `/dora?since=${new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10)}&until=${new Date(Date.now() + 86_400_000).toISOString()}`, {}, 200);
    await call(r.dora, '/dora?env=nope', {}, 400);
    await call(r.dora, '/dora?until=soon', {}, 400);
    await call(r.createToken, '/tokens', { method: 'POST', body: '{"name":"robot"}' }, 403);

    // A person's token routes, through the demo sign-in.
    const signed = await hoist.app.request(`${ORIGIN}/auth/demo`, { method: 'POST', headers: { Origin: ORIGIN, 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'name=dana' });
    const cookie = (signed.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const me = await call(r.me, '/me', { headers: { Authorization: '', Cookie: cookie } }, 200);
    const session = { Authorization: '', Cookie: cookie, 'X-CSRF-Token': me.csrf as string };
    const made = await call(r.createToken, '/tokens', { method: 'POST', headers: session, body: JSON.stringify({ name: 'laptop', expiresInDays: 7 }) }, 201);
    await call(r.listTokens, '/tokens', { headers: session }, 200);
    await call(r.revokeToken, `/tokens/${made.id}`, { method: 'DELETE', headers: session }, 204);
    await call(r.revokeToken, `/tokens/${made.id}`, { method: 'DELETE', headers: session }, 404);
    await call(r.listPromotions, '/promotions', { headers: { Authorization: 'Bearer hoist_pat_nope' } }, 401);
    expect(checked.length).toBeGreaterThan(20);
  });
});
