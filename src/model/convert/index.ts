/**
 * Checkpoint conversion: GGUF files and Hugging Face checkpoints -> multi-exit model folders.
 * @module
 */
export { convert, importCheckpoint, type ConvertOptions, type ConvertResult } from './convert';
export { ConvertError } from './convert-error';
export { parseExitList, checkExitLayers, allLayers, lensExits } from './exits';
export { importGguf, ggufToHfName, GGUF_ARCHITECTURES } from './gguf';
export { importHf, checkpointExits } from './hf';
export { decoderConfigFromHf, HF_MODEL_TYPES } from './hf-config';
export { readHeadsFile, type HeadsFromFile } from './heads-file';
export type { ImportedModel } from './imported-model';
