import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSyntheticGitops, git } from '../helpers/git-repos.js';
import { appsConfig, pipelineEvent, settled, startTestHoist, webhookRequest } from '../helpers/hoist.js';
import { recordFigures } from './figures.js';
import { startWorkerFleet } from './workers.js';

const sha = () => randomUUID().replace(/-/g, '').padEnd(40, '0');

describe('concurrency across worker processes', () => {
  it('200 webhooks for 20 apps within 2 s, 3 workers, someone else pushing too: newest tags, all accounted for, linear, coalesced, nothing of theirs lost', async () => {
    const apps = Array.from({ length: 20 }, (_, i) => `svc${i}`);
    const gitops = await createSyntheticGitops(apps);
    const withPrefix = (prefix: string) => `${appsConfig(gitops.url, apps)}queue: { prefix: ${prefix}, lockTimeout: 5s }\n`;
    const fleet = await startWorkerFleet(withPrefix, 3);
    const web = await startTestHoist(withPrefix(fleet.prefix), { role: 'web', prefix: fleet.prefix });
    // Someone else keeps pushing unrelated commits to the same branch while we promote.
    const other = await gitops.clone('other');
    let theirs = 0;
    let racing = true;
    const otherWriter = (async () => {
      while (racing && theirs < 40) {
        await writeFile(join(other, `notes-${theirs}.txt`), `note ${theirs}\n`);
        await git(other, 'add', '-A');
        await git(other, 'commit', '-qm', `their change ${theirs}`);
        // Their push can lose a race against ours too; like any CI job, they pull and retry.
        for (;;) {
          try {
            await git(other, 'push', '-q', 'origin', 'main');
            break;
          } catch {
            await git(other, 'pull', '-q', '--rebase', 'origin', 'main');
          }
        }
        theirs++;
      }
    })();
    try {
      const deliveries = apps.flatMap((app, a) => Array.from({ length: 10 }, (_, k) => ({ app, pipelineId: 10_000 + a * 100 + k })));
      deliveries.sort(() => Math.random() - 0.5);
      const ids: string[] = [];
      await Promise.all(
        deliveries.map(async (d, i) => {
          await new Promise((r) => setTimeout(r, (i * 1900) / deliveries.length)); // spread over ~2 s
          const res = await web.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: `group/${d.app}`, id: d.pipelineId, sha: sha() })));
          expect(res.status).toBe(202);
          ids.push(((await res.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id);
        }),
      );
      const finals = await Promise.all(ids.map((id) => settled(web, id, 60_000)));
      racing = false;
      await otherWriter;
      const committed = finals.filter((f) => f.state === 'committed');
      const skipped = finals.filter((f) => f.state === 'skipped');
      expect(committed.length + skipped.length).toBe(200);
      for (const s of skipped) expect(s.reason).toMatch(/older than pipeline|superseded|already runs/);

      const dev = await git(gitops.bare, 'show', 'main:overlays/dev/kustomization.yaml');
      apps.forEach((app, a) => expect(dev).toContain(`name: registry.example.com/group/${app}\n    newTag: "p${10_000 + a * 100 + 9}"`));
      expect((await git(gitops.bare, 'rev-list', '--merges', 'main')).trim()).toBe('');
      const ours = (await git(gitops.bare, 'log', '--format=%H', '--grep=^Hoist-Promotion: ', 'main')).trim().split('\n');
      expect(ours.length).toBeLessThan(60);
      const landed = (await git(gitops.bare, 'log', '--format=%(trailers:key=Hoist-Promotion,valueonly)', 'main')).split('\n').filter(Boolean);
      expect(landed.sort()).toEqual(committed.map((c) => c.id as string).sort());
      const subjects = await git(gitops.bare, 'log', '--format=%s', 'main');
      for (let i = 0; i < theirs; i++) {
        expect(subjects).toContain(`their change ${i}\n`);
        expect(await git(gitops.bare, 'show', `main:notes-${i}.txt`)).toBe(`note ${i}\n`);
      }
      recordFigures('concurrency (3 workers, 200 webhooks, 20 apps, concurrent foreign pushes)', { events: 200, deliveries: 200, committed: committed.length, skipped: skipped.length, failed: finals.filter((f) => f.state === 'failed').length, commits: ours.length, lost: 200 - finals.length, duplicated: landed.length - new Set(landed).size });
    } finally {
      racing = false;
      await otherWriter.catch(() => undefined);
      await web.close();
      await fleet.stop();
      await gitops.cleanup();
    }
    // Three worker processes and a web process share two cores with the rest of the suite: give them room.
  }, 120_000);
});
