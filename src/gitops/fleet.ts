import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ImageEdit, Previewer, RepoReader, RepoWriter } from '../domain/ports.js';
import { targetKey, targetOf, type App, type Environment, type Target, type WriteMode } from '../domain/types.js';
import type { GitlabApi } from '../gitlab/api.js';
import type { Renderer } from '../kustomize/index.js';
import { createApiWriter } from './api-writer.js';
import { createFleetReader } from './fleet-reader.js';
import { splitCredentials, type GitSetup } from './git.js';
import { createMergeRequestWriter, createRoutingWriter } from './merge-request-writer.js';
import { createPreviewer } from './preview.js';
import { createRepoReader, type TargetReader } from './reader.js';
import { createRemoteProbe } from './remote-probe.js';
import { createRenderCache } from './render-cache.js';
import type { CommitVerifier } from './signed-history.js';
import type { SigningKey } from './ssh-signature.js';
import { createWorkspace, type Workspace } from './workspace.js';
import { createPushWriter } from './writer.js';
import type { PushedHeads } from '../store/pushed-heads.js';

export interface RepoConfig {
  name: string;
  /** As configured: credentials in it go to git's askpass, never to .git/config. */
  url: string;
  branch: string;
  project?: string | undefined;
}

export interface FleetDeps {
  repos: ReadonlyMap<string, RepoConfig>;
  environments: readonly Environment[];
  apps: readonly App[];
  dataDir: string;
  gitBaseEnv: Readonly<Record<string, string>>;
  author: { name: string; email: string };
  verifier: CommitVerifier;
  /** The key a repository's commits are signed with. */
  signerFor(repo: string): () => Promise<SigningKey>;
  renderer: () => Renderer;
  gitlab?: GitlabApi | undefined;
  now: () => Date;
  logger: Logger;
  onPushRetry?: () => void;
  /** What every process last pushed per target, so a worker knows when its clone fell behind another's push. */
  pushedHeads?: PushedHeads | undefined;
}

const pushedHeadOf = (heads: PushedHeads, id: string) => ({ read: () => heads.read(id), record: (commit: string) => heads.record(id, commit) });

/**
 * Every GitOps repository and branch Hoist writes to, each with its own clone, read mirror, preview clone and
 * writers, made on first use. A target is a repository and a branch: environment branches of one repository are
 * targets of their own, so their writes do not wait for each other.
 */
export function createFleet(deps: FleetDeps) {
  const repoOf = (target: Target): RepoConfig => {
    const repo = deps.repos.get(target.repo);
    if (!repo) throw new Error(`no GitOps repository named "${target.repo}"`);
    return repo;
  };
  /** Directory names and lock keys: stable across restarts and processes, whatever the URL's credentials. */
  const idOf = (target: Target) => createHash('sha256').update(`${splitCredentials(repoOf(target).url).url}\n${target.branch}`).digest('hex').slice(0, 16);
  const setupOf = (target: Target): GitSetup => ({ access: splitCredentials(repoOf(target).url), toolsDir: join(deps.dataDir, 'tools'), baseEnv: deps.gitBaseEnv, author: deps.author });
  const workspaceAt = (target: Target, room: 'workspaces' | 'previews'): Workspace =>
    createWorkspace({ ...setupOf(target), dir: join(deps.dataDir, room, idOf(target)), branch: target.branch, author: deps.author, signingKey: deps.signerFor(target.repo), verifier: deps.verifier, now: deps.now });

  const targets = [...new Map(deps.environments.flatMap((e) => deps.apps.map((a) => targetOf(e, a)).concat(e.target)).map((t) => [targetKey(t), t])).values()];
  const apiPathsOf = (target: Target) => deps.environments.filter((e) => e.write === 'api' && targetKey(e.target) === targetKey(target)).map((e) => e.path);

  const readers = new Map<string, TargetReader>();
  const readerOf = (target: Target): TargetReader => {
    const key = targetKey(target);
    let reader = readers.get(key);
    if (!reader) {
      reader = createRepoReader({ ...setupOf(target), dir: join(deps.dataDir, 'read', `${idOf(target)}.git`), branch: target.branch, verifier: deps.verifier, apiPaths: apiPathsOf(target) });
      readers.set(key, reader);
    }
    return reader;
  };

  const writers = new Map<string, RepoWriter>();
  const modeOf = (env: string): WriteMode => deps.environments.find((e) => e.name === env)?.write ?? 'push';
  const writerFor = (target: Target): RepoWriter => {
    const key = targetKey(target);
    let writer = writers.get(key);
    if (!writer) {
      const workspace = workspaceAt(target, 'workspaces');
      const renderer = deps.renderer();
      const project = repoOf(target).project;
      const gitlab = deps.gitlab;
      writer = createRoutingWriter(
        {
          push: createPushWriter({
            workspace,
            renderer,
            renderCache: createRenderCache(workspace),
            logger: deps.logger,
            onPushRetry: deps.onPushRetry,
            ...(deps.pushedHeads ? { pushedHead: pushedHeadOf(deps.pushedHeads, idOf(target)) } : {}),
          }),
          ...(gitlab && project
            ? {
                'merge-request': createMergeRequestWriter({ workspace, renderer, gitlab, project, branch: target.branch, logger: deps.logger, gitEnv: deps.gitBaseEnv }),
                api: createApiWriter({ gitlab, project, branch: target.branch, author: deps.author, logger: deps.logger }),
              }
            : {}),
        },
        modeOf,
      );
      writers.set(key, writer);
    }
    return writer;
  };

  const previewers = new Map<string, Previewer>();
  const previewerOf = (target: Target): Previewer => {
    const key = targetKey(target);
    let previewer = previewers.get(key);
    if (!previewer) {
      previewer = createPreviewer({ workspace: workspaceAt(target, 'previews'), renderer: deps.renderer(), gitEnv: deps.gitBaseEnv });
      previewers.set(key, previewer);
    }
    return previewer;
  };
  /** A preview of edits in several repositories: each previewed where it lives, the answers put together. */
  const previewer: Previewer = {
    async preview(edits: readonly ImageEdit[]) {
      const groups = new Map<string, ImageEdit[]>();
      for (const e of edits) groups.set(targetKey(e.target), [...(groups.get(targetKey(e.target)) ?? []), e]);
      const answers = await Promise.all([...groups.values()].map((g) => previewerOf((g[0] as ImageEdit).target).preview(g)));
      const refused = answers.find((a) => a.outcome === 'refused');
      const files = answers.flatMap((a, i) => (groups.size > 1 ? a.files.map((f) => `${[...groups.keys()][i]}:${f}`) : a.files));
      const diff = answers.map((a) => a.diff).filter(Boolean).join('\n');
      if (refused) return { ...refused, files, diff };
      return answers.some((a) => a.outcome === 'changes') ? { outcome: 'changes', files, diff } : { outcome: 'no-change', reason: answers.map((a) => a.reason).filter(Boolean).join('; ') || undefined, files, diff };
    },
  };

  const reader: RepoReader = createFleetReader({ environments: deps.environments, apps: deps.apps, readerOf });

  /** One readiness check per target: `gitops` alone with one repository, `gitops:<repo>@<branch>` with several. */
  const probes = () =>
    Object.fromEntries(
      targets.map((t) => [targets.length === 1 ? 'gitops' : `gitops:${targetKey(t)}`, createRemoteProbe({ ...setupOf(t), dir: deps.dataDir, branch: t.branch })]),
    );

  return { targets, reader, writerFor, previewer, probes };
}

export type Fleet = ReturnType<typeof createFleet>;
