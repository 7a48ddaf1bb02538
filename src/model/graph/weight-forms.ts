/**
 * The named weight forms a model folder can hold (one definition for convert, pull, the CLI, the
 * manifest and the parity suite). Measured speed and fidelity of each: README "Weight forms".
 */
import type { MatMulNBitsOptions } from './matmul-nbits';

/**
 * - `float32`: every matrix float32 (GGUF blocks dequantised): the reference the others are checked against.
 * - `q4`: GGUF Q4_0 / Q4_1 matrices stay 4-bit as MatMulNBits with float activations (`accuracy_level`
 *   0): the weights' own values, computed in float: faithful (greedy tokens of the float32 form).
 * - `q4-fast`: the same 4-bit weights with activations quantised to int8 in every product
 *   (`accuracy_level` 4): faster, not faithful (ACD especially: see the README's fidelity table).
 * - `q4-sym`: the 4-bit matrices dequantised and re-quantised to symmetric 4-bit blocks of 32 exactly as
 *   onnxruntime-genai's model builder does (ONNX Runtime's blockwise quantiser), int8 activations: the
 *   arithmetic of genai's int4 graphs (no Q4_1 minimum term; a tied head re-quantised to 4 bits the same way),
 *   not the model's values (opt-in, not faithful).
 * The embedding stays float32 in every form. The LM head is float32, except that the 4-bit forms keep a
 * tied head (the embedding) stored as GGUF Q8_0 (SmolLM2) on its own 8-bit values: a quarter of the bytes
 * per token, the same matrix (`q8Projection`).
 */
export type WeightForm = 'float32' | 'q4' | 'q4-fast' | 'q4-sym';

/** Every weight form, in the order tables list them. */
export const WEIGHT_FORMS: readonly WeightForm[] = ['float32', 'q4', 'q4-fast', 'q4-sym'];

/** What a weight form means for the importer and the graph builder. */
export interface WeightFormSpec {
  /** Importer weights: dequantised float32, or 4-bit blocks kept. */
  readonly quantized: 'float32' | 'q4';
  /** MatMulNBits tuning when `quantized` is `q4`. */
  readonly matMulNBits?: MatMulNBitsOptions;
  /** One line for `inspect` and the manifest. */
  readonly description: string;
  /** Whether the form is held to the fidelity targets (the float32 form's tokens); the others are opt-in approximations. */
  readonly faithful: boolean;
}

const SPECS: Record<WeightForm, WeightFormSpec> = {
  float32: { quantized: 'float32', faithful: true, description: 'float32 matrices (4-bit blocks dequantised)' },
  q4: {
    quantized: 'q4',
    matMulNBits: { accuracyLevel: 0, head: 'q8' },
    faithful: true,
    description: '4-bit matrices (MatMulNBits), float activations (accuracy_level 0); float32 embedding; a tied head on its own 8-bit GGUF values (exactly, as two 4-bit digits) when it has them',
  },
  'q4-fast': {
    quantized: 'q4',
    matMulNBits: { accuracyLevel: 4, head: 'q8' },
    faithful: false,
    description: '4-bit matrices (MatMulNBits), int8 activations (accuracy_level 4, not faithful); float32 embedding; a tied head on its own 8-bit GGUF values when it has them',
  },
  'q4-sym': {
    quantized: 'q4',
    matMulNBits: { accuracyLevel: 4, head: 'q4-sym', requantize: 'symmetric' },
    faithful: false,
    description: '4-bit matrices re-quantised to symmetric blocks of 32 as onnxruntime-genai\'s builder does (MatMulNBits, no zero points), int8 activations (accuracy_level 4; not the model\'s values, not faithful); float32 embedding; a tied head re-quantised the same way (4-bit)',
  },
};

/** Whether `v` names a weight form. */
export function isWeightForm(v: unknown): v is WeightForm {
  return typeof v === 'string' && (WEIGHT_FORMS as readonly string[]).includes(v);
}

/** The spec of a weight form. */
export function weightFormSpec(form: WeightForm): WeightFormSpec {
  return SPECS[form];
}

/**
 * The form a built graph holds: `float32` when no matrix stayed 4-bit, else by accuracy level
 * (levels other than 0 and 4 have no name: `q4-level-N`).
 */
export function builtWeightForm(matMulNBits: MatMulNBitsOptions | undefined, quantizedMatrices: number): WeightForm | `q4-level-${number}` | `q4-sym-level-${number}` {
  if (!matMulNBits || quantizedMatrices === 0) return 'float32';
  const level = matMulNBits.accuracyLevel ?? 4;
  if (matMulNBits.requantize === 'symmetric') return level === 4 ? 'q4-sym' : `q4-sym-level-${level}`;
  return level === 0 ? 'q4' : level === 4 ? 'q4-fast' : `q4-level-${level}`;
}
