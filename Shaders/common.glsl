// Shared by every kernel. Tensors are bound as whole buffers of 32-bit words (descriptor
// offsets would have to be aligned; tensor views start at any element), and every kernel gets
// element offsets and sizes in push constants.

// Dtype codes and block layouts: CHamKernels' ham_dtype.h, shared with the C kernels and Swift.
#include "ham_dtype.h"

// Invocations per workgroup: the smallest maxComputeWorkGroupInvocations Vulkan allows.
#define BLOCK 128u

// Workgroup index of a dispatch folded into x and y (x is limited to 65535 groups).
#define GROUP_INDEX (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x)

// One of the two 16-bit halves of `word` as f32; bf16 is the top half of an f32.
float widen_half(uint word, uint odd, int dtype) {
    uint bits = odd != 0u ? word >> 16 : word & 0xffffu;
    return dtype == HAM_BF16 ? uintBitsToFloat(bits << 16) : unpackHalf2x16(bits).x;
}

// Element `i` of a tensor of `dtype` held in the uint array `words` (little-endian halves).
#define LOAD(words, i, dtype) ((dtype) == HAM_F32 ? uintBitsToFloat(words[i]) \
                                                 : widen_half(words[(i) >> 1], (i) & 1u, dtype))

// Eight 16-bit elements packed in a uvec4, widened.
void widen8(uvec4 w, int dtype, out vec4 lo, out vec4 hi) {
    if (dtype == HAM_BF16) {
        lo = uintBitsToFloat(uvec4(w.x << 16, w.x & 0xffff0000u, w.y << 16, w.y & 0xffff0000u));
        hi = uintBitsToFloat(uvec4(w.z << 16, w.z & 0xffff0000u, w.w << 16, w.w & 0xffff0000u));
    } else {
        lo = vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y));
        hi = vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w));
    }
}
