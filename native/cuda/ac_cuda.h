/* autocontrast CUDA kernels: plain C ABI of libautocontrast_cuda.so.
 *
 * This header includes no CUDA header: the Node addon's loader (native/binding/cuda_loader.cc) compiles it on
 * machines without the CUDA toolkit and resolves the functions below with dlsym. Streams are passed as
 * `void*` (a cudaStream_t; NULL is the legacy default stream).
 *
 * Semantics are those of ac::contrast_row (native/kernels/contrast.cc), the CPU scalar reference:
 *   - ACD (Gera et al. 2023): head H = { v : z_e[v] >= max z_e + ln(alpha) }, widened to the min_candidates
 *     largest expert logits (ties at the k-th value included); outside H log p = z_e - lse(z_e); inside H
 *     log p = ln(mass) + log softmax_H(s) with s = z_e - z_a (or (1+beta) z_e - beta z_a when has_beta).
 *   - CD (Li et al. 2022): same head, log softmax_H(s) inside H, -inf outside.
 *
 * Conventions shared by every entry point:
 *   - Return value: AC_CUDA_OK (0) or one of ac_cuda_status; the message for the calling thread's last
 *     failure is available from ac_cuda_last_error_message().
 *   - Device-pointer entry points use the calling thread's current CUDA device (the device the pointers
 *     live on) and enqueue work on `stream`. Unless AC_CUDA_FLAG_ASYNC is set they synchronise the stream
 *     before returning, so data errors (non-finite logits) come back as a status code with row and index.
 *   - Non-finite inputs are never turned into silent garbage: the affected row gets head_size = -1
 *     (non-finite expert) or -2 (non-finite amateur), head_mass = NaN, token/argmax = -1 and log-probs NaN,
 *     and a sticky per-stream error record keeps the first such (row, kind, index) until it is read by a
 *     synchronous call or by ac_cuda_check_error().
 *   - Device pointers must be aligned to their element size. Indices are int32 (vocab < 2^31).
 */
#ifndef AUTOCONTRAST_AC_CUDA_H
#define AUTOCONTRAST_AC_CUDA_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define AC_CUDA_API __declspec(dllexport)
#else
#define AC_CUDA_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a signature or struct below changes; the loader refuses a library with another value. */
#define AC_CUDA_ABI_VERSION 1

typedef enum ac_cuda_status {
  AC_CUDA_OK = 0,
  AC_CUDA_ERR_INVALID_ARGUMENT = 1, /* null pointer, bad size, alpha/k/p out of range, misaligned pointer */
  AC_CUDA_ERR_NO_DEVICE = 2,        /* no driver or no CUDA device, or the device index does not exist */
  AC_CUDA_ERR_CUDA = 3,             /* a CUDA runtime call failed (message has the CUDA error string) */
  AC_CUDA_ERR_OUT_OF_MEMORY = 4,
  AC_CUDA_ERR_NONFINITE_EXPERT = 5,  /* NaN or +-Inf expert logit; error info has row and index */
  AC_CUDA_ERR_NONFINITE_AMATEUR = 6, /* NaN or +-Inf amateur logit (dense row, or a head token's sparse dot) */
  AC_CUDA_ERR_NONFINITE_INPUT = 7    /* NaN or +Inf in the log-probs given to select / beam (-inf is allowed) */
} ac_cuda_status;

/* Same numeric values as ac::DType. */
typedef enum ac_cuda_dtype { AC_CUDA_F32 = 0, AC_CUDA_F16 = 1, AC_CUDA_BF16 = 2 } ac_cuda_dtype;

/* Same numeric values as ac::Mode. */
typedef enum ac_cuda_mode { AC_CUDA_MODE_ACD = 0, AC_CUDA_MODE_CD = 1 } ac_cuda_mode;

/* Flags (bitwise or) in ac_cuda_params.flags and ac_cuda_select_params.flags. */
#define AC_CUDA_FLAG_ASYNC 1u /* do not synchronise; errors show in head_size/tokens and ac_cuda_check_error */
#define AC_CUDA_FLAG_SKIP_AMATEUR_SCAN 2u /* dense amateur: check finiteness only on head tokens (reads |H|
                                             amateur values instead of V; the CPU path scans the whole row) */
#define AC_CUDA_FLAG_TRUST_POINTERS 4u /* skip cudaPointerGetAttributes checks of the device pointers */

typedef struct ac_cuda_params {
  int32_t mode;           /* ac_cuda_mode */
  float alpha;            /* plausibility threshold in [0, 1] */
  int32_t min_candidates; /* in [1, vocab] */
  int32_t has_beta;       /* nonzero: scores (1 + beta) z_e - beta z_a (O'Brien & Lewis) */
  float beta;             /* finite */
  uint32_t flags;         /* AC_CUDA_FLAG_* */
} ac_cuda_params;

/* The amateur as a linear exit: z_a[r, v] = dot(weight[v, :], hidden[r, :]) + bias[v]; only head rows of
 * weight are read (one warp per head token). */
