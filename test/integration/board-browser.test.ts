import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, newPerson, stepper } from '../helpers/browser.js';
import { createSyntheticGitops, type TempGitops } from '../helpers/git-repos.js';
import { API_TOKEN, pipelineEvent, settled, startTestHoist, type TestHoist, WEBHOOK_SECRET, webhookRequest } from '../helpers/hoist.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { freePort } from '../helpers/redis-server.js';

const ENVS = ['dev', 'staging', 'prod'] as const;

/** The little of the page's globals the callbacks run in the browser touch (this project compiles without lib "dom"). */
interface PageSide {
  boardMarker?: string;
  document: {
    activeElement: { id: string; closest(selector: string): unknown } | null;
    documentElement: { scrollWidth: number };
    querySelector(selector: string): { scrollWidth: number; clientWidth: number } | null;
  };
}

function config(publicUrl: string, auth: string): string {
  return `gitops: { url: "GITOPS", branch: main }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN} }
queue: { gateInterval: 200ms }
auth: ${auth.replace('PUBLIC_URL', publicUrl)}
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - { name: staging, path: overlays/staging, from: dev, promotion: gated, gates: { soak: 10m } }
  - { name: prod, path: overlays/prod, from: staging, promotion: manual, approvals: { required: 2, approvers: ["*"] } }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web, tag: "v$CI_PIPELINE_ID" }
  # No container in the repo runs this image: its promotions fail, with the reason.
  - { name: ghost, project: group/ghost, image: registry.example.com/group/ghost, tag: "v$CI_PIPELINE_ID" }
`;
}

const grid = (page: Page) => page.getByRole('table', { name: 'Environments' });
const cell = (page: Page, app: string, env: (typeof ENVS)[number]): Locator =>
  grid(page)
    .getByRole('row')
    .filter({ has: page.getByRole('rowheader', { name: app, exact: true }) })
    .getByRole('cell')
    .nth(ENVS.indexOf(env));
const pending = (page: Page) => page.getByRole('region', { name: 'Pending' });
const recent = (page: Page) => page.getByRole('region', { name: 'Recent' });
const text = (locator: Locator) => locator.innerText();
const POLL = { timeout: 15_000, interval: 100 };

