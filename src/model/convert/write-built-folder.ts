/**
 * Writing a model folder from an already built graph (for architectures assembled here, such as GPT-Neo,
 * that `buildDecoderGraph` does not dispatch) is the manifest layer's `writeBuiltFolder`.
 */
export { writeBuiltFolder, type BuiltFolderOptions } from '../manifest/write-model-folder';