typedef struct ac_cuda_sparse_amateur {
  const float* hidden; /* [rows x d] float32 */
  int64_t d;           /* >= 1 */
  int32_t weight_dtype;/* ac_cuda_dtype of weight and bias */
  const void* weight;  /* [vocab x d] */
  const void* bias;    /* [vocab] or NULL */
} ac_cuda_sparse_amateur;

/* Where a data error was found. status is AC_CUDA_OK when there was none (row = index = -1). */
typedef struct ac_cuda_error_info {
  int32_t status;
  int64_t row;
  int64_t index;
} ac_cuda_error_info;

/* Token selection on a contrasted (log-probability) row. */
#define AC_CUDA_SELECT_ARGMAX 0
#define AC_CUDA_SELECT_SAMPLE 1
typedef struct ac_cuda_select_params {
  int32_t method;      /* AC_CUDA_SELECT_ARGMAX or AC_CUDA_SELECT_SAMPLE */
  int32_t top_k;       /* 0: off; otherwise in [1, vocab]: sample among the k largest (ties at the k-th kept) */
  float top_p;         /* in (0, 1]; 1: off. Nucleus: smallest set of largest tokens with mass >= top_p
                          (computed on the tempered distribution, after top_k; ties at the boundary kept) */
  double temperature;  /* > 0 for SAMPLE (log-probs are divided by it, in double, as the CPU chain); ignored for ARGMAX */
  const double* uniforms; /* SAMPLE: device pointer, one uniform in [0, 1) per row, drawn on the host by the
                             project's one generator (ac::SeededRandom, native/kernels/select.h); the token is
                             the draw rule of that header (ac::draw_from_chunks) on the tempered, filtered row */
  uint32_t flags;      /* AC_CUDA_FLAG_ASYNC, AC_CUDA_FLAG_TRUST_POINTERS */
} ac_cuda_select_params;

/* Tuning keys for ac_cuda_set_tuning. */
#define AC_CUDA_TUNE_BLOCKS_PER_ROW 1 /* 0: automatic; 1: one block per row; n > 1: split rows over n blocks
                                         (cooperative launch; clamped to what fits on the device at once) */

/* ---- library and device ---- */

/* Human-readable version, e.g. "autocontrast-cuda 0.1.0 (abi 1, cuda runtime 13000)". Never NULL. */
AC_CUDA_API const char* ac_cuda_version(void);
/* AC_CUDA_ABI_VERSION of the built library. */
AC_CUDA_API int ac_cuda_abi_version(void);
/* Number of usable CUDA devices; 0 when there is no driver or no device (the reason is then in
 * ac_cuda_last_error_message()). Never fails otherwise. */
AC_CUDA_API int ac_cuda_device_count(void);
/* Device name (e.g. "NVIDIA H100 80GB HBM3") written into buf (NUL-terminated, truncated to len). */
AC_CUDA_API int ac_cuda_device_name(int device, char* buf, size_t len);
/* The message of the calling thread's last failing call (empty string if none). Valid until the next call
 * from the same thread. */
AC_CUDA_API const char* ac_cuda_last_error_message(void);
/* Sets a tuning knob (AC_CUDA_TUNE_*), process-wide. */
AC_CUDA_API int ac_cuda_set_tuning(int key, int value);
/* Frees every cached workspace and staging buffer (on all devices). Call with no work in flight. */
AC_CUDA_API int ac_cuda_release(void);

/* ---- device-pointer API (embedders that already hold the logits on the GPU) ---- */

/* Contrast rows x vocab logits of dtype `dtype` (expert and dense amateur, both [rows x vocab], row-major).
 * Outputs (device pointers, each may be NULL):
 *   out_logprobs [rows x vocab] float32 log p_acd (or CD log-probs); NULL: not written (use with argmax)
 *   head_size [rows] int32 (negative on a data error, see above), head_mass [rows] float32,
 *   argmax [rows] int32: arg-max of the contrasted row (lowest index on ties), fused in the same kernel.
 * err (host pointer, may be NULL) receives the data error of a synchronous call. */
AC_CUDA_API int ac_cuda_contrast(void* stream, int32_t dtype, const void* expert, const void* amateur, int64_t rows,
                                 int64_t vocab, const ac_cuda_params* params, float* out_logprobs,
                                 int32_t* head_size, float* head_mass, int32_t* argmax, ac_cuda_error_info* err);

/* As ac_cuda_contrast with the amateur given as a linear exit (sparse->hidden, weight, bias: device
 * pointers). */
AC_CUDA_API int ac_cuda_contrast_sparse(void* stream, int32_t dtype, const void* expert,
                                        const ac_cuda_sparse_amateur* sparse, int64_t rows, int64_t vocab,
                                        const ac_cuda_params* params, float* out_logprobs, int32_t* head_size,
                                        float* head_mass, int32_t* argmax, ac_cuda_error_info* err);

/* One token per row from log-probabilities [rows x vocab] float32 (e.g. out_logprobs above): arg-max, or
 * top-k / top-p sampling with temperature by the project's draw rule on uniforms drawn by the host generator.
 * tokens: [rows] int32 device pointer. */
