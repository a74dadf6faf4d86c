#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// out[i, :] = table[ids[i], :], decoded from the table's dtype (block types bit-identically to
// gguf-py). A table too large for one
// binding is split into row ranges, one dispatch each: ids outside [rowStart, rowEnd) are left
// to the dispatch of the range that holds them (and ids outside every range write nothing).

layout(local_size_x = BLOCK) in;
layout(constant_id = 0) const int TTYPE = HAM_F32;

layout(binding = 0) readonly buffer Table { uint table[]; };
layout(binding = 1) readonly buffer Ids { int ids[]; };
layout(binding = 2) writeonly buffer Out { float o[]; };

#define WEIGHTS table
#include "blocks.glsl"

layout(push_constant) uniform Params {
    uint count;         // ids
    uint cols;
    uint tableOffset;   // element of row rowStart in this binding
    uint rowStart;
    uint rowEnd;
    uint idsOffset;
    uint outOffset;
    uint outStride;
    uint tableScales;   // Q8_0, Q4_0, Q6_K: halfword of the binding's first block scale
} p;

void main() {
    uint index = GROUP_INDEX * BLOCK + gl_LocalInvocationID.x;
    if (index >= p.count * p.cols) return;
    uint i = index / p.cols, c = index % p.cols;
    int id = ids[p.idsOffset + i];
    if (id < int(p.rowStart) || id >= int(p.rowEnd)) return;
    o[p.outOffset + i * p.outStride + c] = load_weight(p.tableOffset + (uint(id) - p.rowStart) * p.cols + c, TTYPE, p.tableScales);
}