describe('the board in a real browser', () => {
  let browser: Browser;
  let gitops: TempGitops;
  let hoist: TestHoist | undefined;
  let server: Server | undefined;
  let provider: TestOidcProvider | undefined;
  let offsetMs = 0;
  /** Requests still being answered: the data dir is removed only once none is (a board read may be fetching into it). */
  let inflight = 0;
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
    for (let i = 0; inflight > 0 && i < 200; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    await hoist?.close();
    await provider?.close();
    await gitops?.cleanup();
    server = undefined;
    hoist = undefined;
    provider = undefined;
    offsetMs = 0;
  });

  /** A real Hoist on a real socket at http://127.0.0.1:<port>, its publicUrl. */
  async function start(auth: (publicUrl: string) => Promise<string> | string): Promise<string> {
    gitops = await createSyntheticGitops(['web']);
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    hoist = await startTestHoist(config(publicUrl, await auth(publicUrl)).replace('GITOPS', gitops.url), { now: () => new Date(Date.now() + offsetMs) });
    const app = hoist.app;
    const fetch = async (request: Request) => {
      inflight++;
      try {
        return await app.fetch(request);
      } finally {
        inflight--;
      }
    };
    server = serve({ fetch, port, hostname: '127.0.0.1' }) as Server;
    await new Promise((resolve) => (server!.listening ? resolve(undefined) : server!.once('listening', resolve)));
    return publicUrl;
  }

  async function pipeline(project: string, id: number, wait = true): Promise<void> {
    const res = await hoist!.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project, id })));
    expect(res.status).toBe(202);
    const [promotion] = ((await res.json()) as { promotions: Array<{ id: string }> }).promotions;
    if (wait) await settled(hoist!, promotion!.id);
  }

  /** A person in a browser profile of their own, signed in through the demo's "sign in as". */
  async function demoPerson(base: string, name: string): Promise<Page> {
    const page = await (await newPerson(browser)).newPage();
    pages.push(page);
    await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname).toBe('/signin');
    expect(await page.getByRole('note').innerText()).toMatch(/anyone can be anyone/);
    await page.getByLabel('Sign in as').fill(name);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/`);
    expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(true);
    await grid(page).waitFor();
    return page;
  }

  it('takes a version from dev to prod with two approvers, refuses a self-approval, rolls back, and shows a failure, live', { timeout: 180_000 }, async () => {
    const base = await start((url) => `{ demo: true, publicUrl: "${url}" }`);
    const step = stepper('board-chain', () => pages);
    const alice = await step('alice signs in and sees the grid', async () => {
      const page = await demoPerson(base, 'alice');
      expect(await grid(page).getByRole('columnheader').allInnerTexts()).toEqual(['App', expect.stringMatching(/^dev/), expect.stringMatching(/^staging/), expect.stringMatching(/^prod/)]);
      expect(await grid(page).getByRole('rowheader').allInnerTexts()).toEqual(['web', 'ghost']);
      expect(await text(cell(page, 'web', 'prod'))).toMatch(/^0\.0\.0/);
      return page;
    });
    // Nothing below reloads this page: a marker on its window would be gone after a reload.
    await alice.evaluate(() => Object.assign(globalThis, { boardMarker: 'same page' }));
    const samePage = async () => expect(await alice.evaluate(() => (globalThis as unknown as PageSide).boardMarker)).toBe('same page');

    await step('a pipeline lands in dev and the cell changes live', async () => {
      await pipeline('group/web', 7);
      await expect.poll(() => text(cell(alice, 'web', 'dev')), POLL).toMatch(/^v7\b/);
      expect(await text(cell(alice, 'web', 'staging'))).toMatch(/≠ dev/);
    });

    await step('Promote to the gated staging: the plan and the rendered diff, then Confirm', async () => {
      await cell(alice, 'web', 'staging').getByRole('button', { name: 'Promote' }).click();
      const dialog = alice.getByRole('dialog');
      await dialog.waitFor();
      expect(await dialog.getByRole('heading', { level: 2 }).innerText()).toBe('Promote web to staging');
      // Focus moved into the dialog.
      expect(await alice.evaluate(() => ((globalThis as unknown as PageSide).document.activeElement?.closest('dialog') ?? null) !== null)).toBe(true);
      const plan = await dialog.locator('dl').innerText();
      expect(plan).toMatch(/v7 \(what dev runs\)/);
      expect(plan).toMatch(/waits for its gates \(soak 10m 00s\)/);
      const diff = await dialog.getByLabel('Rendered diff').innerText();
      expect(diff).toMatch(/^-\s+- image: registry\.example\.com\/group\/web:0\.0\.0$/m);
      expect(diff).toMatch(/^\+\s+- image: registry\.example\.com\/group\/web:v7$/m);
      await dialog.getByRole('button', { name: 'Confirm' }).click();
      await expect.poll(() => text(alice.getByRole('status')), POLL).toMatch(/Promotion web v7 → staging: waiting for gates/);
    });

    await step('Pending shows the soak counting down; when it passes the cell changes without a reload', async () => {
      const card = pending(alice).getByRole('listitem').filter({ hasText: 'web v7 → staging' });
      await expect.poll(() => text(card), POLL).toMatch(/asked by alice/);
      await expect.poll(() => text(card), POLL).toMatch(/soak: ⏳ waiting — \d+m \d\ds left/);
      const first = await card.locator('time.countdown').innerText();
      await expect.poll(() => card.locator('time.countdown').innerText(), POLL).not.toBe(first);
      offsetMs = 11 * 60_000; // the soak is over
      await expect.poll(() => text(cell(alice, 'web', 'staging')), POLL).toMatch(/^v7\b/);
      await expect.poll(() => text(pending(alice)), POLL).toMatch(/Nothing is waiting/);
      await samePage();
    });

    await step('alice asks for prod; approving her own request is refused with the reason', async () => {
      await cell(alice, 'web', 'prod').getByRole('button', { name: 'Promote' }).click();
      const dialog = alice.getByRole('dialog');
      expect(await dialog.locator('dl').innerText()).toMatch(/needs 2 approvals \(from \*\), then is committed/);
      await dialog.getByRole('button', { name: 'Confirm' }).click();
      const card = pending(alice).getByRole('listitem').filter({ hasText: 'web v7 → prod' });
      await expect.poll(() => text(card), POLL).toMatch(/awaiting approval · asked by alice/);
      expect(await text(card)).toMatch(/Approvals: 0 of 2; 2 still needed from \*, not alice/);
      await card.getByRole('button', { name: 'Approve' }).click();
      await expect.poll(() => text(alice.getByRole('alert')), POLL).toBe('alice requested this promotion and cannot approve it (allowSelfApproval is false)');
      await samePage();
    });

    const bob = await step('bob approves in his own browser: 1 of 2, and alice sees it', async () => {
      const page = await demoPerson(base, 'bob');
      await pending(page).getByRole('listitem').filter({ hasText: 'web v7 → prod' }).getByRole('button', { name: 'Approve' }).click();
      await expect.poll(() => text(page.getByRole('status')), POLL).toMatch(/Approved web v7 → prod \(1 of 2\): awaiting approval/);
      await expect.poll(() => text(pending(alice)), POLL).toMatch(/Approvals: 1 of 2 \(bob\); 1 still needed/);
      return page;
    });

    await step('carol approves: the promotion lands and every board shows prod at v7', async () => {
      const carol = await demoPerson(base, 'carol');
      await pending(carol).getByRole('listitem').filter({ hasText: 'web v7 → prod' }).getByRole('button', { name: 'Approve' }).click();
      for (const page of [alice, bob, carol]) await expect.poll(() => text(cell(page, 'web', 'prod')), POLL).toMatch(/^v7\b.*\balice\b/s);
      await samePage();
    });

    await step('Rollback in dev lists the earlier tags from history; Confirm puts v7 back', async () => {
      await pipeline('group/web', 8);
      await expect.poll(() => text(cell(alice, 'web', 'dev')), POLL).toMatch(/^v8\b/);
      await cell(alice, 'web', 'dev').getByRole('button', { name: 'Rollback' }).click();
      const dialog = alice.getByRole('dialog');
      expect(await dialog.getByRole('heading', { level: 2 }).innerText()).toBe('Roll back web in dev');
      const choices = dialog.getByRole('radio');
      expect(await choices.count()).toBe(1);
      expect(await dialog.getByRole('radio', { name: /v7/ }).isChecked()).toBe(true);
      await dialog.getByRole('button', { name: 'Confirm' }).click();
      await expect.poll(() => text(cell(alice, 'web', 'dev')), POLL).toMatch(/^v7\b.*\balice\b/s);
      await expect.poll(() => text(recent(alice)), POLL).toMatch(/web v7 → dev committed · by alice/);
      await samePage();
    });

    await step("a failed promotion shows in Recent with its reason", async () => {
      await pipeline('group/ghost', 9);
      await expect.poll(() => text(recent(alice)), POLL).toMatch(/ghost v9 → dev failed: .*registry\.example\.com\/group\/ghost/);
      // Filtered by state (a GET form), only the failure is left.
      await recent(alice).getByLabel('State').selectOption('failed');
      await recent(alice).getByRole('button', { name: 'Filter' }).click();
      await alice.waitForURL(/state=failed/);
      const items = await recent(alice).getByRole('listitem').allInnerTexts();
      expect(items).toHaveLength(1);
      expect(items[0]).toMatch(/^.*ghost v9 → dev failed: /);
    });

    await step('Sign out ends the session', async () => {
      await alice.getByRole('button', { name: 'Sign out' }).click();
      await alice.waitForURL(/\/signin\?return=/);
      expect((await alice.request.get(`${base}/api/me`)).status()).toBe(401);
    });
  });

  it('signs in through a real OpenID provider, with the groups of the sign-in', async () => {
    const base = await start(async (publicUrl) => {
      provider = await startOidcProvider({ redirectUri: `${publicUrl}/auth/callback`, groups: { alice: ['release/managers'] } });
      return `{ oidc: { issuer: "${provider.issuer}", clientId: ${provider.clientId}, clientSecret: ${provider.clientSecret} }, sessionSecret: "${'s'.repeat(32)}", publicUrl: "${publicUrl}" }`;
    });
    const step = stepper('board-oidc', () => pages);
    const page = await (await newPerson(browser)).newPage();
    pages.push(page);
    await step("the board sends the visit to the provider's login form", async () => {
      await page.goto(`${base}/history?app=web`);
      expect(page.url().startsWith(`${provider!.issuer}/interaction/`)).toBe(true);
    });
    await step('after the login, the board names the person and knows their groups', async () => {
      await page.locator('input[name="login"]').fill('alice');
      await page.locator('input[name="password"]').fill('any password');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      await page.waitForURL(`${base}/history?app=web`);
      expect(await page.locator('form.who').innerText()).toMatch(/Signed in as alice/);
      const me = (await (await page.request.get(`${base}/api/me`)).json()) as { user: string; groups: string[]; via: string };
      expect(me).toMatchObject({ user: 'alice', groups: ['release/managers'], via: 'session' });
    });
  });

  it('works at 375 px wide and with the keyboard alone', async () => {
    const base = await start((url) => `{ demo: true, publicUrl: "${url}" }`);
    await pipeline('group/web', 7);
    const step = stepper('board-narrow-keyboard', () => pages);
    const page = await step('sign in on a phone-sized window', async () => {
      const narrow = await (await newPerson(browser, { viewport: { width: 375, height: 800 } })).newPage();
      pages.push(narrow);
      await narrow.goto(`${base}/signin`);
      await narrow.keyboard.press('Tab'); // the skip link
      await narrow.getByLabel('Sign in as').focus();
      await narrow.keyboard.type('dana');
      await narrow.keyboard.press('Enter');
      await narrow.waitForURL(`${base}/`);
      return narrow;
    });
    await step('nothing is wider than the screen: the grid scrolls inside its own box', async () => {
      expect(await page.evaluate(() => (globalThis as unknown as PageSide).document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
      expect(await page.evaluate(() => {
        const box = (globalThis as unknown as PageSide).document.querySelector('.scroll');
        return box !== null && box.scrollWidth > box.clientWidth;
      })).toBe(true);
    });
    await step('Promote opens its dialog from the keyboard, Escape closes it and focus comes back', async () => {
      const promote = cell(page, 'web', 'staging').getByRole('button', { name: 'Promote' });
      await promote.focus();
      await page.keyboard.press('Enter');
      await page.getByRole('dialog').waitFor();
      expect(await page.evaluate(() => (globalThis as unknown as PageSide).document.activeElement?.id)).toBe('dialog-title');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => ((globalThis as unknown as PageSide).document.activeElement?.closest('dialog') ?? null) !== null)).toBe(true);
      await page.keyboard.press('Escape');
      await page.getByRole('dialog').waitFor({ state: 'hidden' });
      await expect.poll(() => promote.evaluate((el) => el === (globalThis as unknown as PageSide).document.activeElement), POLL).toBe(true);
      // Confirm by keyboard too: open again, Tab to Confirm, Enter.
      await page.keyboard.press('Enter');
      await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => text(pending(page)), POLL).toMatch(/web v7 → staging/);
    });
  });
});
