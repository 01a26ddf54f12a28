export { createImageEditor, isValidDigest, isValidTag, readImages, setImage } from './editor.js';
export type { EditResult, ImageChange, ImageEditor, ImageEntry } from './editor.js';
export { KUSTOMIZATION_FILES, checkRendered, createKustomizeRenderer, expectedImageRef, findRenderedImages } from './render.js';
export type { KustomizeRendererOptions, Renderer } from './render.js';
