export { createImageEditor, isValidDigest, isValidTag, readImages, setImage } from './editor.js';
export type { EditResult, ImageChange, ImageEditor, ImageEntry } from './editor.js';
export { MAX_KUSTOMIZATION_BYTES, MAX_KUSTOMIZATION_TOKENS, checkKustomizationSize, kustomizationData } from './kustomization.js';
export { MAX_YAML_ALIASES } from './bounded-yaml.js';
export { redactSecrets } from './redact-secrets.js';
export {
  KUSTOMIZATION_FILES,
  MAX_RENDER_OUTPUT_BYTES,
  checkRendered,
  createKustomizeRenderer,
  expectedImageRef,
  findRenderedImages,
} from './render.js';
export type { KustomizeRendererOptions, RenderOptions, Renderer } from './render.js';
