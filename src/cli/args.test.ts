import { describe, expect, it } from 'vitest';
import { parseCliArgs } from './args.js';

describe('parseCliArgs', () => {
  it('reads validate with its options in any order', () => {
    expect(parseCliArgs(['validate', 'hoist.yaml'])).toEqual({ kind: 'validate', configPath: 'hoist.yaml', repoDir: '.', allowUnsetVars: false });
    expect(parseCliArgs(['--repo', '../gitops', 'validate', 'hoist.yaml', '--allow-unset-vars'])).toEqual({
      kind: 'validate',
      configPath: 'hoist.yaml',
      repoDir: '../gitops',
      allowUnsetVars: true,
    });
    expect(parseCliArgs(['validate', 'hoist.yaml', '--repo=/srv/gitops'])).toMatchObject({ repoDir: '/srv/gitops' });
  });

  it('answers --help anywhere', () => {
    expect(parseCliArgs(['--help'])).toEqual({ kind: 'help' });
    expect(parseCliArgs(['validate', '-h'])).toEqual({ kind: 'help' });
  });

  it.each([
    [[], /no command/],
    [['deploy'], /unknown command "deploy"/],
    [['validate'], /needs the path of a config file/],
    [['validate', 'a.yaml', 'b.yaml'], /unexpected argument "b.yaml"/],
    [['validate', 'a.yaml', '--repo'], /--repo/],
    [['validate', 'a.yaml', '--repo='], /--repo needs a directory/],
    [['validate', 'a.yaml', '--bogus'], /Unknown option '--bogus'/],
  ])('refuses %j', (argv, message) => {
    const command = parseCliArgs(argv);
    expect(command.kind).toBe('usage-error');
    expect(command.kind === 'usage-error' ? command.message : '').toMatch(message);
  });
});
