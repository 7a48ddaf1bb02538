/**
 * Graph input/output names, following Hugging Face's ONNX decoder exports, plus the exit
 * outputs this package adds. Cache entries are indexed by 0-based block index i (block i + 1 in
 * the 1-based exit numbering).
 */

/** Fixed input/output names. */
export const IO = {
  /** `[batch_size, sequence_length]` int64 token ids. */
  inputIds: 'input_ids',
  /** `[batch_size, total_sequence_length]` int64, 1 = real token, 0 = padding (past + current). */
  attentionMask: 'attention_mask',
  /** `[batch_size, sequence_length]` int64 positions. */
  positionIds: 'position_ids',
  /** Scalar int64, present only with `logitPositions: 'input'`: keep the last k positions (0 = all). */
  numLogitsToKeep: 'num_logits_to_keep',
  /** `[batch_size, positions, vocab]` float32 logits. */
  logits: 'logits',
} as const;

/** Symbolic dimension names used in the graph's declared shapes. */
export const DIM = {
  batch: 'batch_size',
  sequence: 'sequence_length',
  past: 'past_sequence_length',
  total: 'total_sequence_length',
  logitPositions: 'logit_positions',
} as const;

/** `past_key_values.{i}.key` / `.value`: `[batch, kv_heads, past, head_dim]` float32. */
export function pastName(block: number, which: 'key' | 'value'): string {
  return `past_key_values.${block}.${which}`;
}

/** `present.{i}.key` / `.value`: `[batch, kv_heads, past + seq, head_dim]` float32. */
export function presentName(block: number, which: 'key' | 'value'): string {
  return `present.${block}.${which}`;
}

/** `exit.{L}.hidden`: the vector exit L's head multiplies, `[batch, positions, d]`. */
export function exitHiddenName(layer: number): string {
  return `exit.${layer}.hidden`;
}

/** `exit.{L}.logits`: exit L's logits, `[batch, positions, vocab]`. */
export function exitLogitsName(layer: number): string {
  return `exit.${layer}.logits`;
}
