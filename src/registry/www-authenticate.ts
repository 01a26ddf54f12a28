/**
 * `WWW-Authenticate` challenges, pure (RFC 7235 §4.1: `1#challenge`, each `auth-scheme [ 1*SP #auth-param ]`, a
 * param `token BWS "=" BWS ( token / quoted-string )`). Several challenges may share one header, their commas
 * mixed with the params' commas: a token followed by `=` is a param of the current challenge, any other token
 * starts the next one. Registries send `Bearer realm="…",service="…",scope="…"` (docker/distribution
 * docs/spec/auth/token.md, "How to authenticate") or `Basic realm="…"`.
 */

export interface Challenge {
  /** Lower-cased: schemes are case-insensitive. */
  scheme: string;
  /** Param names lower-cased (also case-insensitive); the first of a repeated name wins. */
  params: Record<string, string>;
}

/** A header longer than this is not a registry's challenge; what follows is ignored. */
const MAX_HEADER_LENGTH = 8_192;
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

export function parseWwwAuthenticate(header: string): Challenge[] {
  const text = header.slice(0, MAX_HEADER_LENGTH);
  const challenges: Challenge[] = [];
  let i = 0;
  const skip = (pattern: RegExp) => {
    while (i < text.length && pattern.test(text[i] ?? '')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < text.length && TCHAR.test(text[i] ?? '')) i++;
    return text.slice(start, i);
  };
  const quoted = (): string => {
    let value = '';
    i++; // the opening quote
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\' && i + 1 < text.length) i++;
      value += text[i];
      i++;
    }
    i++; // the closing quote (or the end of an unterminated string)
    return value;
  };
  while (i < text.length) {
    skip(/[\s,]/);
    const name = token();
    if (name === '') {
      i++; // not a token: skip the character rather than loop on it
      continue;
    }
    skip(/[ \t]/);
    const current = challenges.at(-1);
    if (text[i] === '=' && current !== undefined) {
      i++;
      skip(/[ \t]/);
      const value = text[i] === '"' ? quoted() : token();
      const key = name.toLowerCase();
      if (!Object.hasOwn(current.params, key)) current.params[key] = value;
      continue;
    }
    if (text[i] === '=') {
      // A param before any scheme: malformed; skip its value.
      i++;
      skip(/[ \t]/);
      if (text[i] === '"') quoted();
      else token();
      continue;
    }
    challenges.push({ scheme: name.toLowerCase(), params: {} });
  }
  return challenges;
}

export interface BearerChallenge {
  realm: string;
  service?: string | undefined;
  scope?: string | undefined;
}

/** The challenge Hoist answers: Bearer (a token from `realm`) over Basic (credentials as they are); none else. */
export function chooseChallenge(challenges: readonly Challenge[]): ({ scheme: 'bearer' } & BearerChallenge) | { scheme: 'basic'; realm?: string | undefined } | undefined {
  const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
  if (bearer?.params.realm) return { scheme: 'bearer', realm: bearer.params.realm, service: bearer.params.service, scope: bearer.params.scope };
  const basic = challenges.find((c) => c.scheme === 'basic');
  return basic ? { scheme: 'basic', realm: basic.params.realm } : undefined;
}
