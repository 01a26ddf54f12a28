import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/** The documents a newcomer reads, as paths from the repository root. */
function documents(): string[] {
  const inDir = (dir: string) => (existsSync(join(ROOT, dir)) ? readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.md')).map((f) => `${dir}/${f}`) : []);
  return ['README.md', 'k8s/README.md', ...inDir('docs'), ...inDir('examples')].filter((f) => existsSync(join(ROOT, f)));
}

/** Markdown without fenced code blocks and inline code, where `[x](y)` is no link. */
function prose(markdown: string): string {
  return markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, (block) => block.replace(/[^\n]/g, ' '))
    .replace(/(`+)[^`\n][\s\S]*?\1/g, (span) => span.replace(/[^\n]/g, ' '));
}

/** GitHub's heading ids (github-slugger): lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function headingSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>();
  const seen = new Map<string, number>();
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const [, title] of withoutFences.matchAll(/^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$/gm)) {
    const text = (title ?? '')
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/`([^`]*)`/g, '$1')
      .replace(/<[^>]+>/g, '');
    const base = text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    slugs.add(count === 0 ? base : `${base}-${count}`);
  }
  for (const [, id] of markdown.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) slugs.add(id ?? '');
  return slugs;
}

interface Link {
  file: string;
  line: number;
  target: string;
}

function relativeLinks(file: string): Link[] {
  const text = prose(readFileSync(join(ROOT, file), 'utf8'));
  const links: Link[] = [];
  const add = (index: number, raw: string) => {
    const target = raw.trim().replace(/^<|>$/g, '').split(/\s+"/)[0] ?? '';
    if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target)) return; // https:, mailto: and the like
    links.push({ file, line: text.slice(0, index).split('\n').length, target });
  };
  for (const m of text.matchAll(/!?\[[^\]\n]*\]\(([^)\n]+)\)/g)) add(m.index, m[1] ?? '');
  for (const m of text.matchAll(/^\s{0,3}\[[^\]\n]+\]:\s*(\S+)/gm)) add(m.index, m[1] ?? '');
  return links;
}

/** Why the link does not resolve inside the repository, or undefined when it does. */
function brokenBecause(link: Link): string | undefined {
  const [pathPart = '', anchor] = link.target.split('#', 2);
  const path = decodeURIComponent(pathPart.split('?')[0] ?? '');
  const file = path === '' ? join(ROOT, link.file) : path.startsWith('/') ? join(ROOT, path) : resolve(ROOT, dirname(link.file), path);
  if (relative(ROOT, file).startsWith('..')) return `${path} points outside the repository`;
  if (!existsSync(file)) return `${relative(ROOT, file)} does not exist`;
  if (anchor === undefined || anchor === '') return undefined;
  if (statSync(file).isDirectory() || !file.endsWith('.md')) return undefined;
  return headingSlugs(readFileSync(file, 'utf8')).has(anchor.toLowerCase()) ? undefined : `${relative(ROOT, file)} has no heading #${anchor}`;
}

describe('links in the docs', () => {
  it('computes the ids GitHub gives headings', () => {
    expect([...headingSlugs('# Hoist\n## 1. Webhook intake\n### `hoist validate`\n### Signed history: only Hoist\'s own commits count\n## Chat\n### Chat (`POST /chatops/slack`)\n## Chat\n```\n# not a heading\n```\n')]).toEqual([
      'hoist',
      '1-webhook-intake',
      'hoist-validate',
      'signed-history-only-hoists-own-commits-count',
      'chat',
      'chat-post-chatopsslack',
      'chat-1',
    ]);
  });

  it('finds the documents and their links', () => {
    expect(documents()).toEqual(expect.arrayContaining(['README.md', 'k8s/README.md', 'docs/reliability.md', 'examples/README.md']));
    expect(documents().flatMap(relativeLinks).length).toBeGreaterThan(5);
  });

  it.each(documents())('every relative link of %s resolves, anchor included', (file) => {
    const broken = relativeLinks(file).flatMap((link) => {
      const why = brokenBecause(link);
      return why === undefined ? [] : [`${link.file}:${link.line}: (${link.target}) ${why}`];
    });
    expect(broken).toEqual([]);
  });
});
