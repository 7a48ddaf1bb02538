/**
 * GGUF metadata value types, as stored in the file (uint32 tag before each value).
 */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** Size in bytes of a fixed-width value type, or undefined for STRING and ARRAY. */
export function fixedValueSize(type: GgufValueType): number | undefined {
  switch (type) {
    case GgufValueType.UINT8:
    case GgufValueType.INT8:
    case GgufValueType.BOOL:
      return 1;
    case GgufValueType.UINT16:
    case GgufValueType.INT16:
      return 2;
    case GgufValueType.UINT32:
    case GgufValueType.INT32:
    case GgufValueType.FLOAT32:
      return 4;
    case GgufValueType.UINT64:
    case GgufValueType.INT64:
    case GgufValueType.FLOAT64:
      return 8;
    default:
      return undefined;
  }
}

/** Smallest number of bytes any value of this type can occupy in a file (used to bound counts). */
export function minValueSize(type: GgufValueType): number {
  const fixed = fixedValueSize(type);
  if (fixed !== undefined) return fixed;
  // STRING: uint64 length; ARRAY: uint32 element type + uint64 count.
  return type === GgufValueType.STRING ? 8 : 12;
}

/** True when `n` is one of the value type tags defined by the GGUF specification. */
export function isGgufValueType(n: number): n is GgufValueType {
  return Number.isInteger(n) && n >= 0 && n <= 12;
}

/** Name of a value type for messages, e.g. "UINT32". */
export function valueTypeName(type: number): string {
  return isGgufValueType(type) ? GgufValueType[type] : `unknown(${type})`;
}
