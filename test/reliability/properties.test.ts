import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSeq, parse, parseDocument } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import { HoistError } from '../../src/errors.js';
import type { PipelineBuild } from '../../src/gitlab/events.js';
import { renderTag, templateVariables } from '../../src/gitlab/tag-template.js';
import { isValidImageName } from '../../src/kustomize/image-ref.js';
import { readImages, setImage } from '../../src/kustomize/index.js';
import { createTempGitops, PROJECT_ROOT, type TempGitops } from '../helpers/git-repos.js';
import { pipelineEvent, startTestHoist, testConfigText, webhookRequest, type TestHoist } from '../helpers/hoist.js';

// Reliability properties: whatever the input, the answer is one of the documented ones. Modest run counts keep the
// file at a few seconds; a counterexample is printed with its seed, so a failure can be replayed with fc's `seed`.

const OCI_TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** What a failing call threw, or undefined when it returned. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error;
  }
}

function expectHoistError(error: unknown, codes: readonly string[]): void {
  expect(error).toBeInstanceOf(HoistError);
  expect(codes).toContain((error as HoistError).code);
}

/** Characters that mean something to YAML, shells, templates or humans reading a tag. */
const HOSTILE_PIECES = [
  '\n', '\r\n', '"', "'", '#', ': ', '&', '&anchor', '*', '*alias', '!', '!!binary', '{', '}', '{}', '[', ']', ',', '|', '>',
  '%', '@', '`', '\\', ' ', '\t', '\u0000', '\u0430', '\uff56', '\u200b', '\u202e', '\ud83d\ude80', '\ud800', '../', '/', ':', '~',
  '-', '.', '_', 'null', 'yes', 'on', '1e345678', '01234567',
];
const hostileString = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.array(fc.oneof(fc.constantFrom(...HOSTILE_PIECES), fc.string({ unit: fc.constantFrom(...ALNUM), minLength: 1, maxLength: 8 })), { maxLength: 8 }).map((parts) => parts.join('')),
  fc.constant('x'.repeat(128)),
  fc.constant('x'.repeat(129)),
);

describe('tag templates', () => {
  const VARIABLE_NAMES = ['CI_COMMIT_SHA', 'CI_COMMIT_SHORT_SHA', 'CI_COMMIT_REF_NAME', 'CI_COMMIT_REF_SLUG', 'CI_PIPELINE_ID', 'EVIL', 'V', 'A1', '_'];
  const variableName = fc.oneof(fc.constantFrom(...VARIABLE_NAMES), fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,6}$/));
  const variables = fc.dictionary(variableName, hostileString, { maxKeys: 6 });
  const templatePiece = fc.oneof(
    variableName.map((n) => `$${n}`),
    variableName.map((n) => `\${${n}}`),
    fc.constantFrom('$', '$$', '${', '}', '${}', '$1', '${A', '$$EVIL', '$${EVIL}', 'v', '-', '.'),
    hostileString,
  );
  const template = fc.array(templatePiece, { maxLength: 6 }).map((parts) => parts.join(''));

  it('gives a valid OCI tag or a template_invalid HoistError, for any template and variable values', () => {
    fc.assert(
      fc.property(template, variables, (tpl, vars) => {
        let tag: string;
        try {
          tag = renderTag(tpl, vars);
        } catch (error) {
          expectHoistError(error, ['template_invalid']);
          expect((error as HoistError).retryable).toBe(false);
          return;
        }
        expect(typeof tag).toBe('string');
        expect(tag).toMatch(OCI_TAG);
      }),
      { numRuns: 500 },
    );
  });

  const build = fc.record({
    project: hostileString,
    pipelineId: fc.integer({ min: 1 }),
    pipelineIid: fc.option(fc.nat(), { nil: undefined }),
    ref: hostileString,
    isTag: fc.boolean(),
    sha: fc.oneof(fc.stringMatching(/^[0-9a-f]{7,64}$/), hostileString),
    status: fc.constant('success'),
    isMergeRequest: fc.boolean(),
    defaultBranch: fc.option(hostileString, { nil: undefined }),
    url: fc.constant(''),
    variables: fc.dictionary(variableName, hostileString, { maxKeys: 4 }),
  }) satisfies fc.Arbitrary<PipelineBuild>;

  it('expands the pipeline’s own variables to a valid tag or refuses them, never anything in between', () => {
    fc.assert(
      fc.property(template, build, (tpl, b) => {
        const vars = templateVariables(b);
        for (const value of Object.values(vars)) expect(typeof value).toBe('string');
        const error = thrown(() => renderTag(tpl, vars));
        if (error !== undefined) expectHoistError(error, ['template_invalid']);
        else expect(renderTag(tpl, vars)).toMatch(OCI_TAG);
      }),
      { numRuns: 300 },
    );
  });

  it('expands ${VAR} to exactly the value when that value is a valid tag, and refuses it otherwise', () => {
    fc.assert(
      fc.property(variableName, fc.oneof(hostileString, fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/)), (name, value) => {
        const error = thrown(() => renderTag(`\${${name}}`, { [name]: value }));
        if (OCI_TAG.test(value)) {
          expect(error).toBeUndefined();
          expect(renderTag(`\${${name}}`, { [name]: value })).toBe(value);
        } else {
          expectHoistError(error, ['template_invalid']);
          // The reason names what the template produced, so the user sees which value was refused.
          expect((error as HoistError).message).toContain(JSON.stringify(value));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('expands an unset variable to nothing, as a job script would', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/), fc.stringMatching(/^[a-z0-9][a-z0-9.]{0,8}$/), (name, prefix) => {
        expect(renderTag(`${prefix}\${${name}}`, {})).toBe(prefix);
      }),
      { numRuns: 200 },
    );
  });

  // Found by this suite: a plain lookup made names inherited from Object.prototype count as set.
  it('expands unset variables named like Object.prototype members to nothing', () => {
    for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__']) {
      expect(renderTag(`v1\${${name}}`, {})).toBe('v1');
    }
  });
});

