import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { baseEnv } from './processes.js';

export const SCALE_ENVS = ['dev', 'staging', 'prod'] as const;

export interface ScaleRepo {
  bare: string;
  url: string;
  apps: string[];
  commits: number;
  generateMs: number;
  packBytes: number;
}

/** Deterministic PRNG (mulberry32), so every run builds the same history. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const deployment = (app: string) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${app}\nspec:\n  selector:\n    matchLabels: { app: ${app} }\n  template:\n    metadata:\n      labels: { app: ${app} }\n    spec:\n      containers:\n        - name: ${app}\n          image: registry.example.com/group/${app}\n`;

/**
 * A bare GitOps repo shaped like createSyntheticGitops (one base, overlays/<env> setting every app's tag),
 * with `appCount` apps and `commitCount` commits: a seed commit, then promotions that each change one
 * app's tag in one environment and carry Hoist's trailers, as Hoist itself would have written them.
 * Built with one `git fast-import` stream: no working tree, no per-commit process.
 */
export async function createScaleRepo(root: string, appCount: number, commitCount: number): Promise<ScaleRepo> {
  const started = performance.now();
  const bare = join(root, 'scale.git');
  await mkdir(bare, { recursive: true });
  await run('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  const apps = Array.from({ length: appCount }, (_, i) => `app-${String(i).padStart(4, '0')}`);
  const header = (env: string) => [`# ${env}`, 'resources:', '  - ../../base', 'images:'];
  // overlay lines per env; app i's newTag is at line header.length + 2i + 1
  const overlays = new Map<string, string[]>(
    SCALE_ENVS.map((env) => [env, [...header(env), ...apps.flatMap((a) => [`  - name: registry.example.com/group/${a}`, '    newTag: "0.0.0"']), '']]),
  );
  const headerLines = header('dev').length;

  const child = spawn('git', ['-c', 'core.compression=1', '--git-dir', bare, 'fast-import', '--quiet', '--done'], { env: baseEnv(), stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'close');
  const out = child.stdin;
  const write = async (chunk: string) => {
    if (!out.write(chunk)) await once(out, 'drain');
  };
  const data = async (text: string) => {
    await write(`data ${Buffer.byteLength(text)}\n`);
    await write(text);
    await write('\n');
  };
  const now = Math.floor(Date.now() / 1000);
  // Oldest first, one every 5 minutes, ending an hour ago.
  const when = (n: number) => now - 3600 - (commitCount - n) * 300;
  const who = (n: number) => `Hoist <hoist@example.invalid> ${when(n)} +0000`;

  await write(`commit refs/heads/main\nmark :1\ncommitter ${who(1)}\n`);
  await data(`seed: ${appCount} apps in base/, their tags in overlays/<env>\n`);
  for (const app of apps) {
    await write(`M 100644 inline base/${app}.yaml\n`);
    await data(deployment(app));
  }
  await write('M 100644 inline base/kustomization.yaml\n');
  await data(`resources:\n${apps.map((a) => `  - ${a}.yaml`).join('\n')}\n`);
  for (const [env, lines] of overlays) {
    await write(`M 100644 inline overlays/${env}/kustomization.yaml\n`);
    await data(lines.join('\n'));
  }
  await write('\n');

  const random = prng(42);
  for (let n = 2; n <= commitCount; n++) {
    const env = SCALE_ENVS[Math.floor(random() * SCALE_ENVS.length)] as string;
    const index = Math.floor(random() * appCount);
    const app = apps[index] as string;
    const pipelineId = n; // history's pipeline ids stay far below the bench's own
    const tag = `h${pipelineId}`;
    const lines = overlays.get(env) as string[];
    lines[headerLines + 2 * index + 1] = `    newTag: "${tag}"`;
    await write(`commit refs/heads/main\ncommitter ${who(n)}\n`);
    await data(
      `promote ${app} to ${env}: ${tag}\n\nHoist-App: ${app}\nHoist-Env: ${env}\nHoist-Tag: ${tag}\n` +
        `Hoist-Promotion: p-hist${String(n).padStart(18, '0')}\nHoist-Source: https://gitlab.example.com/group/${app}/-/pipelines/${pipelineId}\n`,
    );
    await write(`M 100644 inline overlays/${env}/kustomization.yaml\n`);
    await data(lines.join('\n'));
    await write('\n');
  }
  await write('done\n');
  out.end();
  const [code] = (await exited) as [number | null];
  if (code !== 0) throw new Error(`git fast-import failed (${code}): ${stderr}`);
  const packBytes = Number(
    /size-pack: (\d+)/.exec(await runOut('git', ['--git-dir', bare, 'count-objects', '-v']))?.[1] ?? 0,
  ) * 1024;
  return { bare, url: pathToFileURL(bare).href, apps, commits: commitCount, generateMs: performance.now() - started, packBytes };
}

async function run(command: string, args: readonly string[]): Promise<void> {
  await runOut(command, args);
}

function runOut(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${command} ${args.join(' ')} failed (${code}): ${stderr}`))));
  });
}
