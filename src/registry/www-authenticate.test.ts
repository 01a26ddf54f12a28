import { describe, expect, it } from 'vitest';
import { chooseChallenge, parseWwwAuthenticate } from './www-authenticate.js';

describe('parseWwwAuthenticate', () => {
  it("reads the distribution token spec's challenge", () => {
    // docker/distribution docs/spec/auth/token.md, "How to authenticate".
    const header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"';
    expect(parseWwwAuthenticate(header)).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:samalba/my-app:pull,push' } },
    ]);
  });

  it("reads GitLab's container registry challenge and a Basic one", () => {
    expect(parseWwwAuthenticate('Bearer realm="https://gitlab.example.com/jwt/auth",service="container_registry",scope="repository:group/web:pull"')[0]?.params).toEqual({
      realm: 'https://gitlab.example.com/jwt/auth',
      service: 'container_registry',
      scope: 'repository:group/web:pull',
    });
    expect(parseWwwAuthenticate('Basic realm="basic-realm"')).toEqual([{ scheme: 'basic', params: { realm: 'basic-realm' } }]);
  });

  it('takes case-insensitive schemes and names, spaces around "=", tokens and escapes', () => {
    expect(parseWwwAuthenticate('BEARER Realm = "https://a.example/t?x=1" , SERVICE=reg, scope="repository:a\\"b:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://a.example/t?x=1', service: 'reg', scope: 'repository:a"b:pull' } },
    ]);
  });

  it('splits several challenges in one header, their commas mixed with the params', () => {
    expect(parseWwwAuthenticate('Basic realm="r1", Bearer realm="https://t.example/token",error="invalid_token", Newauth')).toEqual([
      { scheme: 'basic', params: { realm: 'r1' } },
      { scheme: 'bearer', params: { realm: 'https://t.example/token', error: 'invalid_token' } },
      { scheme: 'newauth', params: {} },
    ]);
  });

  it('keeps the first of a repeated param and survives malformed input', () => {
    expect(parseWwwAuthenticate('Bearer realm="a",realm="b"')[0]?.params.realm).toBe('a');
    expect(parseWwwAuthenticate('')).toEqual([]);
    expect(chooseChallenge(parseWwwAuthenticate('=x, "junk", Bearer realm="unterminated'))).toMatchObject({ scheme: 'bearer', realm: 'unterminated' });
    expect(parseWwwAuthenticate(`Bearer realm="${'x'.repeat(20_000)}"`)[0]?.params.realm?.length).toBeLessThan(8_192);
  });
});

describe('chooseChallenge', () => {
  it('prefers Bearer with a realm, then Basic, and answers nothing else', () => {
    expect(chooseChallenge(parseWwwAuthenticate('Basic realm="r", Bearer realm="https://t.example/token",service="s"'))).toEqual({
      scheme: 'bearer',
      realm: 'https://t.example/token',
      service: 's',
      scope: undefined,
    });
    expect(chooseChallenge(parseWwwAuthenticate('Bearer service="s", Basic realm="r"'))).toEqual({ scheme: 'basic', realm: 'r' });
    expect(chooseChallenge(parseWwwAuthenticate('Digest realm="r", nonce="n"'))).toBeUndefined();
  });
});