describe('kustomization editor', () => {
  const fixtureDir = join(PROJECT_ROOT, 'test/fixtures/kustomize');
  const base = [
    ...readdirSync(fixtureDir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => ({ file: f, text: readFileSync(join(fixtureDir, f), 'utf8') })),
    { file: 'overlays/dev/kustomization.yaml', text: readFileSync(join(PROJECT_ROOT, 'overlays/dev/kustomization.yaml'), 'utf8') },
  ];
  const FIXTURES = [
    ...base,
    ...base
      .filter((f) => ['comments-everywhere.yaml', 'overlays/dev/kustomization.yaml', 'yaml11-hazards.yaml'].includes(f.file))
      .map((f) => ({ file: `${f.file} (CRLF)`, text: f.text.replace(/\r?\n/g, '\r\n') })),
  ];
  const NEW_NAME = 'hoist.example:5000/team/new-image';

  const YAML11_HAZARDS = [
    '1e345678', '01234567', '12345678', '0x1F', '0o17', '0b101', '1_000', '1e3', '1.10', '3.6', '0', '00', '_', 'yes', 'no', 'Yes', 'NO', 'on',
    'off', 'On', 'y', 'n', 'Y', 'true', 'False', 'null', 'NULL', 'Null', 'nan', 'inf', 'E1', '1E1',
    // Not valid tags: each must be refused, not written.
    '~', '.inf', '-.inf', '.nan', '-1', '+1', '1:20', '190:20:30', '2001-12-14t21:59:43.10-05:00', '1,000', '', ' ', 'v1 ', '"v1"', "'v1'",
  ];
  const ociTag = fc
    .tuple(fc.constantFrom(...`${ALNUM}_`), fc.string({ unit: fc.constantFrom(...`${ALNUM}._-`), maxLength: 127 }))
    .map(([first, rest]) => first + rest);
  const tag = fc.oneof(
    { weight: 3, arbitrary: ociTag },
    { weight: 2, arbitrary: fc.constantFrom(...YAML11_HAZARDS) },
    { weight: 1, arbitrary: fc.oneof(fc.integer().map(String), fc.double().map(String)) },
    { weight: 2, arbitrary: hostileString },
    // Tags the fixtures already hold, so the "nothing to write" path is exercised too.
    { weight: 1, arbitrary: fc.constantFrom('v1.4.2', '1.25.3', '0.1.0', 'v7.4.0', '5.0.0', '7.2', '11', '3.6', '1.10', '2.3.0') },
  );

  const imagesOf = new Map(FIXTURES.map((f) => [f.text, readImages(f.text)]));

  interface Target {
    fixture: (typeof FIXTURES)[number];
    name: string;
  }
  const target: fc.Arbitrary<Target> = fc.constantFrom(...FIXTURES).chain((fixture) => {
    const names = (imagesOf.get(fixture.text) ?? []).map((e) => e.name);
    return fc
      .oneof(
        { weight: 4, arbitrary: names.length > 0 ? fc.constantFrom(...names) : fc.constant(NEW_NAME) },
        { weight: 1, arbitrary: fc.constant(NEW_NAME) },
        { weight: 1, arbitrary: fc.oneof(hostileString, fc.stringMatching(/^[a-z0-9][a-z0-9./-]{0,20}$/)) },
      )
      .map((name) => ({ fixture, name }));
  });

  function lineOf(text: string, offset: number): number {
    let line = 0;
    for (let i = 0; i < offset; i++) if (text[i] === '\n') line++;
    return line;
  }

  /** Line numbers [first, last] of `images[index]`, or of the whole `images` pair when index is past the end. */
  function editSpan(text: string, index: number): [number, number] | undefined {
    const doc = parseDocument(text);
    const images = doc.get('images', true) as YamlNode | undefined;
    if (images === undefined) return undefined;
    if (isSeq(images) && index < images.items.length) {
      const range = (images.items[index] as YamlNode).range;
      if (!range) return undefined;
      return [lineOf(text, range[0]), lineOf(text, Math.max(range[0], range[2] - 1))];
    }
    const root = doc.contents as unknown as { items: Array<{ key: YamlNode; value: YamlNode | null }> };
    const pair = root.items.find((p) => (p.key as { value?: unknown }).value === 'images');
    const start = pair?.key.range?.[0] ?? 0;
    const end = pair?.value?.range?.[2] ?? pair?.key.range?.[1] ?? start;
    return [lineOf(text, start), lineOf(text, Math.max(start, end - 1))];
  }

  /** The differing region of two texts after their common leading and trailing lines. */
  function lineDiff(before: string, after: string) {
    const a = before.split('\n');
    const b = after.split('\n');
    let head = 0;
    while (head < a.length && head < b.length && a[head] === b[head]) head++;
    let tail = 0;
    while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
    return { head, removed: a.slice(head, a.length - tail), added: b.slice(head, b.length - tail) };
  }

  function checkEdit({ fixture, name }: Target, newTag: string, edit: typeof setImage = setImage): void {
    const original = fixture.text;
    const entries = imagesOf.get(original) ?? readImages(original);
    const matching = entries.flatMap((e, i) => (e.name === name ? [i] : []));
    let result: ReturnType<typeof setImage> | undefined;
    const error = thrown(() => (result = edit(original, { name, tag: newTag })));

    if (!isValidImageName(name) || !OCI_TAG.test(newTag)) {
      expectHoistError(error, ['bad_request']);
      return;
    }
    if (matching.length > 1) {
      expectHoistError(error, ['kustomization_invalid']);
      expect((error as HoistError).message).toMatch(/several entries/);
      return;
    }
    // A valid name and tag on a well-formed sample with at most one matching entry must be written.
    expect(error).toBeUndefined();
    if (result === undefined) throw new Error('unreachable: no result and no error');
    const index = matching[0] ?? entries.length;

    // Semantics: the document is the original except that exactly this entry has newTag = tag and no digest.
    const before = parse(original) as Record<string, unknown>;
    const expected = structuredClone(before);
    const images = Array.isArray(expected.images) ? [...(expected.images as Array<Record<string, unknown>>)] : [];
    const entry: Record<string, unknown> = { ...images[index], name, newTag };
    delete entry.digest;
    images[index] = entry;
    expected.images = images;
    expect(parse(result.text)).toEqual(expected);
    // kustomize reads YAML 1.1: there, too, the tag must come back as the same string.
    const yaml11 = parse(result.text, { version: '1.1' }) as { images: Array<Record<string, unknown>> };
    expect(yaml11.images[index]?.newTag).toBe(newTag);

    if (!result.changed) {
      expect(result.text).toBe(original);
      expect(entries[index]?.newTag).toBe(newTag);
      expect(entries[index]?.digest).toBeUndefined();
    } else {
      // Bytes: every line outside the edited entry (or, for a new entry, the images block) is untouched.
      const { head, removed, added } = lineDiff(original, result.text);
      expect(added.join('\n')).toContain(`"${newTag}"`);
      const span = editSpan(original, index);
      if (span === undefined) {
        expect(removed).toEqual([]); // a new `images:` key only adds lines
        for (const line of added) expect(line).toMatch(/^\s*(?:images:|- name: |name: |newTag: |- \{name)/);
      } else {
        expect(head).toBeGreaterThanOrEqual(span[0]);
        expect(head + removed.length).toBeLessThanOrEqual(span[1] + 1);
      }
      expect(added.length).toBeLessThanOrEqual(removed.length + 3);
      if (original.includes('\r\n')) expect(result.text.replace(/\r\n/g, '')).not.toContain('\n');
    }

    // Idempotent: the same change again writes nothing.
    const again = edit(result.text, { name, tag: newTag });
    expect(again.changed).toBe(false);
    expect(again.text).toBe(result.text);
  }

  it('sets any valid tag on exactly one entry and keeps every other byte, or refuses with bad_request / kustomization_invalid', () => {
    fc.assert(
      fc.property(target, tag, (t, newTag) => checkEdit(t, newTag)),
      { numRuns: 300 },
    );
  });

  it('writes every YAML 1.1 hazard so that it reads back as the same string, or refuses it', () => {
    const samples = ['overlays/dev/kustomization.yaml', 'yaml11-hazards.yaml', 'flow-style.yaml', 'comments-everywhere.yaml (CRLF)', 'null-images.yaml'];
    for (const fixture of FIXTURES.filter((f) => samples.includes(f.file))) {
      const names = [...new Set([...readImages(fixture.text).map((e) => e.name), NEW_NAME])];
      for (const name of names) for (const hazard of YAML11_HAZARDS) checkEdit({ fixture, name }, hazard);
    }
  });

  it('refuses every tag that is not an OCI tag with bad_request, whatever the file', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...FIXTURES),
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), hostileString).filter((s) => !OCI_TAG.test(s)),
        (fixture, bad) => {
          const name = readImages(fixture.text)[0]?.name ?? NEW_NAME;
          expectHoistError(
            thrown(() => setImage(fixture.text, { name, tag: bad })),
            ['bad_request'],
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('GitLab webhook parsing never fails past the HTTP boundary', () => {
  let gitops: TempGitops;
  let hoist: TestHoist;
  // An app whose template always starts with '-', so it can never give a valid tag: events for it run through the
  // whole intake (policy, variables, templating) and must end as 200 ignored, without ever queueing work.
  const FUZZ_APP = `  - name: fuzz
    project: fuzz/tagged
    image: registry.example.com/group/web
    tag: "-\${FUZZ}-$CI_COMMIT_REF_SLUG"
    branches: ["*"]
`;

  beforeAll(async () => {
    gitops = await createTempGitops();
    hoist = await startTestHoist(testConfigText(gitops.url, FUZZ_APP));
  });
  afterAll(async () => {
    await hoist?.close();
    await gitops?.cleanup();
  });

  async function post(body: string | Uint8Array, headers: Record<string, string> = {}) {
    const init = webhookRequest('', headers);
    const res = await hoist.app.request('/webhooks/gitlab', { ...init, body });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json: json as Record<string, unknown> | undefined };
  }

  function expectDocumentedAnswer(answer: { status: number; text: string; json: Record<string, unknown> | undefined }): void {
    expect([200, 202, 400], answer.text).toContain(answer.status);
    const body = answer.json;
    expect(body, answer.text).toBeTypeOf('object');
    if (answer.status === 400) {
      expect(body).toMatchObject({ error: expect.any(String), code: 'bad_request' });
    } else if (answer.status === 200) {
      expect(body).toEqual({ ignored: expect.any(String) });
      expect((body as { ignored: string }).ignored.length).toBeGreaterThan(0);
    } else {
      expect(body).toMatchObject({ promotions: expect.any(Array) });
    }
  }

  it('answers any JSON value with 400 bad_request naming the problem', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        const answer = await post(JSON.stringify(value) ?? 'null');
        expectDocumentedAnswer(answer);
        expect(answer.status).toBe(400);
        expect(answer.json?.error).toMatch(/^not a usable Pipeline Hook payload: /);
      }),
      { numRuns: 100 },
    );
  });

  it('answers any string body with 400 bad_request', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), hostileString), async (text) => {
        const answer = await post(text);
        expectDocumentedAnswer(answer);
        expect(answer.status).toBe(400);
      }),
      { numRuns: 100 },
    );
  });

  type Mutation = { path: string[]; op: 'delete' } | { path: string[]; op: 'set'; value: unknown };
  const PATHS: string[][] = [
    ['object_kind'],
    ['object_attributes'],
    ['object_attributes', 'id'],
    ['object_attributes', 'iid'],
    ['object_attributes', 'ref'],
    ['object_attributes', 'tag'],
    ['object_attributes', 'sha'],
    ['object_attributes', 'source'],
    ['object_attributes', 'status'],
    ['object_attributes', 'url'],
    ['object_attributes', 'variables'],
    ['merge_request'],
    ['project'],
    ['project', 'id'],
    ['project', 'path_with_namespace'],
    ['project', 'default_branch'],
    ['project', 'web_url'],
    ['builds'],
    ['user'],
    ['commit'],
  ];
  const wrongValue = fc.oneof(
    fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, 2 ** 53, '', [], {}, '1000', 'success\n', 'main\n', 'a1b2c3d4\n', 'fuzz/tagged\n'),
    hostileString,
    fc.jsonValue({ maxDepth: 3 }),
    fc.array(fc.record({ key: fc.oneof(hostileString, fc.constantFrom('__proto__', 'constructor', 'FUZZ')), value: fc.oneof(hostileString, fc.constant(null)) }), { maxLength: 3 }),
  );
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ path: fc.constantFrom(...PATHS), op: fc.constant('delete' as const) }),
    fc.record({ path: fc.constantFrom(...PATHS), op: fc.constant('set' as const), value: wrongValue }),
  );

  function applyMutations(event: Record<string, unknown>, mutations: readonly Mutation[]): Record<string, unknown> {
    const copy = structuredClone(event);
    for (const m of mutations) {
      let parent: unknown = copy;
      for (const key of m.path.slice(0, -1)) parent = parent !== null && typeof parent === 'object' ? (parent as Record<string, unknown>)[key] : undefined;
      if (parent === null || typeof parent !== 'object' || Array.isArray(parent)) continue;
      const last = m.path.at(-1) as string;
      if (m.op === 'delete') delete (parent as Record<string, unknown>)[last];
      else (parent as Record<string, unknown>)[last] = m.value;
    }
    return copy;
  }

  it('answers any mutation of a real pipeline event with 200 ignored or a 400 that names a mutated field, never queueing', async () => {
    const event = (await pipelineEvent({ project: 'fuzz/tagged', variables: [{ key: 'FUZZ', value: 'x' }] })) as Record<string, unknown>;
    // The unmutated event reaches the template and is ignored for its tag: the path under test is the whole intake.
    const control = await post(JSON.stringify(event));
    expect(control.status).toBe(200);
    expect(control.json?.ignored).toMatch(/^app fuzz: tag template/);

    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
        const answer = await post(JSON.stringify(applyMutations(event, mutations)));
        expectDocumentedAnswer(answer);
        expect(answer.status, answer.text).not.toBe(202);
        if (answer.status === 400) {
          const error = answer.json?.error as string;
          expect(error).toMatch(/^not a usable Pipeline Hook payload: /);
          expect(mutations.some((m) => error.includes(`${m.path.join('.')}`) || error.includes(`${m.path[0]}:`))).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });
});
