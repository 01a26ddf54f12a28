import { once } from 'node:events';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempGitops, type TempGitops } from '../helpers/git-repos.js';
import { API_TOKEN, WEBHOOK_SECRET, startTestHoist, testConfigText, type TestHoist } from '../helpers/hoist.js';
import { answerOf, expectError } from '../helpers/answers.js';

// Every input is bounded: each route group refuses a body over its limit with 413 before buffering it (with or
// without Content-Length, and over a real socket while the client is still sending), and every string field of
// the API and the deploy reports has a maximum length and a shape, refused with 400 naming the field and the
// limit at request time rather than accepted and failed later.

const KIB = 1024;
const MIB = 1024 * KIB;
const DEPLOY_TOKEN = 'test-deployments-token';
const ARGOCD_TOKEN = 'test-argocd-webhook-token';


/** A body that arrives in 16 KiB chunks with no Content-Length, as a chunked upload does. */
function streamed(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(at, at + 16 * KIB));
      at += 16 * KIB;
    },
  });
}

/** Each route group, its limit, and headers that would get a body past authentication. */
const GROUPS: Array<[path: string, limit: number, headers: Record<string, string>]> = [
  ['/webhooks/gitlab', MIB, { 'Content-Type': 'application/json', 'X-Gitlab-Event': 'Pipeline Hook', 'X-Gitlab-Token': WEBHOOK_SECRET }],
  ['/webhooks/deployments', 256 * KIB, { 'Content-Type': 'application/json', Authorization: `Bearer ${DEPLOY_TOKEN}` }],
  ['/webhooks/argocd', 256 * KIB, { 'Content-Type': 'application/json', Authorization: `Bearer ${ARGOCD_TOKEN}` }],
  ['/api/promotions', 64 * KIB, { 'Content-Type': 'application/json', Authorization: `Bearer ${API_TOKEN}`, 'X-Hoist-User': 'alice' }],
  ['/api/rollbacks', 64 * KIB, { 'Content-Type': 'application/json', Authorization: `Bearer ${API_TOKEN}`, 'X-Hoist-User': 'alice' }],
  // No such route: the limit belongs to the group, so a route added under /api later inherits it.
  ['/api/a-route-added-later', 64 * KIB, { 'Content-Type': 'application/json', Authorization: `Bearer ${API_TOKEN}` }],
  ['/chatops/slack', 64 * KIB, { 'Content-Type': 'application/x-www-form-urlencoded' }],
  ['/chatops/mattermost', 64 * KIB, { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: 'Token test-mattermost-token' }],
];

