import { execFileSync } from 'node:child_process';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRenderCache } from '../../src/gitops/render-cache.js';
import { classifyGitFailure } from '../../src/gitops/git.js';
import type { Workspace } from '../../src/gitops/workspace.js';
import { createPushWriter } from '../../src/gitops/writer.js';
import { createKustomizeRenderer } from '../../src/kustomize/index.js';
import { createTempGitops, git, type TempGitops } from '../helpers/git-repos.js';
import { imageEdit as edit } from '../helpers/image-edit.js';
import { testSigning, testWorkspace, type TestSigning } from '../helpers/signing.js';
import { recordFigures } from './figures.js';

// The working clone is a cache of the remote, never a source: whatever happens to it between jobs (a crash, a
// fault, a full disk), what Hoist pushes is the editor's output over the blob at the commit it builds on, signed,
// and the clone heals by itself. Each case below damages a real clone the way the fault would, then promotes.

const renderer = createKustomizeRenderer();
const logger = pino({ level: 'silent' });
const OVERLAY = 'overlays/dev/kustomization.yaml';

let gitops: TempGitops;
let signing: TestSigning;
let workspace: Workspace;
const healed: string[] = [];

beforeEach(async () => {
  gitops = await createTempGitops();
  signing = testSigning();
  workspace = testWorkspace(gitops, signing);
});
afterEach(() => gitops.cleanup());

const writer = () => createPushWriter({ workspace, renderer, renderCache: createRenderCache(workspace), logger, sleep: async () => undefined });
const remoteFile = (path = OVERLAY) => git(gitops.bare, 'show', `main:${path}`);

/** What the overlay must read after promoting to `tag` on top of what the remote holds now: one value changed. */
async function expectedAfter(tag: string): Promise<string> {
  return (await remoteFile()).replace(/newTag: .*/, `newTag: "${tag}"`);
}

async function pushAsSomeoneElse(file: string, text: string): Promise<void> {
  const other = await gitops.clone(`other-${Math.random().toString(36).slice(2)}`);
  await writeFile(join(other, file), text);
  await git(other, 'add', file);
  await git(other, 'commit', '-q', '-m', `someone else changed ${file}`);
  await git(other, 'push', '-q', 'origin', 'main');
}

async function looseObjects(dir: string): Promise<string[]> {
  const root = join(dir, '.git/objects');
  const out: string[] = [];
  for (const fan of await readdir(root)) {
    if (!/^[0-9a-f]{2}$/.test(fan)) continue;
    for (const name of await readdir(join(root, fan))) out.push(join(root, fan, name));
  }
  return out;
}

