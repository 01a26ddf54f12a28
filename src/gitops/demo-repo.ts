import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createGit, type GitSetup } from './git.js';

/**
 * Creates the demo's bare GitOps repository from this project's reference content (gitops-manifests/
 * and overlays/, side by side as in a real GitOps repo), once; later starts keep its history.
 */
export async function ensureDemoRepo(repoDir: string, projectRoot: string, setup: Omit<GitSetup, 'access'>): Promise<boolean> {
  if (existsSync(join(repoDir, 'HEAD'))) return false;
  const work = await mkdtemp(join(tmpdir(), 'hoist-demo-seed-'));
  try {
    for (const dir of ['gitops-manifests', 'overlays']) await cp(join(projectRoot, dir), join(work, dir), { recursive: true });
    await mkdir(repoDir, { recursive: true });
    const bare = await createGit(repoDir, { ...setup, access: { url: '' } });
    await bare.raw(['init', '--bare', '--quiet', '--initial-branch=main']);
    const git = await createGit(work, { ...setup, access: { url: '' }, author: setup.author ?? { name: 'Hoist demo', email: 'hoist@example.invalid' } });
    await git.raw(['init', '--quiet', '--initial-branch=main']);
    await git.raw(['add', '--all']);
    await git.raw(['-c', 'commit.gpgsign=false', 'commit', '--quiet', '-m', 'seed demo GitOps repository']);
    await git.raw(['push', '--quiet', pathToFileURL(repoDir).href, 'main']);
    return true;
  } catch (error) {
    await rm(repoDir, { recursive: true, force: true });
    throw error;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
