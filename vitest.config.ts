import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/setup/global-redis.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests share one redis-server and spawn git/kustomize; keep the 2-core machine unsaturated.
    maxWorkers: 2,
    env: { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
  },
});
