/**
 * Every `AUTOCONTRAST_*` environment variable the TypeScript code reads, read here and nowhere else (the
 * native code reads two more itself: `AUTOCONTRAST_ISA`, `AUTOCONTRAST_CUDA_LIB`; listed below for the docs).
 * Values are read when asked for, not at import, so a process may set them before first use.
 */

/** The variables, what each does, and who reads it. */
export const ENVIRONMENT_VARIABLES = {
  AUTOCONTRAST_NATIVE_PATH: 'path of an autocontrast.node to load before the bundled ones (kernel loader)',
  AUTOCONTRAST_BACKEND: "'js' forces the TypeScript contrast kernel (no addon is loaded)",
  AUTOCONTRAST_FUSED:
    "'0' runs the decoding chain step by step instead of the fused native step; 'step' runs the fused step once per token instead of the fused native loop (for comparisons; same tokens)",
  AUTOCONTRAST_DOLA_ONE_HEAD:
    "'0' keeps the graph's own head product for DoLa's final layer, the kernel projecting the candidates only (the two-head reference, for comparisons; same values up to summation order)",
  AUTOCONTRAST_Q8_HEAD:
    "'0' keeps the graph's own output head product (the reference, for comparisons; read at load): by default a head whose float32 values are exactly 8-bit blocks (a GGUF Q8_0 head, as SmolLM2's) is computed by the native runtime's int8-block kernel, the same values up to summation order",
  AUTOCONTRAST_ORT_LIBRARY: "path of libonnxruntime for the native runtime (default: onnxruntime-node's own)",
  AUTOCONTRAST_CACHE: 'folder of pulled models (default $XDG_CACHE_HOME/autocontrast, else ~/.cache/autocontrast)',
  AUTOCONTRAST_PYTHON: "Python interpreter used by pull (default 'python3')",
  AUTOCONTRAST_ISA: 'native: force an instruction set table (scalar, avx2, avx512, neon) when supported',
  AUTOCONTRAST_CUDA_LIB: 'native: path of libautocontrast_cuda.so (default: beside the addon)',
} as const;

/** A variable's name. */
export type EnvironmentVariable = keyof typeof ENVIRONMENT_VARIABLES;

/** The value of `name` in `env` (default the process environment); empty counts as unset. */
export function envValue(name: EnvironmentVariable, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}