AC_CUDA_API int ac_cuda_select(void* stream, const float* logprobs, int64_t rows, int64_t vocab,
                               const ac_cuda_select_params* params, int32_t* tokens, ac_cuda_error_info* err);

/* Beam search candidates: for each row (one beam) the k largest log-probs, sorted descending (lowest index
 * first on ties), written to cand_logprobs [rows x k] float32 and cand_tokens [rows x k] int32 (device).
 * k in [1, min(vocab, 1024)] (use k = 2 * beams). flags: AC_CUDA_FLAG_*. */
AC_CUDA_API int ac_cuda_beam_candidates(void* stream, const float* logprobs, int64_t rows, int64_t vocab, int32_t k,
                                        uint32_t flags, float* cand_logprobs, int32_t* cand_tokens,
                                        ac_cuda_error_info* err);

/* Synchronises `stream` and reads (then clears) its sticky data-error record: returns AC_CUDA_OK or the
 * AC_CUDA_ERR_NONFINITE_* status of the first recorded error (lowest row, expert before amateur, lowest
 * index) since the last read, with details in err (may be NULL). */
AC_CUDA_API int ac_cuda_check_error(void* stream, ac_cuda_error_info* err);

/* ---- host-memory convenience API (the Node binding's `device: 'cuda'` option) ----
 * Same semantics; arrays are host memory, copied to device `device` (an index < ac_cuda_device_count())
 * through cached staging buffers and a library-owned stream, and the results copied back. Synchronous.
 * Calls for the same device are serialised. Any output pointer may be NULL. */
AC_CUDA_API int ac_cuda_contrast_host(int device, int32_t dtype, const void* expert, const void* amateur,
                                      int64_t rows, int64_t vocab, const ac_cuda_params* params,
                                      float* out_logprobs, int32_t* head_size, float* head_mass, int32_t* argmax,
                                      ac_cuda_error_info* err);
/* sparse->hidden, weight and bias are host pointers here. */
AC_CUDA_API int ac_cuda_contrast_sparse_host(int device, int32_t dtype, const void* expert,
                                             const ac_cuda_sparse_amateur* sparse, int64_t rows, int64_t vocab,
                                             const ac_cuda_params* params, float* out_logprobs,
                                             int32_t* head_size, float* head_mass, int32_t* argmax,
                                             ac_cuda_error_info* err);
AC_CUDA_API int ac_cuda_select_host(int device, const float* logprobs, int64_t rows, int64_t vocab,
                                    const ac_cuda_select_params* params, int32_t* tokens, ac_cuda_error_info* err);
AC_CUDA_API int ac_cuda_beam_candidates_host(int device, const float* logprobs, int64_t rows, int64_t vocab,
                                             int32_t k, float* cand_logprobs, int32_t* cand_tokens,
                                             ac_cuda_error_info* err);

/* ---- device memory and streams (the Node runtime's CUDA decode loop; optional for loaders: a library built
 * before these existed still serves the entry points above) ----
 * The addon links no CUDA library, so the buffers it binds to ONNX Runtime's CUDA execution provider (KV cache,
 * logits, exits) and the stream it shares with ONNX Runtime (passed as its user_compute_stream) come from here.
 * Streams and memory live in the device's primary context, which every CUDA runtime in the process shares. */

/* Makes `device` the calling thread's current device. */
AC_CUDA_API int ac_cuda_set_device(int device);
/* Creates a non-blocking stream on `device` (and makes it current); *stream receives the cudaStream_t. */
AC_CUDA_API int ac_cuda_stream_create(int device, void** stream);
/* Synchronises `stream`, frees the library's workspace for it and destroys it. NULL: no-op. */
AC_CUDA_API int ac_cuda_stream_destroy(void* stream);
AC_CUDA_API int ac_cuda_stream_synchronize(void* stream);
/* cudaMalloc on `device` (256-byte aligned); bytes == 0 allocates 256 bytes so the pointer is never NULL. */
AC_CUDA_API int ac_cuda_malloc(int device, size_t bytes, void** ptr);
/* cudaFree; NULL: no-op. Call with no work in flight on the memory. */
AC_CUDA_API int ac_cuda_free(void* ptr);
/* cudaMemcpyAsync with cudaMemcpyDefault (any direction; host memory may be pageable, which makes a device to
 * host copy complete only when the stream is synchronised). bytes == 0: no-op. */
AC_CUDA_API int ac_cuda_memcpy_async(void* stream, void* dst, const void* src, size_t bytes);
/* out[r] = values[r * vocab + index[r]] for r < rows (device pointers, float32 / int32); NaN where index[r] is
 * outside [0, vocab). Asynchronous on `stream`. */
AC_CUDA_API int ac_cuda_gather_rows(void* stream, const float* values, int64_t rows, int64_t vocab,
                                    const int32_t* index, float* out);

#ifdef __cplusplus
}
#endif

#endif /* AUTOCONTRAST_AC_CUDA_H */
