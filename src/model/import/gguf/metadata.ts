import { GgufError } from './errors';
import { GgufValueType, valueTypeName } from './value-types';

/** A numeric GGUF array is held in the matching typed array (UINT64/INT64 as bigint arrays). */
export type GgufNumericArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array;

/** The in-memory form of an ARRAY value. `elementType` is the GGUF type tag of its elements. */
export type GgufArrayValue =
  | { readonly elementType: GgufValueType.STRING; readonly values: string[] }
  | { readonly elementType: GgufValueType.BOOL; readonly values: boolean[] }
  | { readonly elementType: GgufValueType.ARRAY; readonly values: GgufArrayValue[] }
  | { readonly elementType: Exclude<GgufValueType, GgufValueType.STRING | GgufValueType.BOOL | GgufValueType.ARRAY>; readonly values: GgufNumericArray };

/** Any metadata value: 8-32-bit integers and floats as number, 64-bit integers as bigint, strings, booleans, arrays. */
export type GgufValue = number | bigint | boolean | string | GgufArrayValue;

/** One key/value pair from the header, with its stored type tag. */
export interface GgufMetadataEntry {
  readonly key: string;
  readonly type: GgufValueType;
  readonly value: GgufValue;
}

/**
 * The key/value metadata of a GGUF file, in file order, with typed getters that throw a
 * {@link GgufError} naming the key when it is missing or of the wrong type.
 */
export class GgufMetadata {
  private readonly map = new Map<string, GgufMetadataEntry>();

  /** @param entries the pairs in file order; duplicate keys are rejected by the parser before this. */
  constructor(readonly entries: readonly GgufMetadataEntry[]) {
    for (const e of entries) this.map.set(e.key, e);
  }

  /** Number of keys. */
  get size(): number {
    return this.map.size;
  }

  /** All keys in file order. */
  keys(): string[] {
    return this.entries.map((e) => e.key);
  }

  /** True when the key is present. */
  has(key: string): boolean {
    return this.map.has(key);
  }

  /** The raw entry, or undefined. */
  entry(key: string): GgufMetadataEntry | undefined {
    return this.map.get(key);
  }

  /** The raw value, or undefined. */
  get(key: string): GgufValue | undefined {
    return this.map.get(key)?.value;
  }

  private required(key: string): GgufMetadataEntry {
    const e = this.map.get(key);
    if (!e) throw new GgufError(`GGUF metadata key "${key}" is missing`);
    return e;
  }

  /** A STRING value; throws when missing or not a string. */
  getString(key: string): string {
    const e = this.required(key);
    if (typeof e.value !== 'string') throw wrongType(e, 'STRING');
    return e.value;
  }

  /** A STRING value, or `fallback` when the key is absent (wrong type still throws). */
  getStringOr<T extends string | undefined>(key: string, fallback: T): string | T {
    return this.map.has(key) ? this.getString(key) : fallback;
  }

  /**
   * Any scalar number (integer or float of any width) as a JS number; 64-bit integers must be
   * exactly representable (|v| <= 2^53-1).
   */
  getNumber(key: string): number {
    const e = this.required(key);
    if (typeof e.value === 'number') return e.value;
    if (typeof e.value === 'bigint') {
      if (e.value > BigInt(Number.MAX_SAFE_INTEGER) || e.value < -BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new GgufError(`GGUF metadata key "${key}" = ${e.value} does not fit a JS number`);
      }
      return Number(e.value);
    }
    throw wrongType(e, 'a number');
  }

  /** Like {@link getNumber} but returns `fallback` when the key is absent. */
  getNumberOr<T extends number | undefined>(key: string, fallback: T): number | T {
    return this.map.has(key) ? this.getNumber(key) : fallback;
  }

  /** An integer-typed scalar as a JS number (float types are rejected). */
  getInteger(key: string): number {
    const e = this.required(key);
    if (e.type === GgufValueType.FLOAT32 || e.type === GgufValueType.FLOAT64) throw wrongType(e, 'an integer');
    return this.getNumber(key);
  }

  /** Like {@link getInteger} but returns `fallback` when the key is absent. */
  getIntegerOr<T extends number | undefined>(key: string, fallback: T): number | T {
    return this.map.has(key) ? this.getInteger(key) : fallback;
  }

  /** A BOOL value. */
  getBool(key: string): boolean {
    const e = this.required(key);
    if (typeof e.value !== 'boolean') throw wrongType(e, 'BOOL');
    return e.value;
  }

  /** Like {@link getBool} but returns `fallback` when the key is absent. */
  getBoolOr<T extends boolean | undefined>(key: string, fallback: T): boolean | T {
    return this.map.has(key) ? this.getBool(key) : fallback;
  }

  /** The ARRAY value as stored (typed array, string[], boolean[] or nested arrays). */
  getArray(key: string): GgufArrayValue {
    const e = this.required(key);
    if (!isArrayValue(e.value)) throw wrongType(e, 'ARRAY');
    return e.value;
  }

  /** An ARRAY of STRING. */
  getStringArray(key: string): string[] {
    const a = this.getArray(key);
    if (a.elementType !== GgufValueType.STRING) throw wrongArrayType(key, a, 'STRING');
    return a.values;
  }

  /** An ARRAY of any numeric type, converted to a plain number[] (64-bit values must be safe integers). */
  getNumberArray(key: string): number[] {
    const a = this.getArray(key);
    if (a.elementType === GgufValueType.STRING || a.elementType === GgufValueType.BOOL || a.elementType === GgufValueType.ARRAY) {
      throw wrongArrayType(key, a, 'a numeric type');
    }
    const out = new Array<number>(a.values.length);
    for (let i = 0; i < a.values.length; i++) {
      const v = a.values[i];
      if (typeof v === 'bigint') {
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new GgufError(`GGUF metadata key "${key}"[${i}] = ${v} does not fit a JS number`);
        }
        out[i] = Number(v);
      } else {
        out[i] = v;
      }
    }
    return out;
  }

  /** A plain object of all scalar values and array summaries, handy for printing. */
  summary(maxArrayItems = 8): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const e of this.entries) {
      if (isArrayValue(e.value)) {
        const vals = e.value.values as ArrayLike<unknown>;
        out[e.key] = `[${valueTypeName(e.value.elementType)} x ${vals.length}]` +
          (vals.length <= maxArrayItems ? ` ${JSON.stringify(Array.from(vals, (v) => (typeof v === 'bigint' ? String(v) : v)))}` : '');
      } else {
        out[e.key] = typeof e.value === 'bigint' ? String(e.value) : e.value;
      }
    }
    return out;
  }
}

/** True when a metadata value is an ARRAY. */
export function isArrayValue(v: GgufValue): v is GgufArrayValue {
  return typeof v === 'object' && v !== null && 'elementType' in v;
}

function wrongType(e: GgufMetadataEntry, expected: string): GgufError {
  return new GgufError(`GGUF metadata key "${e.key}" has type ${valueTypeName(e.type)}, expected ${expected}`);
}

function wrongArrayType(key: string, a: GgufArrayValue, expected: string): GgufError {
  return new GgufError(`GGUF metadata key "${key}" is an ARRAY of ${valueTypeName(a.elementType)}, expected an ARRAY of ${expected}`);
}
