import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { git, type TempGitops } from './git-repos.js';
import { pipelineEvent, settled, webhookRequest, type TestHoist } from './hoist.js';

export interface BurstOutcome {
  /** app → the promotion its webhook was finally accepted as (202). */
  accepted: Map<string, string>;
  /** Deliveries answered 503 and sent again, as GitLab or a person would. */
  resent: number;
}

/**
 * One pipeline webhook per app (tag `p<id>`), a few at a time, each with an Idempotency-Key of its own that its resends
 * keep. After `failAfter` of them were accepted, `fail()` runs once (kill the master) while the rest are still being
 * sent: a 503 is resent after a moment, like a sender would, until it is accepted.
 */
export async function burstWithFailover(
  hoist: TestHoist,
  options: { apps: readonly string[]; firstId: number; failAfter: number; fail: () => Promise<void>; deadlineMs?: number },
): Promise<BurstOutcome> {
  const deadline = Date.now() + (options.deadlineMs ?? 120_000);
  const accepted = new Map<string, string>();
  let resent = 0;
  let lastError: string | undefined;
  let failed: Promise<void> | undefined;
  const queue = options.apps.map((app, i) => ({ app, id: options.firstId + i, key: randomUUID() }));
  const send = async (delivery: (typeof queue)[number]) => {
    const event = await pipelineEvent({ project: `group/${delivery.app}`, id: delivery.id, sha: randomUUID().replace(/-/g, '').padEnd(40, '0') });
    for (;;) {
      if (Date.now() > deadline) throw new Error(`the webhook of ${delivery.app} was never accepted (${resent} resends so far; last answer: ${lastError})`);
      const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(event, { 'Idempotency-Key': delivery.key }));
      const body = (await res.json()) as { promotions?: Array<{ id: string }>; code?: string; error?: string };
      if (res.status === 202) {
        accepted.set(delivery.app, body.promotions?.[0]?.id as string);
        if (accepted.size === options.failAfter) failed ??= options.fail();
        return;
      }
      // Anything but "Redis is unavailable, resend" is a bug, not a failover.
      expect({ status: res.status, code: body.code }, body.error).toEqual({ status: 503, code: 'unavailable' });
      lastError = body.error;
      resent++;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  };
  const senders = Array.from({ length: 3 }, async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      await send(next);
      // Once the master is being killed, wait until it is gone before sending on, so the rest meet the failover.
      if (failed) await failed;
    }
  });
  await Promise.all(senders);
  await failed;
  return { accepted, resent };
}

/** Every accepted promotion committed, every app's tag in the dev overlay, and each promotion in exactly one commit. */
export async function expectEveryTagLanded(hoist: TestHoist, gitops: TempGitops, outcome: BurstOutcome, firstId: number, apps: readonly string[]): Promise<void> {
  expect([...outcome.accepted.keys()].sort()).toEqual([...apps].sort());
  const finals = await Promise.all([...outcome.accepted.values()].map((id) => settled(hoist, id, 90_000)));
  expect(finals.map((f) => [f.app, f.state])).toEqual([...outcome.accepted.keys()].map((app) => [app, 'committed']));
  const overlay = await git(gitops.bare, 'show', 'main:overlays/dev/kustomization.yaml');
  for (const [i, app] of apps.entries()) expect(overlay).toContain(`name: registry.example.com/group/${app}\n    newTag: "p${firstId + i}"`);
  const landed = (await git(gitops.bare, 'log', '--format=%(trailers:key=Hoist-Promotion,valueonly)', 'main')).split('\n').filter(Boolean);
  for (const id of outcome.accepted.values()) expect(landed.filter((l) => l === id), `promotion ${id} in the history`).toHaveLength(1);
}
