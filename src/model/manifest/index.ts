/**
 * Model-folder manifest: types, writer and validator.
 */
export * from './manifest-types';
export { manifestFromGraph, type ManifestFiles } from './manifest-from-graph';
export { checkManifest, isModelManifest } from './check-manifest';
export { ModelFolderError } from './model-folder-error';
export { validateModelFolder, type ValidateOptions, type ValidModelFolder } from './validate-model-folder';
export { writeModelFolder, type WriteModelFolderOptions, type WrittenModelFolder } from './write-model-folder';