describe('every commit is signed with Hoist key, and git itself says so', () => {
  it('git verify-commit says Good for what Hoist pushed; fsck finds nothing wrong in the remote', async () => {
    expect(await writer().apply([edit({ promotionId: 'p-1', tag: 'v1' })])).toMatchObject([{ state: 'committed' }]);
    await writeFile(join(gitops.root, 'allowed_signers'), signing.allowedSigners);
    const verified = execFileSync('git', ['-c', `gpg.ssh.allowedSignersFile=${join(gitops.root, 'allowed_signers')}`, 'verify-commit', '-v', 'main'], {
      cwd: gitops.bare,
      env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' },
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    expect(verified).toContain('promote web to dev: v1');
    const status = (await git(gitops.bare, '-c', `gpg.ssh.allowedSignersFile=${join(gitops.root, 'allowed_signers')}`, 'log', '-1', '--format=%G? %GS', 'main')).trim();
    expect(status).toBe('G hoist@example.invalid');
    await git(gitops.bare, 'fsck', '--strict', '--no-dangling');
  });
});

describe('the bytes a commit carries come from the blob it builds on, never the working tree', () => {
  it('a kustomization cut short in the working clone between two jobs is not pushed', async () => {
    await writer().apply([edit({ promotionId: 'p-1', tag: 'v1' })]);
    const expected = await expectedAfter('v2');
    // A crash in the middle of writing the file: half of it is left.
    const file = join(workspace.dir, OVERLAY);
    await writeFile(file, (await readFile(file, 'utf8')).slice(0, 40));
    expect(await writer().apply([edit({ promotionId: 'p-2', tag: 'v2' })])).toMatchObject([{ state: 'committed' }]);
    expect(await remoteFile()).toBe(expected);
    healed.push('kustomization cut short in the working tree');
  });

  it('a base file damaged in the working clone does not fail the promotion: the tree is restored and rendered again', async () => {
    await writer().apply([edit({ promotionId: 'p-1', tag: 'v1' })]);
    // A fetch that finds the clone as Hoist left it (nobody pushed): the tree is not checked out again.
    await workspace.sync();
    await truncate(join(workspace.dir, 'gitops-manifests/base/deployment.yaml'), 0);
    // Another overlay, not rendered before: kustomize renders the damaged tree first.
    const staging = 'overlays/staging/kustomization.yaml';
    const expected = (await remoteFile(staging)).replace(/newTag: .*/, 'newTag: "v2"');
    expect(await writer().apply([edit({ promotionId: 'p-2', tag: 'v2', env: 'staging', path: 'overlays/staging' })])).toMatchObject([{ state: 'committed' }]);
    expect(await remoteFile(staging)).toBe(expected);
    expect(await readFile(join(workspace.dir, 'gitops-manifests/base/deployment.yaml'), 'utf8')).toBe(await remoteFile('gitops-manifests/base/deployment.yaml'));
    healed.push('base file emptied in the working tree');
  });
});

describe('a damaged clone heals by itself', () => {
  it('stale index.lock and HEAD.lock left between jobs are cleared, not a failure', async () => {
    await writer().apply([edit({ promotionId: 'p-1', tag: 'v1' })]);
    const plant = async () => {
      await writeFile(join(workspace.dir, '.git/index.lock'), '');
      await writeFile(join(workspace.dir, '.git/HEAD.lock'), '');
    };
    // Right after Hoist's own push (no fetch needed)…
    await plant();
    expect(await writer().apply([edit({ promotionId: 'p-2', tag: 'v2' })])).toMatchObject([{ state: 'committed' }]);
    // …and when the branch moved, so the clone must fetch and check out (which takes both locks).
    await plant();
    await pushAsSomeoneElse('README.md', 'moved\n');
    await workspace.sync();
    const expected = await expectedAfter('v3');
    expect(await writer().apply([edit({ promotionId: 'p-3', tag: 'v3' })])).toMatchObject([{ state: 'committed' }]);
    expect(await remoteFile()).toBe(expected);
    healed.push('stale index.lock and HEAD.lock');
  });

  it('emptied object files (a crash while git wrote them) make Hoist clone again, once, and promote', async () => {
    await writer().apply([edit({ promotionId: 'p-1', tag: 'v1' })]);
    for (const file of await looseObjects(workspace.dir)) await truncate(file, 0);
    const expected = await expectedAfter('v2');
    // A file of our own in .git: only a new clone is without it.
    await writeFile(join(workspace.dir, '.git/old-clone'), '');
    expect(await writer().apply([edit({ promotionId: 'p-2', tag: 'v2' })])).toMatchObject([{ state: 'committed' }]);
    expect(await remoteFile()).toBe(expected);
    await expect(stat(join(workspace.dir, '.git/old-clone'))).rejects.toMatchObject({ code: 'ENOENT' });
    await git(workspace.dir, 'fsck', '--no-dangling');
    healed.push('emptied loose object files');
  });

  it('a pack file cut short makes Hoist clone again and promote', async () => {
    await writer().apply([edit({ promotionId: 'p-1', tag: 'v1' })]);
    const packs = join(workspace.dir, '.git/objects/pack');
    for (const name of await readdir(packs)) if (name.endsWith('.pack')) await truncate(join(packs, name), 100);
    await pushAsSomeoneElse('README.md', 'moved\n');
    const expected = await expectedAfter('v2');
    expect(await writer().apply([edit({ promotionId: 'p-2', tag: 'v2' })])).toMatchObject([{ state: 'committed' }]);
    expect(await remoteFile()).toBe(expected);
    await git(workspace.dir, 'fsck', '--no-dangling');
    healed.push('pack file cut short');
  });

  it('a corrupt index is recovered', async () => {
    await writer().apply([edit({ promotionId: 'p-1', tag: 'v1' })]);
    await pushAsSomeoneElse('README.md', 'moved\n');
    await writeFile(join(workspace.dir, '.git/index'), 'DIRC garbage');
    const expected = await expectedAfter('v2');
    expect(await writer().apply([edit({ promotionId: 'p-2', tag: 'v2' })])).toMatchObject([{ state: 'committed' }]);
    expect(await remoteFile()).toBe(expected);
    healed.push('corrupt index');
  });

  it('a clone whose .git was removed under it is cloned again', async () => {
    await writer().apply([edit({ promotionId: 'p-1', tag: 'v1' })]);
    await rm(join(workspace.dir, '.git'), { recursive: true, force: true });
    expect(await writer().apply([edit({ promotionId: 'p-2', tag: 'v2' })])).toMatchObject([{ state: 'committed' }]);
    expect(await remoteFile()).toContain('newTag: "v2"');
    recordFigures('clone heals (damage between jobs, then a promotion)', { events: healed.length + 1, committed: healed.length + 1, failed: 0, lost: 0 });
  });
});

/** A real full disk needs a filesystem of its own: a small tmpfs, which only root can mount. */
const canMount = process.getuid?.() === 0;

describe.runIf(canMount)('a full disk under HOIST_DATA_DIR (a real 8 MiB tmpfs)', () => {
  let mountpoint: string;
  beforeEach(async () => {
    mountpoint = await mkdtemp(join(tmpdir(), 'hoist-fulldisk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountpoint]);
  });
  afterEach(async () => {
    execFileSync('umount', [mountpoint]);
    await rm(mountpoint, { recursive: true, force: true });
  });

  it('is a retryable failure that names the disk, and the promotion lands once there is room again', async () => {
    workspace = testWorkspace(gitops, signing, { dir: join(mountpoint, 'workspace') });
    expect(await writer().apply([edit({ promotionId: 'p-1', tag: 'v1' })])).toMatchObject([{ state: 'committed' }]);
    // Fill what is left, as a runaway log or another clone would.
    const filler = join(mountpoint, 'filler');
    await writeFile(filler, Buffer.alloc(0));
    for (;;) {
      try {
        await appendFile(filler, Buffer.alloc(256 * 1024));
      } catch {
        break;
      }
    }
    const error = await writer().apply([edit({ promotionId: 'p-2', tag: 'v2' })]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'git_transient', retryable: true, details: { gitFailure: 'disk_full' } });
    expect((error as Error).message).toMatch(/no space left in HOIST_DATA_DIR/);
    expect(await remoteFile()).toContain('newTag: "v1"');
    await rm(filler);
    const expected = await expectedAfter('v2');
    expect(await writer().apply([edit({ promotionId: 'p-2', tag: 'v2' })])).toMatchObject([{ state: 'committed' }]);
    expect(await remoteFile()).toBe(expected);
  });
});

describe('failures of the local clone are told apart from the remote refusing', () => {
  it.each([
    ["fatal: Unable to create '/data/workspaces/x/.git/index.lock': File exists.\n\nAnother git process seems to be running in this repository", 'locked'],
    ["error: cannot lock ref 'refs/remotes/origin/main': Unable to create '/d/.git/refs/remotes/origin/main.lock': File exists.", 'locked'],
    ['fatal: write error: No space left on device', 'disk_full'],
    ['error: object file .git/objects/3f/0a1b is empty\nfatal: loose object 3f0a1b (stored in .git/objects/3f/0a1b) is corrupt', 'corrupt'],
    ['fatal: index file corrupt', 'corrupt'],
    ['error: inflate: data stream error (incorrect header check)', 'corrupt'],
    ['fatal: not a git repository (or any of the parent directories): .git', 'corrupt'],
    ['! refs/heads/main:refs/heads/main [remote rejected] (pre-receive hook declined)', 'protected'],
    ["fatal: '/nonexistent/gitops.git' does not appear to be a git repository", 'unreachable'],
  ])('%s → %s', (message, kind) => {
    expect(classifyGitFailure(message)).toBe(kind);
  });
});
