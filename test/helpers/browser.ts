import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { PROJECT_ROOT } from './git-repos.js';

/** Debian's chromium (apt-get install chromium; scripts/ensure-test-system.sh): no browser download, ever. */
export const CHROMIUM = '/usr/bin/chromium';

/** Where browser tests leave their screenshots when a step fails (git-ignored). */
export const TEST_RESULTS = join(PROJECT_ROOT, 'test-results');

/**
 * Headless chromium as root: no sandbox, and none of its background traffic (this machine's network is closed;
 * without these flags chromium keeps trying Google's hosts).
 */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/ensure-test-system.sh (apt-get install chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A browser profile of its own (cookies and all: one person), that reaches loopback only. */
export async function newPerson(browser: Browser, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  // Anything else (the OIDC provider's web font, say) is refused at once rather than waited for.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
  context.setDefaultTimeout(15_000);
  return context;
}

/**
 * Runs one step of a browser scenario; when it fails, every open page is saved as a screenshot under
 * test-results/<scenario>/<step>-<n>.png before the error goes on.
 */
export function stepper(scenario: string, pages: () => readonly Page[]) {
  let n = 0;
  return async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    n++;
    try {
      return await run();
    } catch (error) {
      const dir = join(TEST_RESULTS, scenario);
      await mkdir(dir, { recursive: true });
      const slug = `${String(n).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`;
      for (const [i, page] of pages().entries()) {
        await page.screenshot({ path: join(dir, `${slug}-${i}.png`), fullPage: true }).catch(() => undefined);
      }
      throw error;
    }
  };
}
