/**
 * Where an image lives, pure: the registry host to ask and the repository name on it, by Docker's rules for
 * references (the ones `docker pull` and the kubelet apply), so `web`, `group/web` and `docker.io/group/web` mean
 * what they mean to the cluster that pulls them.
 */

/** The host Docker Hub's registry API answers on; `docker.io` and `index.docker.io` name it in references. */
export const DOCKER_HUB_HOST = 'registry-1.docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', DOCKER_HUB_HOST]);

export interface RegistryRef {
  /** Host (and port) of the registry API: `registry.example.com:5000`, `registry-1.docker.io`. */
  host: string;
  /** Repository on that host: `group/web`, `library/nginx`. */
  name: string;
  /** The names its credentials may be under in `registries`, most specific first (Docker Hub: also `docker.io`). */
  credentialKeys: string[];
}

/**
 * `registry.example.com:5000/group/web` → host `registry.example.com:5000`, name `group/web`. The first path
 * component is a host only when it has a `.` or a `:` or is `localhost` (Docker's rule); otherwise the image is on
 * Docker Hub, where a one-component name is an official image under `library/`.
 */
export function registryOf(image: string): RegistryRef {
  const slash = image.indexOf('/');
  const first = slash >= 0 ? image.slice(0, slash) : '';
  const hasHost = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const host = hasHost ? first.toLowerCase() : DOCKER_HUB_HOST;
  const path = hasHost ? image.slice(slash + 1) : image;
  if (DOCKER_HUB_ALIASES.has(host)) {
    return { host: DOCKER_HUB_HOST, name: path.includes('/') ? path : `library/${path}`, credentialKeys: [DOCKER_HUB_HOST, 'docker.io', 'index.docker.io'] };
  }
  return { host, name: path, credentialKeys: [host] };
}

/** Loopback registries (tests, a local registry) may be spoken to over plain http; every other host needs https. */
export function isLoopbackHost(host: string): boolean {
  const hostname = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}
