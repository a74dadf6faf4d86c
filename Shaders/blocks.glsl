// Decoding of the block types (layouts in ham_dtype.h) from a weight buffer of 32-bit words,
// as the Vulkan backend lays them out in each binding (docs/ARCHITECTURE.md, "Quantized
// weights on Vulkan"): Q4_1, Q5_1, Q4_K and Q5_K blocks as stored (20, 24, 144, 176 bytes: whole
// words); Q8_0, Q4_0, Q5_0 and Q6_K blocks without their f16 scale `d` (32, 16, 20, 208 bytes),
// followed by the scales of all the binding's blocks, halfword `scales + block`.
//
// GLSL cannot pass a buffer to a function: the including shader names its weight array first,
// `#define WEIGHTS w`. Values are computed in gguf-py's order with `precise` (no fused
// multiply-adds), so the embedding is bit-identical to `gguf.quants.dequantize`.

// Byte `b` of the weights, and the f16 at byte `b` (even).
uint wbyte(uint b) { return (WEIGHTS[b >> 2] >> ((b & 3u) * 8u)) & 0xffu; }
float whalf(uint b) { return unpackHalf2x16((WEIGHTS[b >> 2] >> ((b & 2u) * 8u)) & 0xffffu).x; }
float whalf_at(uint halfword) { return whalf(halfword * 2u); }

// Bytes of a block in the binding (the stored block, or its body without `d`).
uint block_stride(int dtype) {
    switch (dtype) {
    case HAM_Q8_0: return HAM_Q8_0_BYTES - 2;
    case HAM_Q4_0: return HAM_Q4_0_BYTES - 2;
    case HAM_Q4_1: return HAM_Q4_1_BYTES;
    case HAM_Q5_0: return HAM_Q5_0_BYTES - 2;
    case HAM_Q5_1: return HAM_Q5_1_BYTES;
    case HAM_Q4_K: return HAM_Q4_K_BYTES;
    case HAM_Q5_K: return HAM_Q5_K_BYTES;
    default: return HAM_Q6_K_BYTES - 2;
    }
}

uint block_elements(int dtype) {
    return dtype == HAM_Q8_0 || dtype == HAM_Q4_0 || dtype == HAM_Q4_1 || dtype == HAM_Q5_0 || dtype == HAM_Q5_1 ? HAM_QK : HAM_QK_K;
}

// The 5-bit quant of element `j` of the Q5_0/Q5_1 block at byte `base`: its nibble and bit j of
// the qh word (word-aligned in both layouts: Q5_0's body starts with it, Q5_1's follows d, m).
uint q5_quant(int dtype, uint base, uint j) {
    uint qh = base + (dtype == HAM_Q5_1 ? 4u : 0u);
    uint b = wbyte(qh + 4u + (j & 15u));
    return (j < 16u ? b & 15u : b >> 4) | (((WEIGHTS[qh >> 2] >> j) & 1u) << 4);
}

// The 6-bit scale (x) and min (y) of sub-block `j` of the Q4_K/Q5_K scales at byte `s`.
uvec2 k_scale_min(uint s, uint j) {
    if (j < 4u) return uvec2(wbyte(s + j) & 63u, wbyte(s + j + 4u) & 63u);
    return uvec2((wbyte(s + j + 4u) & 15u) | ((wbyte(s + j - 4u) >> 6) << 4),
                 (wbyte(s + j + 4u) >> 4) | ((wbyte(s + j) >> 6) << 4));
}

// The quant of element `j` of a block at byte `base` (before offsets and scales), and its
// sub-block's scale factor and subtracted min: value = factor * q - min (Q4_1: + its m).
struct Quant { float q; float factor; float minimum; };

