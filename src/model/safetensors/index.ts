/**
 * Safetensors reading (single files and sharded Hugging Face checkpoints) and writing.
 * @module
 */
export {
  SafetensorsError,
  SafetensorsFile,
  SAFETENSORS_FLOAT_DTYPES,
  MAX_SAFETENSORS_HEADER,
  parseSafetensorsHeader,
  type SafetensorsTensorInfo,
} from './safetensors-file';
export { SafetensorsCheckpoint } from './checkpoint';
export { encodeSafetensors, writeSafetensors, type SafetensorsInput } from './write-safetensors';
