/**
 * Whether a chat request's response_url may be posted to. Pure.
 *
 * A valid signature (Slack) or token (Mattermost) says who sent the request, not where its response_url
 * points: anyone holding the secret, or a platform bug, could aim Hoist's POST at an internal address.
 * So only hosts the config names are used (`chatops.<platform>.responseHosts`); any other URL is treated
 * as absent and the answer goes in the HTTP answer instead.
 */

export type ResponseUrlVerdict =
  | { kind: 'none' }
  | { kind: 'allowed'; url: string }
  /** `host` is safe to log; the URL itself carries a token, so it is not repeated. */
  | { kind: 'refused'; reason: string; host?: string };

const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http:': '80', 'https:': '443' };

/**
 * An entry matches the URL's hostname (any port) or its `host:port`, case-insensitively; `hooks.slack.com`
 * matches `https://hooks.slack.com/…`, `127.0.0.1:8080` only that port.
 */
export function checkResponseUrl(value: string | undefined, allowedHosts: readonly string[]): ResponseUrlVerdict {
  if (value === undefined || value === '') return { kind: 'none' };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { kind: 'refused', reason: 'response_url is not a URL' };
  }
  const defaultPort = DEFAULT_PORTS[url.protocol];
  if (defaultPort === undefined) return { kind: 'refused', reason: `response_url is not http(s) (${url.protocol})` };
  // URL lower-cases the hostname and drops a default port, so both forms are rebuilt from its parts.
  const hostname = url.hostname;
  const hostPort = `${hostname}:${url.port || defaultPort}`;
  if (url.username !== '' || url.password !== '') return { kind: 'refused', reason: 'response_url carries credentials', host: hostPort };
  const allowed = allowedHosts.some((entry) => {
    const e = entry.toLowerCase();
    return e === hostname || e === hostPort;
  });
  return allowed ? { kind: 'allowed', url: url.href } : { kind: 'refused', reason: `response_url host ${hostPort} is not in responseHosts`, host: hostPort };
}
