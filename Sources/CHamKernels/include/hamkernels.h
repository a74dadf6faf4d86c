// The innermost loops of hamrun's CPU backend. Everything around them (threading, shapes,
// the model graph) is Swift; these are the few lines that must use AVX2/AVX-512 when the
// processor has them, chosen once at run time.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "ham_dtype.h"

/// Blocks of the quantized types (layouts and formulas in ham_dtype.h). f16 fields are raw bits.
typedef struct { uint16_t d; int8_t qs[32]; } ham_block_q8_0;
typedef struct { uint16_t d; uint8_t qs[16]; } ham_block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[16]; } ham_block_q4_1;
/// qh: four bytes, not a uint32_t, so that the 22-byte block has no padding.
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } ham_block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } ham_block_q5_1;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } ham_block_q4_k;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } ham_block_q5_k;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } ham_block_q6_k;

/// Elements of one block of `dtype` (1 for the plain element types).
static inline size_t ham_block_elements(int dtype) {
    switch (dtype) {
    case HAM_Q8_0: case HAM_Q4_0: case HAM_Q4_1: case HAM_Q5_0: case HAM_Q5_1: return HAM_QK;
    case HAM_Q4_K: case HAM_Q5_K: case HAM_Q6_K: return HAM_QK_K;
    default: return 1;
    }
}

/// Bytes of one block of `dtype`.
static inline size_t ham_block_bytes(int dtype) {
    switch (dtype) {
    case HAM_F32: return 4;
    case HAM_F16: case HAM_BF16: return 2;
    case HAM_Q8_0: return HAM_Q8_0_BYTES;
    case HAM_Q4_0: return HAM_Q4_0_BYTES;
    case HAM_Q4_1: return HAM_Q4_1_BYTES;
    case HAM_Q5_0: return HAM_Q5_0_BYTES;
    case HAM_Q5_1: return HAM_Q5_1_BYTES;
    case HAM_Q4_K: return HAM_Q4_K_BYTES;
    case HAM_Q5_K: return HAM_Q5_K_BYTES;
    case HAM_Q6_K: return HAM_Q6_K_BYTES;
    default: return 4;
    }
}

/// Bytes of `count` elements of `dtype` (whole blocks for the block types).
static inline size_t ham_row_bytes(int dtype, size_t count) {
    return count / ham_block_elements(dtype) * ham_block_bytes(dtype);
}

/// Quantizes `count` floats (whole blocks) to blocks of `dtype`: Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 byte for
/// byte as gguf-py's `gguf.quants.quantize`, the K-quants with llama.cpp's reference search
/// (quantize.c). Returns 0, writing nothing, for a plain dtype or a partial block.
int ham_quantize(const float *src, size_t count, int dtype, void *dst);

/// out[r * out_stride + o] (+)= dot(x[r * in .. + in], w[o * in .. + in]) + bias[o]
/// for r in [0, n) and o in [o_begin, o_end). x and out are f32; w is in `dtype`.
/// Reads each weight row once for all n rows of x (n small: decode and micro steps).
void ham_gemv(const float *x, size_t n, size_t in,
              const void *w, int dtype, size_t o_begin, size_t o_end,
              const float *bias, float *out, size_t out_stride, int accumulate);

/// The same product for many rows of x (prefill), reading bf16/f16 weights in place. Returns 0,
/// computing nothing, where this SIMD level or dtype has no such kernel (the caller then widens
/// and uses BLAS).
int ham_gemm(const float *x, size_t n, size_t in,
             const void *w, int dtype, size_t o_begin, size_t o_end,
             const float *bias, float *out, size_t out_stride, int accumulate);

/// dst[i] = (float)src[i] for i in [0, count): the stored values, decoded (whole blocks for the
/// block types, bit-identical to gguf-py's `gguf.quants.dequantize`).
void ham_widen(const void *src, int dtype, size_t count, float *dst);

/// ham_widen with the portable code, whatever the SIMD level: what the reference backend
/// checks the levels against.
void ham_widen_portable(const void *src, int dtype, size_t count, float *dst);

/// Dot product of two f32 vectors.
float ham_dot_f32(const float *a, const float *b, size_t count);

/// y[i] += a * x[i].
void ham_axpy_f32(float a, const float *x, float *y, size_t count);

/// The SIMD level picked at run time: "avx512", "avx2" or "generic".
const char *ham_kernel_level(void);

/// Caps the SIMD level at `level` ("avx512", "avx2", "generic"; NULL: the best available) and
/// returns the level now in use. Not thread-safe: call it while no kernel runs (tests).
const char *ham_set_kernel_level(const char *level);

/// A spin-wait hint (x86 `pause`).
static inline void ham_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#ifdef __cplusplus
}
#endif
