import { describe, expect, it } from 'vitest';
import { DOCKER_HUB_HOST, isLoopbackHost, registryOf } from './reference.js';

describe('registryOf', () => {
  it.each([
    ['registry.example.com/group/web', 'registry.example.com', 'group/web'],
    ['registry.example.com:5000/group/sub/web', 'registry.example.com:5000', 'group/sub/web'],
    ['127.0.0.1:5000/web', '127.0.0.1:5000', 'web'],
    ['localhost/web', 'localhost', 'web'],
    ['localhost:5000/group/web', 'localhost:5000', 'group/web'],
    ['Registry.Example.COM/group/web', 'registry.example.com', 'group/web'],
    ['[::1]:5000/group/web', '[::1]:5000', 'group/web'],
  ])('reads the host off %s', (image, host, name) => {
    expect(registryOf(image)).toEqual({ host, name, credentialKeys: [host] });
  });

  it.each([
    ['nginx', 'library/nginx'],
    ['group/web', 'group/web'],
    ['docker.io/nginx', 'library/nginx'],
    ['docker.io/group/web', 'group/web'],
    ['index.docker.io/group/web', 'group/web'],
    ['registry-1.docker.io/library/redis', 'library/redis'],
  ])('sends %s to Docker Hub as %s (no host: Docker Hub; one component: library/)', (image, name) => {
    expect(registryOf(image)).toEqual({ host: DOCKER_HUB_HOST, name, credentialKeys: ['registry-1.docker.io', 'docker.io', 'index.docker.io'] });
  });

  it('takes a first component without a dot, a colon or localhost for a Docker Hub namespace, not a host', () => {
    expect(registryOf('myregistry/web').host).toBe(DOCKER_HUB_HOST);
    expect(registryOf('myregistry/web').name).toBe('myregistry/web');
  });
});

describe('isLoopbackHost', () => {
  it('allows plain http to loopback addresses only', () => {
    expect(['127.0.0.1:5000', '127.1.2.3', 'localhost', 'localhost:5000', '[::1]:5000', '[::1]'].every(isLoopbackHost)).toBe(true);
    expect(['registry.example.com', '10.0.0.1:5000', '127.0.0.1.example.com', 'localhost.example.com', '[::2]:5000'].some(isLoopbackHost)).toBe(false);
  });
});
