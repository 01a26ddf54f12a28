import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closedPort, hoistFailure } from '../helpers/failures.js';
import { parse } from 'yaml';
import { createArgoCdClient } from '../../src/argocd/client.js';
import { judgeApplication } from '../../src/argocd/judge.js';
import { type ArgoCdStub, startArgoCdStub } from '../helpers/argocd-stub.js';

const REVISION = '6f2c1d0e9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d';

describe('the Argo CD fixture', () => {
  it('is Argo CD test data turned from YAML into JSON without any change', () => {
    const yaml = parse(readFileSync(new URL('../fixtures/argocd/application.yaml', import.meta.url), 'utf8')) as unknown;
    const json = JSON.parse(readFileSync(new URL('../fixtures/argocd/application.json', import.meta.url), 'utf8')) as unknown;
    expect(json).toEqual(yaml);
  });
});

describe('createArgoCdClient against the Argo CD stub', () => {
  let stub: ArgoCdStub;

  beforeEach(async () => {
    stub = await startArgoCdStub({ token: 'argocd-secret-token' });
    stub.setApplication('web-dev', { revision: REVISION });
  });
  afterEach(async () => {
    await stub.close();
  });

  it('reads an Application with GET /api/v1/applications/{name} and the bearer token', async () => {
    const client = createArgoCdClient({ url: stub.url, token: stub.token });
    const state = await client.getApplication('web-dev');
    expect(state).toEqual({ name: 'web-dev', revision: REVISION, sync: 'Synced', health: 'Healthy', phase: 'Succeeded', operationRevision: REVISION });
    expect(judgeApplication(state)).toBe('deployed');

    expect(stub.requests).toHaveLength(1);
    const [request] = stub.requests;
    expect(request?.method).toBe('GET');
    expect(request?.rawUrl).toBe('/api/v1/applications/web-dev');
    expect(request?.query).toEqual({});
    expect(request?.headers.authorization).toBe('Bearer argocd-secret-token');
    expect(request?.headers.accept).toBe('application/json');
  });

  it('asks for a normal refresh with ?refresh=normal', async () => {
    const refreshed: string[] = [];
    stub.onRefresh((name, mode) => {
      refreshed.push(`${name} ${mode}`);
      stub.setApplication(name, { revision: 'a'.repeat(40), sync: 'OutOfSync', phase: 'Running' });
    });
    const client = createArgoCdClient({ url: stub.url, token: stub.token });
    const state = await client.refresh('web-dev');
    expect(refreshed).toEqual(['web-dev normal']);
    expect(state).toMatchObject({ revision: 'a'.repeat(40), sync: 'OutOfSync', phase: 'Running' });
    expect(judgeApplication(state)).toBe('progressing');
    expect(stub.requests[0]?.rawUrl).toBe('/api/v1/applications/web-dev?refresh=normal');
    expect(stub.requests[0]?.query).toEqual({ refresh: 'normal' });
  });

  it('strips trailing slashes of the URL and URL-encodes the name', async () => {
    const name = 'team a/web?#%';
    stub.setApplication(name);
    const client = createArgoCdClient({ url: `${stub.url}//`, token: stub.token });
    expect((await client.getApplication(name)).name).toBe(name);
    expect(stub.requests[0]?.rawUrl).toBe('/api/v1/applications/team%20a%2Fweb%3F%23%25');
    expect(stub.requests[0]?.path).toBe(`/api/v1/applications/${name}`);
  });

  it('reads an Application no sync operation has touched: no phase, no operation revision', async () => {
    stub.setApplication('web-dev', { revision: REVISION, phase: null });
    const state = await createArgoCdClient({ url: stub.url, token: stub.token }).getApplication('web-dev');
    expect(state).toEqual({ name: 'web-dev', revision: REVISION, sync: 'Synced', health: 'Healthy' });
    expect(judgeApplication(state)).toBe('deployed');
  });

  it('reads a degraded or failed Application with Argo CD’s message', async () => {
    const client = createArgoCdClient({ url: stub.url, token: stub.token });
    stub.setApplication('web-dev', { revision: REVISION, health: 'Degraded', healthMessage: 'progress deadline exceeded' });
    expect(await client.getApplication('web-dev')).toMatchObject({ health: 'Degraded', healthMessage: 'progress deadline exceeded' });
    stub.setApplication('web-dev', { revision: REVISION, sync: 'OutOfSync', phase: 'Failed', operationMessage: 'one or more objects failed to apply' });
    const failed = await client.getApplication('web-dev');
    expect(failed).toMatchObject({ phase: 'Failed', healthMessage: 'one or more objects failed to apply' });
    expect(judgeApplication(failed)).toBe('failed');
  });

  it('maps 401 (a token Argo CD rejects) to unauthorized, not retryable, without the token', async () => {
    const error = await hoistFailure(createArgoCdClient({ url: stub.url, token: 'wrong-token' }).getApplication('web-dev'));
    expect(error.code).toBe('unauthorized');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('Argo CD rejected argocd.token');
    expect(error.message).toContain('invalid session');
    expect(error.message).not.toContain('wrong-token');
    expect(stub.requests[0]?.headers.authorization).toBe('Bearer wrong-token');
  });

  it('maps 403 (an Application that does not exist or may not be seen) to forbidden, not retryable', async () => {
    const client = createArgoCdClient({ url: stub.url, token: stub.token });
    // One call at a time: a second rejection made before it is awaited would go unhandled.
    for (const call of [() => client.getApplication('web-qa'), () => client.refresh('web-qa')]) {
      const error = await hoistFailure(call());
      expect(error.code).toBe('forbidden');
      expect(error.retryable).toBe(false);
      expect(error.message).toContain('"web-qa"');
      expect(error.message).toContain('does not exist');
      expect(error.message).toContain('applications, get');
    }
  });

  it('maps 404 to not_found, not retryable, naming the Application and argocd.applications', async () => {
    stub.failNext(404);
    const error = await hoistFailure(createArgoCdClient({ url: stub.url, token: stub.token }).getApplication('web-dev'));
    expect(error.code).toBe('not_found');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('"web-dev"');
    expect(error.message).toContain('argocd.applications');
  });

  it.each([500, 502, 503, 504, 429])('maps %i to unavailable, retryable', async (status) => {
    stub.failNext(status);
    const client = createArgoCdClient({ url: stub.url, token: stub.token });
    const error = await hoistFailure(client.refresh('web-dev'));
    expect(error.code).toBe('unavailable');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain(String(status));
    // Only the next request failed.
    expect((await client.refresh('web-dev')).name).toBe('web-dev');
  });

  it('maps a 200 without JSON (a proxy page) to unavailable, retryable', async () => {
    stub.failNext(200, 1, '<html><body>Argo CD is starting</body></html>');
    const error = await hoistFailure(createArgoCdClient({ url: stub.url, token: stub.token }).getApplication('web-dev'));
    expect(error.code).toBe('unavailable');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('without JSON');
  });

  it('gives up after timeoutMs with unavailable, retryable, naming the host and not the token', async () => {
    stub.hangNext();
    const client = createArgoCdClient({ url: stub.url, token: stub.token, timeoutMs: 300 });
    const started = Date.now();
    const error = await hoistFailure(client.getApplication('web-dev'));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.code).toBe('unavailable');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain(new URL(stub.url).host);
    expect(error.message).toContain('300 ms');
    expect(error.message).not.toContain(stub.token);
  });

  it('maps a refused connection to unavailable, retryable, naming the host', async () => {
    const port = await closedPort();
    const error = await hoistFailure(createArgoCdClient({ url: `http://127.0.0.1:${port}`, token: stub.token }).getApplication('web-dev'));
    expect(error.code).toBe('unavailable');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).not.toContain(stub.token);
  });
});
