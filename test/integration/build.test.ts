import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT, TEST_GIT_ENV } from '../helpers/git-repos.js';
import { freePort } from '../helpers/redis-server.js';

function run(command: string, args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...TEST_GIT_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

/**
 * `npm run build` in a copy of the checkout (so this test owns its dist/), with a leftover from an earlier build
 * and an asset of the kind the board ships.
 */
describe('npm run build', () => {
  let dir: string;
  let build: { code: number | null; output: string };
  const ASSET = 'body { color: rebeccapurple }\n';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hoist-build-'));
    for (const path of ['src', 'scripts', 'gitops-manifests', 'overlays', 'package.json', 'tsconfig.json']) await cp(join(PROJECT_ROOT, path), join(dir, path), { recursive: true });
    await symlink(join(PROJECT_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    await mkdir(join(dir, 'src/build-probe/assets'), { recursive: true });
    await writeFile(join(dir, 'src/build-probe/assets/board.css'), ASSET);
    // A view in hono/jsx, as the board's pages are written.
    await writeFile(join(dir, 'src/build-probe/view.tsx'), 'export const view = (name: string) => <p class="probe">{name}</p>;\n');
    await writeFile(join(dir, 'src/build-probe/view.test.tsx'), 'throw new Error("a test is not built");\n');
    await mkdir(join(dir, 'dist/renamed'), { recursive: true });
    await writeFile(join(dir, 'dist/renamed/old-module.js'), 'throw new Error("stale");\n');
    await writeFile(join(dir, 'dist/main.js'), 'throw new Error("stale");\n');
    build = await run('npm', ['run', 'build'], dir);
  }, 120_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('writes one module per source file where tsc would, and no tests', async () => {
    expect(build.code, build.output).toBe(0);
    expect(existsSync(join(dir, 'dist/main.js'))).toBe(true);
    expect(existsSync(join(dir, 'dist/main.js.map'))).toBe(true);
    expect(existsSync(join(dir, 'dist/config/schema.js'))).toBe(true);
    const files = (await readdir(join(dir, 'dist'), { recursive: true })).map(String);
    expect(files.filter((f) => f.endsWith('.test.js'))).toEqual([]);
    // JSX with the tsconfig's jsxImportSource (hono/jsx), importable as the service imports it.
    const { view } = (await import(pathToFileURL(join(dir, 'dist/build-probe/view.js')).href)) as { view: (name: string) => unknown };
    expect(String(view('<hoist>'))).toBe('<p class="probe">&lt;hoist&gt;</p>');
    // The imports stay as the sources write them, and resolve next to each other.
    expect(await readFile(join(dir, 'dist/main.js'), 'utf8')).toContain('from "./config/index.js"');
  });

  it('keeps the bin executable with its shebang', async () => {
    const bin = join(dir, 'dist/cli/hoist.js');
    expect((await readFile(bin, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect((await stat(bin)).mode & 0o777).toBe(0o755);
    const help = await run(bin, ['--help'], dir);
    expect(help.output).toMatch(/^Usage: hoist /);
    expect(help.code).toBe(0);
  });

  it('copies assets and removes what no source produces any more', async () => {
    expect(await readFile(join(dir, 'dist/build-probe/assets/board.css'), 'utf8')).toBe(ASSET);
    expect(existsSync(join(dir, 'dist/renamed'))).toBe(false);
    expect(await readFile(join(dir, 'dist/main.js'), 'utf8')).not.toContain('stale');
  });

  it('builds a service that starts and serves', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['dist/main.js'], {
      cwd: dir,
      env: { ...TEST_GIT_ENV, REDIS_URL: inject('redisUrl'), PORT: String(port), HOIST_DATA_DIR: join(dir, '.hoist') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        const collect = (d: Buffer) => {
          output += d.toString();
          if (output.includes('hoist is listening')) resolve();
        };
        child.stdout.on('data', collect);
        child.stderr.on('data', collect);
        void exited.then((code) => reject(new Error(`hoist exited with ${code}:\n${output}`)));
      });
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });
});
