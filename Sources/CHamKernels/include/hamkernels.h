// The innermost loops of hamrun's CPU backend. Everything around them (threading, shapes,
// the model graph) is Swift; these are the few lines that must use AVX2/AVX-512 when the
// processor has them, chosen once at run time.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Storage types of weight rows (values match DType order in Swift: f32, f16, bf16).
enum ham_dtype { HAM_F32 = 0, HAM_F16 = 1, HAM_BF16 = 2 };

/// out[r * out_stride + o] (+)= dot(x[r * in .. + in], w[o * in .. + in]) + bias[o]
/// for r in [0, n) and o in [o_begin, o_end). x and out are f32; w is in `dtype`.
/// Reads each weight row once for all n rows of x (n small: decode and micro steps).
void ham_gemv(const float *x, size_t n, size_t in,
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
