import { describe, expect, it } from 'vitest';
import { checkResponseUrl } from './response-url.js';

const SLACK = ['hooks.slack.com'];

describe('checkResponseUrl', () => {
  it('allows a listed hostname on any port, in any case', () => {
    expect(checkResponseUrl('https://hooks.slack.com/commands/T1/2/3', SLACK)).toEqual({ kind: 'allowed', url: 'https://hooks.slack.com/commands/T1/2/3' });
    expect(checkResponseUrl('https://HOOKS.Slack.com:8443/x', SLACK)).toMatchObject({ kind: 'allowed' });
    expect(checkResponseUrl('https://hooks.slack.com/x', ['Hooks.Slack.COM'])).toMatchObject({ kind: 'allowed' });
  });

  it('allows a listed host:port only on that port, the default port included', () => {
    const hosts = ['chat.example.com:8065', 'mm.example.com:443'];
    expect(checkResponseUrl('http://chat.example.com:8065/hooks/commands/x', hosts)).toMatchObject({ kind: 'allowed' });
    expect(checkResponseUrl('http://chat.example.com:8066/hooks/commands/x', hosts)).toMatchObject({ kind: 'refused', host: 'chat.example.com:8066' });
    expect(checkResponseUrl('http://chat.example.com/hooks/commands/x', hosts)).toMatchObject({ kind: 'refused', host: 'chat.example.com:80' });
    expect(checkResponseUrl('https://mm.example.com/hooks/x', hosts)).toMatchObject({ kind: 'allowed' });
  });

  it('says there is none when none was sent', () => {
    expect(checkResponseUrl(undefined, SLACK)).toEqual({ kind: 'none' });
    expect(checkResponseUrl('', SLACK)).toEqual({ kind: 'none' });
  });

  it.each([
    ['an unlisted host', 'https://evil.example/commands/1', /evil\.example:443 is not in responseHosts/],
    ['a look-alike suffix', 'https://hooks.slack.com.evil.example/x', /not in responseHosts/],
    ['a look-alike prefix', 'https://evilhooks.slack.com/x', /not in responseHosts/],
    ['a listed host only in the user part', 'https://hooks.slack.com@evil.example/x', /credentials/],
    ['credentials', 'https://user:pass@hooks.slack.com/x', /credentials/],
    ['another scheme', 'file:///etc/passwd', /not http\(s\)/],
    ['a gopher URL to a listed host', 'gopher://hooks.slack.com/x', /not http\(s\)/],
    ['not a URL', 'hooks.slack.com/commands', /not a URL/],
    ['an internal address', 'http://169.254.169.254/latest/meta-data', /169\.254\.169\.254:80 is not in responseHosts/],
  ])('refuses %s', (_label, url, reason) => {
    const verdict = checkResponseUrl(url, SLACK);
    expect(verdict.kind).toBe('refused');
    expect(verdict.kind === 'refused' && verdict.reason).toMatch(reason);
  });

  it('refuses everything when no host is listed (Mattermost by default)', () => {
    expect(checkResponseUrl('http://localhost:8065/hooks/commands/x', [])).toMatchObject({ kind: 'refused' });
  });
});
