// The innermost loops of hamrun's CPU backend. Everything around them (threading, shapes,
// the model graph) is Swift; these are the few lines that must use AVX2/AVX-512 when the
// processor has them, chosen once at run time.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Storage types of weight rows. Q8_0 rows are blocks of 32 elements: an f16 scale `d` and 32
/// signed bytes `q`, element = d * q (34 bytes a block; a row's length is a multiple of 32).
enum ham_dtype { HAM_F32 = 0, HAM_F16 = 1, HAM_BF16 = 2, HAM_Q8_0 = 3 };

typedef struct {
    uint16_t d;
    int8_t qs[32];
} ham_block_q8_0;

/// Bytes of `count` elements of `dtype` (whole blocks for Q8_0).
static inline size_t ham_row_bytes(int dtype, size_t count) {
    return dtype == HAM_F32 ? count * 4 : dtype == HAM_Q8_0 ? count / 32 * sizeof(ham_block_q8_0) : count * 2;
}

/// Quantizes `count` floats (a multiple of 32) to Q8_0 blocks the way llama.cpp and gguf-py do:
/// d = max|x| / 127, q = round(x / d), d stored as f16.
void ham_quantize_q8_0(const float *src, size_t count, ham_block_q8_0 *dst);

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

/// dst[i] = (float)src[i] for i in [0, count).
void ham_widen(const void *src, int dtype, size_t count, float *dst);

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