describe('bounded input', () => {
  let gitops: TempGitops;
  let hoist: TestHoist;

  beforeAll(async () => {
    gitops = await createTempGitops();
    hoist = await startTestHoist(`${testConfigText(gitops.url)}deployments: { token: ${DEPLOY_TOKEN} }
argocd: { url: "http://127.0.0.1:9", token: unused, webhookToken: ${ARGOCD_TOKEN} }
chatops:
  slack: { signingSecret: test-slack-secret }
  mattermost: { token: test-mattermost-token }
`);
  });
  afterAll(async () => {
    await hoist?.close();
    await gitops?.cleanup();
  });

  const send = async (path: string, init: RequestInit) => answerOf(await hoist.app.request(path, { method: 'POST', ...init }));

  describe('a body limit on every route group', () => {
    it.each(GROUPS)('413 for %s over its limit (%i bytes) that declares its Content-Length, naming the limit', async (path, limit, headers) => {
      const body = 'x'.repeat(limit + 1);
      const answer = await send(path, { headers: { ...headers, 'Content-Length': String(limit + 1) }, body });
      expectError(answer, 413, 'payload_too_large', new RegExp(`is larger than ${limit} bytes \\(\\d+ [KM]iB\\)$`));
      expect(answer.body.details).toEqual({ limitBytes: limit });
    });

    it.each(GROUPS)('413 for %s over its limit (%i bytes) streamed without Content-Length', async (path, limit, headers) => {
      const answer = await send(path, { headers, body: streamed('x'.repeat(limit + 1)), duplex: 'half' } as RequestInit);
      expectError(answer, 413, 'payload_too_large', new RegExp(`is larger than ${limit} bytes`));
    });

    it.each(GROUPS)('takes a body of exactly the limit on %s: whatever it then says, it is not 413', async (path, limit, headers) => {
      const answer = await send(path, { headers, body: streamed('x'.repeat(limit)), duplex: 'half' } as RequestInit);
      expect(answer.status, JSON.stringify(answer.body)).not.toBe(413);
      expect(answer.status).toBeLessThan(500);
    });

    it('counts a refused GitLab delivery as rejected, as before', async () => {
      const metric = async () => /hoist_webhooks_total\{source="gitlab",outcome="rejected"\} (\d+)/.exec(await (await hoist.app.request('/metrics')).text())?.[1] ?? '0';
      const before = Number(await metric());
      await send('/webhooks/gitlab', { headers: GROUPS[0]![2], body: streamed('x'.repeat(MIB + 1)), duplex: 'half' } as RequestInit);
      expect(Number(await metric())).toBe(before + 1);
    });
  });

  describe('over a real socket', () => {
    const TOTAL = 32 * MIB;
    type Sent = { status: number | undefined; text: string; endedWhenAnswered: boolean; sentWhenAnswered: number };

    /** Sends up to TOTAL bytes in 16 KiB writes and stops the moment an answer arrives. */
    async function sendLarge(port: number, path: string, headers: Record<string, string>): Promise<Sent> {
      const chunk = Buffer.alloc(16 * KIB, 'x');
      return new Promise<Sent>((resolve, reject) => {
        let sent = 0;
        let ended = false;
        let answered = false;
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path, headers });
        req.on('response', (res) => {
          answered = true;
          const endedWhenAnswered = ended;
          const sentWhenAnswered = sent;
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => {
            req.destroy();
            resolve({ status: res.statusCode, text, endedWhenAnswered, sentWhenAnswered });
          });
        });
        // Once it has answered, the server may cut the connection under the rest of the upload.
        req.on('error', (error) => {
          if (!answered) reject(error);
        });
        const pump = () => {
          while (!answered && sent < TOTAL) {
            sent += chunk.length;
            if (!req.write(chunk)) {
              req.once('drain', pump);
              return;
            }
          }
          if (!answered && !ended) {
            ended = true;
            req.end();
          }
        };
        pump();
      });
    }

    it.each([
      ['a chunked body', {}],
      ['a body that declares its Content-Length', { 'Content-Length': String(TOTAL) }],
    ])('answers 413 to %s while the client is still sending it', async (_label, extra) => {
      const server = serve({ fetch: hoist.app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
      if (!server.listening) await once(server, 'listening');
      try {
        const port = (server.address() as AddressInfo).port;
        const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${API_TOKEN}`, 'X-Hoist-User': 'alice', ...extra };
        const result = await sendLarge(port, '/api/promotions', headers);
        expect(result.status).toBe(413);
        expect(JSON.parse(result.text)).toMatchObject({ code: 'payload_too_large', error: 'API request body is larger than 65536 bytes (64 KiB)' });
        // The server did not wait for the body: the client had not finished, and had sent a fraction of it.
        expect(result.endedWhenAnswered).toBe(false);
        expect(result.sentWhenAnswered).toBeLessThan(TOTAL);
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  });

  describe('API fields: tags and lengths checked at request time', () => {
    const api = async (path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> =>
      hoist.app.request(path, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { Authorization: `Bearer ${API_TOKEN}`, 'Content-Type': 'application/json', 'X-Hoist-User': 'alice', ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const pendingIn = async (env: string) => ((await (await api(`/api/promotions?env=${env}`)).json()) as { promotions: unknown[] }).promotions;

    const badTags: Array<[string, string]> = [
      ['a space', 'v1 x'],
      ['a path', '../x'],
      ['a registry reference', 'evil.example/x:latest'],
      ['a leading dash', '-rc1'],
      ['a leading dot', '.hidden'],
      ['a newline', 'v1\n'],
      ['a look-alike letter', 'v1.2.3-\u0430lpha'],
      ['an empty tag', ''],
    ];

    it.each(badTags)('400 for a tag with %s on POST /api/promotions, naming the field, and nothing is queued', async (_label, tag) => {
      const before = await pendingIn('staging');
      const answer = await answerOf(await api('/api/promotions', { app: 'web', env: 'staging', tag }));
      expectError(answer, 400, 'bad_request', 'tag: must be an OCI image tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})');
      expect(await pendingIn('staging')).toEqual(before);
    });

    it.each(badTags)('400 for a tag with %s on POST /api/rollbacks, naming the field', async (_label, tag) => {
      const answer = await answerOf(await api('/api/rollbacks', { app: 'web', env: 'dev', tag }));
      expectError(answer, 400, 'bad_request', 'tag: must be an OCI image tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})');
    });

    const long = (n: number, c = 'a') => c.repeat(n);
    const cases: Array<[string, () => Promise<Response>, string]> = [
      ['app on POST /api/promotions', () => api('/api/promotions', { app: long(64), env: 'staging' }), 'app: at most 63 characters'],
      ['app of 10 000 characters', () => api('/api/promotions', { app: long(10_000), env: 'staging' }), 'app: at most 63 characters'],
      ['app in a release train', () => api('/api/promotions', { apps: ['web', long(64)], env: 'staging' }), 'apps.1: at most 63 characters'],
      ['env on POST /api/promotions', () => api('/api/promotions', { app: 'web', env: long(64, 'e') }), 'env: at most 63 characters'],
      ['to on POST /api/promotions', () => api('/api/promotions', { app: 'web', to: long(64, 'e') }), 'to: at most 63 characters'],
      ['tag on POST /api/promotions', () => api('/api/promotions', { app: 'web', env: 'staging', tag: long(129, 't') }), 'tag: at most 128 characters'],
      ['app on POST /api/rollbacks', () => api('/api/rollbacks', { app: long(64), env: 'dev' }), 'app: at most 63 characters'],
      ['env on POST /api/rollbacks', () => api('/api/rollbacks', { app: 'web', env: long(64, 'e') }), 'env: at most 63 characters'],
      ['tag on POST /api/rollbacks', () => api('/api/rollbacks', { app: 'web', env: 'dev', tag: long(129, 't') }), 'tag: at most 128 characters'],
      ['env of GET /api/promotions', () => api(`/api/promotions?env=${long(64, 'e')}`), 'env: at most 63 characters'],
      ['app of GET /api/history', () => api(`/api/history?app=${long(64)}`), 'app: at most 63 characters'],
      ['env of GET /api/history', () => api(`/api/history?app=web&env=${long(64, 'e')}`), 'env: at most 63 characters'],
      ['the id of GET /api/promotions/:id', () => api(`/api/promotions/p-${long(99, '0')}`), 'id: at most 100 characters'],
      ['the id of approve', () => api(`/api/promotions/p-${long(99, '0')}/approve`, {}), 'id: at most 100 characters'],
      ['the id of cancel', () => api(`/api/promotions/p-${long(99, '0')}/cancel`, {}), 'id: at most 100 characters'],
      ['X-Hoist-User', () => api('/api/promotions', { app: 'web', env: 'staging' }, { 'X-Hoist-User': long(101, 'u') }), 'X-Hoist-User: at most 100 characters'],
    ];

    it.each(cases)('400 for an over-long %s, naming the field and the limit', async (_label, send, message) => {
      expect(await answerOf(await send())).toEqual({ status: 400, body: { code: 'bad_request', error: message } });
    });

    it.each([
      ['an upper-case app', { app: 'Web', env: 'staging' }, 'app: must be an app name ([a-z0-9][a-z0-9-]*)'],
      ['an environment with a dot', { app: 'web', env: 'prod.eu' }, 'env: must be an environment name ([a-z0-9][a-z0-9-]*)'],
      ['an empty app', { app: '', env: 'staging' }, 'app: must not be empty'],
    ])('400 for %s, in the words of the config rule', async (_label, body, message) => {
      expect(await answerOf(await api('/api/promotions', body))).toEqual({ status: 400, body: { code: 'bad_request', error: message } });
    });

    it('lets a promotion id of 100 characters through to the look-up (404: no such promotion)', async () => {
      expectError(await answerOf(await api(`/api/promotions/p-${long(98, '0')}`)), 404, 'not_found', /^no promotion with id "/);
    });

    it('takes the environment as "env", the API\'s word, or as "to", and exactly one of them', async () => {
      // Every overlay of the seed repo runs 0.1.0, so the service's answer is that staging already runs it:
      // proof that the field reached it as the environment, under either name.
      const byEnv = await answerOf(await api('/api/promotions', { app: 'web', env: 'staging' }));
      expect(byEnv).toEqual({ status: 409, body: { code: 'conflict', error: 'staging already runs web:0.1.0' } });
      expect(await answerOf(await api('/api/promotions', { app: 'web', to: 'staging' }))).toEqual(byEnv);
      expect(await answerOf(await api('/api/promotions', { app: 'web', env: 'staging', to: 'staging' }))).toEqual({
        status: 400,
        body: { code: 'bad_request', error: 'env: give "env" or "to" (the same field), not both' },
      });
      expect(await answerOf(await api('/api/promotions', { app: 'web' }))).toEqual({ status: 400, body: { code: 'bad_request', error: 'env: required: the environment to promote to' } });
    });
  });

  describe('deployment report fields', () => {
    const report = (fields: Record<string, unknown>) =>
      hoist.app.request('/webhooks/deployments', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${DEPLOY_TOKEN}` },
        body: JSON.stringify({ environment: 'dev', app: 'web', tag: 'v1', status: 'deployed', ...fields }),
      });

    it.each([
      ['environment', { environment: 'e'.repeat(64) }, 'environment: at most 63 characters'],
      ['app', { app: 'a'.repeat(64) }, 'app: at most 63 characters'],
      ['tag', { tag: 't'.repeat(129) }, 'tag: at most 128 characters'],
      ['a tag that is not an OCI tag', { tag: 'v1 x' }, 'tag: must be an OCI image tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})'],
    ])('400 for an over-long or malformed %s, naming the field and the limit', async (_label, fields, message) => {
      expect(await answerOf(await report(fields))).toEqual({ status: 400, body: { code: 'bad_request', error: message } });
    });

    it('still records a well-formed report', async () => {
      expect((await report({})).status).toBe(202);
    });
  });
});
