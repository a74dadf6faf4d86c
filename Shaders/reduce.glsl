// Workgroup-wide reductions through shared memory (BLOCK is a power of two). Every invocation
// must call them (they hold barriers) and every invocation gets the result.

shared float reduction[BLOCK];

float workgroup_sum(float value) {
    uint t = gl_LocalInvocationID.x;
    reduction[t] = value;
    barrier();
    for (uint s = BLOCK / 2u; s > 0u; s >>= 1) {
        if (t < s) reduction[t] += reduction[t + s];
        barrier();
    }
    float result = reduction[0];
    // The next reduction must not overwrite the slot before everyone has read it.
    barrier();
    return result;
}

float workgroup_max(float value) {
    uint t = gl_LocalInvocationID.x;
    reduction[t] = value;
    barrier();
    for (uint s = BLOCK / 2u; s > 0u; s >>= 1) {
        if (t < s) reduction[t] = max(reduction[t], reduction[t + s]);
        barrier();
    }
    float result = reduction[0];
    barrier();
    return result;
}
