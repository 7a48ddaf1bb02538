/* Layer selection by divergence on the GPU (DoLa; ACD / CD with amateurLayer 'auto'): the same computation as
 * native/kernels/dola.h, on device memory. C ABI of libautocontrast_cuda, beside ac_cuda.h.
 *
 * Status: compiled with the library; not yet run on a GPU and not yet reachable from JavaScript (the binding's
 * CUDA loader does not look this symbol up). */
#ifndef AC_CUDA_DOLA_H
#define AC_CUDA_DOLA_H

#include "ac_cuda.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One DoLa step for `rows` sequences and C candidate layers, every pointer in device memory, on `stream`:
 *   final_logits [rows x vocab] float32; hidden [C x rows x d] float32 (candidate c's rows contiguous);
 *   weight [vocab x d] of weight_dtype (AC_CUDA_F32 / F16 / BF16 codes of ac_cuda.h), bias [vocab] or NULL;
 *   workspace: at least ac_cuda_dola_workspace_bytes(rows, C, vocab) bytes.
 * Writes out [rows x vocab] (DoLa scores: log p_final - log p_premature on the relative-top head
 * {log p_final >= max + log(alpha)}, -inf elsewhere), chosen [rows] (index of the premature candidate, the first
 * of equal divergences; -1 when the row's final or candidate logits hold a NaN or infinity) and divergences
 * [rows x C] (NULL: not written; divergence 0: transformers' 0.5 (KL(M||P) + KL(M||Q)) / vocab, 1: the textbook
 * Jensen-Shannon divergence). Returns AC_CUDA_OK or an error code (message in ac_cuda_last_error_message()). */
AC_CUDA_API int ac_cuda_dola(void* stream, const float* final_logits, const float* hidden, int32_t candidates,
                             int64_t rows, int64_t vocab, int64_t d, int32_t weight_dtype, const void* weight,
                             const void* bias, int32_t divergence, float alpha, void* workspace, float* out,
                             int32_t* chosen, float* divergences);

/* Bytes of workspace ac_cuda_dola needs: the candidate logits and per-row statistics. */
AC_CUDA_API size_t ac_cuda_dola_workspace_bytes(int64_t rows, int32_t candidates, int64_t vocab);

#ifdef __cplusplus
}
#endif

#endif /* AC_CUDA_DOLA_H */
