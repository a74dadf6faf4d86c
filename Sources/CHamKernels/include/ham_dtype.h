// The one definition of hamrun's weight dtype codes and block layouts. It is read three ways:
// by the C kernels (through hamkernels.h), by Swift (CHamKernels imports these macros: DType's
// kernelCode, blockElements and blockBytes) and by the Vulkan shaders (Shaders/common.glsl
// includes it; the CompileShaders plugin passes this folder to glslang). So it holds nothing
// but #defines of integer literals, the one language all three read.
#ifndef HAM_DTYPE_H
#define HAM_DTYPE_H

// Codes of the storage types of weights, passed to every kernel.
#define HAM_F32 0
#define HAM_F16 1
#define HAM_BF16 2
#define HAM_Q8_0 3
#define HAM_Q4_0 4
#define HAM_Q4_1 5
#define HAM_Q4_K 6
#define HAM_Q5_K 7
#define HAM_Q6_K 8
#define HAM_Q5_0 9
#define HAM_Q5_1 10

// Block types are llama.cpp's (ggml-common.h), byte for byte; all scales are IEEE f16.
// A row of a block type is a whole number of blocks.
//
// Q8_0, Q4_0, Q4_1, Q5_0, Q5_1: 32 elements a block.
//   Q8_0 (34 B): d, qs[32] int8; x = d * q.
//   Q4_0 (18 B): d, qs[16]; element j < 16 is the low nibble of qs[j], element j + 16 its high
//                nibble; x = d * (q - 8).
//   Q4_1 (20 B): d, m, qs[16] as Q4_0; x = d * q + m.
//   Q5_0 (22 B): d, qh[4], qs[16]: Q4_0's nibbles plus a fifth bit, bit j of the little-endian
//                32-bit qh for element j; x = d * (q - 16).
//   Q5_1 (24 B): d, m, qh[4], qs[16] as Q5_0; x = d * q + m.
// K-quants: super-blocks of 256 elements.
//   Q4_K (144 B): d, dmin, scales[12] (eight 6-bit scales and mins), qs[128]. Each 64 elements
//                 are qs[32 bytes]: low nibbles (sub-block 2i) then high nibbles (2i + 1);
//                 x = (d * sc) * q - (dmin * m).
//   Q5_K (176 B): d, dmin, scales[12], qh[32], qs[128]: Q4_K's nibbles plus a fifth bit,
//                 bit i of qh[l] for element l of sub-block i; x as Q4_K.
//   Q6_K (210 B): ql[128], qh[64], scales[16] int8, d. 6-bit q = 4 bits of ql + 2 of qh, in
//                 sixteen sub-blocks of 16; x = (d * sc) * (q - 32).
#define HAM_QK 32
#define HAM_QK_K 256

#define HAM_Q8_0_BYTES 34
#define HAM_Q4_0_BYTES 18
#define HAM_Q4_1_BYTES 20
#define HAM_Q5_0_BYTES 22
#define HAM_Q5_1_BYTES 24
#define HAM_Q4_K_BYTES 144
#define HAM_Q5_K_BYTES 176
#define HAM_Q6_K_BYTES 210

// Byte offset of the f16 scale `d` in the blocks whose size is not a multiple of 4. The Vulkan
// backend moves that scale to a table after all blocks of a binding, so the rest of every block
// starts on a 32-bit word (docs/ARCHITECTURE.md, "Quantized weights on Vulkan").
#define HAM_Q8_0_D_OFFSET 0
#define HAM_Q4_0_D_OFFSET 0
#define HAM_Q5_0_D_OFFSET 0
#define HAM_Q6_K_D_OFFSET 208

#endif
