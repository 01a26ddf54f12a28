import { execFileSync } from 'node:child_process';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startArgoCdStub, type ArgoCdStub } from '../helpers/argocd-stub.js';
import { launchBrowser, newPerson, stepper } from '../helpers/browser.js';
import { webCanary } from '../helpers/rollouts.js';
import { createTempGitops, TEST_GIT_ENV, type TempGitops } from '../helpers/git-repos.js';
import { API_TOKEN, pipelineEvent, startTestHoist, type TestHoist, waitFor, WEBHOOK_SECRET, webhookRequest } from '../helpers/hoist.js';
import { freePort } from '../helpers/redis-server.js';

const POLL = { timeout: 15_000, interval: 100 };

const devCell = (page: Page): Locator =>
  page
    .getByRole('table', { name: 'Environments' })
    .getByRole('row')
    .filter({ has: page.getByRole('rowheader', { name: 'web', exact: true }) })
    .getByRole('cell')
    .first();

describe('Rollout actions on the board, in a real browser', () => {
  let browser: Browser;
  let gitops: TempGitops;
  let argo: ArgoCdStub;
  let hoist: TestHoist | undefined;
  let server: Server | undefined;
  const pages: Page[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    for (const page of pages.splice(0)) await page.context().close();
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await hoist?.close();
    await argo?.close();
    await gitops?.cleanup();
    server = undefined;
    hoist = undefined;
  });

  const person = async (base: string, name: string): Promise<Page> => {
    const page = await (await newPerson(browser)).newPage();
    pages.push(page);
    await page.goto(`${base}/`);
    await page.getByLabel('Sign in as').fill(name);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/`);
    return page;
  };

  it('shows where the canary is and resumes it with the cell’s button; refuses a person rbac does not allow', { timeout: 90_000 }, async () => {
    gitops = await createTempGitops();
    argo = await startArgoCdStub();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    hoist = await startTestHoist(`gitops: { url: "${gitops.url}", branch: main }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN} }
auth: { demo: true, publicUrl: "${base}" }
argocd: { url: "${argo.url}", token: ${argo.token} }
rbac: { promote: { dev: [alice] } }
environments:
  - { name: dev, path: gitops-manifests/rollouts/overlays/dev, promotion: auto }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web, tag: "v$CI_PIPELINE_ID" }
`);
    server = serve({ fetch: hoist.app.fetch, port, hostname: '127.0.0.1' }) as Server;
    await new Promise((resolve) => (server!.listening ? resolve(undefined) : server!.once('listening', resolve)));

    const head = () => execFileSync('git', ['rev-parse', 'main'], { cwd: gitops.bare, env: TEST_GIT_ENV }).toString().trim();
    argo.onRefresh((name) => {
      argo.setApplication(name, { revision: head(), sync: 'Synced', health: 'Suspended', phase: 'Succeeded' });
      argo.setRollout('web-dev', webCanary('dev', 'v31'));
    });
    argo.onAction((_app, action, r) => {
      if (action !== 'resume') return;
      r.status.currentStepIndex = 3;
      r.status.pauseConditions = [{ reason: 'CanaryPauseStep', startTime: '2026-03-02T09:10:00Z' }];
    });
    expect((await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id: 31 })))).status).toBe(202);
    await waitFor(async () => {
      const status = (await (await hoist!.app.request('/api/status', { headers: { Authorization: `Bearer ${API_TOKEN}` } })).json()) as { cells: Array<{ rollout?: unknown }> };
      return status.cells.some((c) => c.rollout) ? true : undefined;
    }, 'the Rollout in the overview');

    const alice = await person(base, 'alice');
    const mallory = await person(base, 'mallory');
    const step = stepper('board-rollout', () => pages);

    await step('the cell says where the canary is and offers its actions', async () => {
      await expect.poll(() => devCell(alice).innerText(), POLL).toMatch(/v31[\s\S]*canary 2\/5 at 20 %, paused/);
      for (const name of ['Resume', 'Promote full', 'Abort']) expect(await devCell(alice).getByRole('button', { name, exact: true }).isVisible()).toBe(true);
    });

    await step('mallory is refused with the reason, and nothing reaches Argo CD', async () => {
      await devCell(mallory).getByRole('button', { name: 'Promote full', exact: true }).click();
      await expect.poll(() => mallory.getByRole('alert').innerText(), POLL).toMatch(/mallory is not allowed to promote to dev/);
      expect(argo.requests.filter((r) => r.method === 'POST')).toEqual([]);
    });

    await step('alice resumes it: the action reaches Argo CD and the cell moves on', async () => {
      await devCell(alice).getByRole('button', { name: 'Resume', exact: true }).click();
      await expect.poll(() => alice.getByRole('status').innerText(), POLL).toMatch(/Resumed web v31 → dev: canary 4\/5 at 50 %, paused\./);
      expect(argo.requests.filter((r) => r.method === 'POST').map((r) => [r.path, r.body])).toEqual([['/api/v1/applications/web-dev/resource/actions', '"resume"']]);
      await expect.poll(() => devCell(alice).innerText(), POLL).toMatch(/canary 4\/5 at 50 %, paused/);
    });
  });
});
