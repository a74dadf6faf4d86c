// Attention and KV-cache kernels of the CPU backend (paged caches, grouped-query heads).
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Element types of a KV cache.
enum ham_kv_dtype { HAM_KV_F32 = 0, HAM_KV_F16 = 1 };

/// One query row's `group` heads that share one KV head, over `visible` slots of a paged cache:
/// out[g] = softmax_s(q[g] · k_s · scale) · v_s. Slot s lives in cache row
/// blocks[s / block_size] * block_size + s % block_size; element d of its K (V) vector is at
/// keys (values) + row * kv_stride + kv_offset + d, in `kv_dtype`.
/// q: the group's head vectors, `q_stride` floats apart; out likewise with `out_stride`.
/// scratch: at least group * visible floats. visible >= 1.
void ham_attention(const float *q, size_t q_stride, size_t group, size_t head_dim,
                   const void *keys, const void *values, int kv_dtype, size_t kv_stride, size_t kv_offset,
                   const int32_t *blocks, size_t block_size, size_t visible,
                   float scale, float *out, size_t out_stride, float *scratch);

/// dst[i] = src[i] narrowed to `kv_dtype` (f16: round to nearest even), for i in [0, count).
void ham_store_kv(const float *src, void *dst, int kv_dtype, size_t count);

#ifdef __cplusplus
}
#endif