Quant block_quant(int dtype, uint blk, uint j, uint scales) {
    uint base = blk * block_stride(dtype);
    Quant r;
    r.minimum = 0.0;
    if (dtype == HAM_Q8_0) {
        r.q = float(int(wbyte(base + j) << 24) >> 24);
        r.factor = whalf_at(scales + blk);
    } else if (dtype == HAM_Q4_0) {
        uint b = wbyte(base + (j & 15u));
        r.q = float(int(j < 16u ? b & 15u : b >> 4) - 8);
        r.factor = whalf_at(scales + blk);
    } else if (dtype == HAM_Q4_1) {
        uint b = wbyte(base + 4u + (j & 15u));
        r.q = float(j < 16u ? b & 15u : b >> 4);
        r.factor = whalf(base);
        r.minimum = -whalf(base + 2u);
    } else if (dtype == HAM_Q5_0) {
        r.q = float(int(q5_quant(dtype, base, j)) - 16);
        r.factor = whalf_at(scales + blk);
    } else if (dtype == HAM_Q5_1) {
        r.q = float(q5_quant(dtype, base, j));
        r.factor = whalf(base);
        r.minimum = -whalf(base + 2u);
    } else if (dtype == HAM_Q4_K || dtype == HAM_Q5_K) {
        uint sub = j / 32u, l = j % 32u;
        uint qs = base + (dtype == HAM_Q4_K ? 16u : 48u) + 32u * (sub / 2u) + l;
        uint q = (sub & 1u) == 0u ? wbyte(qs) & 15u : wbyte(qs) >> 4;
        if (dtype == HAM_Q5_K) q |= ((wbyte(base + 16u + l) >> sub) & 1u) << 4;
        uvec2 sm = k_scale_min(base + 4u, sub);
        r.q = float(q);
        precise float f = whalf(base) * float(sm.x);
        precise float m = whalf(base + 2u) * float(sm.y);
        r.factor = f;
        r.minimum = m;
    } else {
        uint h = j / 128u, c = (j % 128u) / 32u, l = j % 32u;
        uint b = wbyte(base + 64u * h + 32u * (c & 1u) + l);
        uint q = (c < 2u ? b & 15u : b >> 4) | (((wbyte(base + 128u + 32u * h + l) >> (2u * c)) & 3u) << 4);
        r.q = float(int(q) - 32);
        precise float f = whalf_at(scales + blk) * float(int(wbyte(base + 192u + j / 16u) << 24) >> 24);
        r.factor = f;
    }
    return r;
}

// Element `e` of the binding's block rows (rows are whole blocks, so `e` names its block).
float load_block(int dtype, uint e, uint scales) {
    uint qk = block_elements(dtype);
    Quant r = block_quant(dtype, e / qk, e % qk, scales);
    precise float v = r.factor * r.q - r.minimum;
    return v;
}

// A weight element of any dtype: the plain types through LOAD (common.glsl).
float load_weight(uint e, int dtype, uint scales) {
    return dtype == HAM_F32 || dtype == HAM_F16 || dtype == HAM_BF16 ? LOAD(WEIGHTS, e, dtype) : load_block(dtype, e, scales);
}

// Elements e8 … e8 + 7 (e8 a multiple of 8: one sub-block, contiguous bytes) of block rows, for
// the streaming product: the scales are found once for the eight.
void load_block8(int dtype, uint e8, uint scales, out vec4 lo, out vec4 hi) {
    uint qk = block_elements(dtype), blk = e8 / qk, j = e8 % qk;
    Quant r = block_quant(dtype, blk, j, scales);
    float q[8];
    q[0] = r.q;
    uint base = blk * block_stride(dtype);
    for (uint i = 1u; i < 8u; i++) {
        uint jj = j + i;
        if (dtype == HAM_Q8_0) {
            q[i] = float(int(wbyte(base + jj) << 24) >> 24);
        } else if (dtype == HAM_Q4_0 || dtype == HAM_Q4_1) {
            uint b = wbyte(base + (dtype == HAM_Q4_1 ? 4u : 0u) + (jj & 15u));
            q[i] = float(jj < 16u ? b & 15u : b >> 4) - (dtype == HAM_Q4_0 ? 8.0 : 0.0);
        } else if (dtype == HAM_Q5_0 || dtype == HAM_Q5_1) {
            q[i] = float(q5_quant(dtype, base, jj)) - (dtype == HAM_Q5_0 ? 16.0 : 0.0);
        } else if (dtype == HAM_Q4_K || dtype == HAM_Q5_K) {
            uint sub = jj / 32u, l = jj % 32u;
            uint qs = base + (dtype == HAM_Q4_K ? 16u : 48u) + 32u * (sub / 2u) + l;
            uint v = (sub & 1u) == 0u ? wbyte(qs) & 15u : wbyte(qs) >> 4;
            if (dtype == HAM_Q5_K) v |= ((wbyte(base + 16u + l) >> sub) & 1u) << 4;
            q[i] = float(v);
        } else {
            uint h = jj / 128u, c = (jj % 128u) / 32u, l = jj % 32u;
            uint b = wbyte(base + 64u * h + 32u * (c & 1u) + l);
            uint v = (c < 2u ? b & 15u : b >> 4) | (((wbyte(base + 128u + 32u * h + l) >> (2u * c)) & 3u) << 4);
            q[i] = float(int(v) - 32);
        }
    }
    lo = r.factor * vec4(q[0], q[1], q[2], q[3]) - r.minimum;
    hi = r.factor * vec4(q[4], q[5], q[6], q[7]) - r.minimum;
}
