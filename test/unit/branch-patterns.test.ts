import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { branchMatches } from '../../src/domain/policy.js';

/** What branchMatches did before: a regex built from the pattern, `*` as `.*`. The reference for the property. */
function regexMatches(pattern: string, ref: string): boolean {
  if (!pattern.includes('*')) return pattern === ref;
  return new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(ref);
}

describe('branchMatches', () => {
  it.each([
    ['main', 'main', true],
    ['main', 'main2', false],
    ['release/*', 'release/1.2', true],
    ['release/*', 'release/', true],
    ['release/*', 'release', false],
    ['release/*', 'release/a/b', true],
    ['*', '', true],
    ['*', 'anything/at/all', true],
    ['**', 'x', true],
    ['*-hotfix', 'v1-hotfix', true],
    ['*-hotfix', 'v1-hotfix-2', false],
    ['feature/*/ready', 'feature/a/b/ready', true],
    ['feature/*/ready', 'feature/ready', false],
    ['a*a', 'a', false],
    ['a*a', 'aa', true],
    ['ab*bc', 'abc', false],
    ['ab*bc', 'abbc', true],
    ['*a*b*', 'ba', false],
    ['*a*b*', 'xaybz', true],
    ['v1.*', 'v1x2', false],
    ['v1.*', 'v1.2', true],
    ['(release)+', '(release)+', true],
    ['(release)+', 'releaserelease', false],
    ['[abc]*', 'a', false],
    ['[abc]*', '[abc]', true],
    ['^main$', 'main', false],
    ['a\\*', 'a\\b', true],
  ])('%j against %j is %s', (pattern, ref, expected) => {
    expect(branchMatches(pattern, ref)).toBe(expected);
  });

  it('answers pathological patterns against long refs (no backtracking)', () => {
    const many = 'a'.repeat(50_000);
    expect(branchMatches('*a*a*a*a*a*a*a*a*a*b', many)).toBe(false);
    expect(branchMatches('*a*a*a*a*a*a*a*a*a*b', `${many}b`)).toBe(true);
    expect(branchMatches(`${'*a'.repeat(120)}*b`, many)).toBe(false);
    expect(branchMatches(`${'a*'.repeat(120)}`, many)).toBe(true);
    expect(branchMatches(`*${'ab'.repeat(100)}*c`, 'ab'.repeat(25_000))).toBe(false);
  });

  it('agrees with the regex semantics it replaces, on small random patterns and refs', () => {
    // A small alphabet with the characters that mattered to the regex (`.`, `/`, `-`) makes overlaps common.
    const char = fc.constantFrom('a', 'b', '.', '/', '-');
    const ref = fc.string({ unit: char, maxLength: 12 });
    const pattern = fc.string({ unit: fc.constantFrom('a', 'b', '.', '/', '-', '*'), maxLength: 8 });
    fc.assert(
      fc.property(pattern, ref, (p, r) => branchMatches(p, r) === regexMatches(p, r)),
      { numRuns: 20_000 },
    );
  });
});

describe('branch patterns in the config', () => {
  const config = (branches: string) => `gitops: { url: "file:///tmp/none.git" }
gitlab: { webhookSecret: s }
api: { token: t }
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web, branches: ${branches} }
`;

  it('takes a pattern of 255 characters and refuses a longer one, naming the field', () => {
    expect(parseConfig(config(`["${'a'.repeat(254)}*"]`), 'hoist.yaml', {}).apps[0]?.branches).toEqual([`${'a'.repeat(254)}*`]);
    expect(() => parseConfig(config(`[main, "${'a'.repeat(256)}"]`), 'hoist.yaml', {})).toThrow(/apps\[0\]\.branches\[1\].*at most 255 characters/s);
  });
});
