import type { ImageEdit } from '../../src/domain/ports.js';

/** A pipeline promotion of `web` to dev as the writers receive it; override what a test is about. */
export function imageEdit(over: Partial<ImageEdit> & { promotionId: string; tag: string }): ImageEdit {
  return {
    app: 'web',
    env: 'dev',
    path: 'overlays/dev',
    target: { repo: 'default', branch: 'main' },
    image: 'registry.example.com/group/web',
    source: { kind: 'pipeline', project: 'group/web', pipelineId: 1, url: 'https://gitlab.example.com/group/web/-/pipelines/1', ref: 'main', sha: 'a'.repeat(40) },
    mayHaveLanded: false,
    createdAt: new Date().toISOString(),
    ...over,
  };
}
