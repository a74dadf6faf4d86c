// Speed of hamrun's CPU product kernels (ham_gemv: decode and micro steps) per weight dtype, on
// weights far larger than the caches, so the numbers say whether a kernel streams at the memory
// bandwidth or is bound by its arithmetic. Built and run by Tools/bench/kernels.sh with the
// package's own kernel sources and flags.
//
//   kernel_bench [threads=2] [megabytes=512] [rounds=5] [level=best] [types=all] [rows=1,2,5,8] [in=2048]
//
// Prints one line per (dtype, rows of x): the best and median time of one pass over all the
// weights and the GB/s of weight bytes that makes. Rounds alternate the dtypes (A B C A B C ...)
// so that a slower phase of a shared host hits them all alike.
#define _GNU_SOURCE
#include "hamkernels.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct {
    const char *name;
    int dtype;
    int half_offsets[2];   // where the f16 scales are (-1: none); set to a sane value
} Type;

static const Type types[] = {
    {"f32", HAM_F32, {-1, -1}}, {"f16", HAM_F16, {-1, -1}}, {"bf16", HAM_BF16, {-1, -1}},
    {"q8_0", HAM_Q8_0, {0, -1}}, {"q6_k", HAM_Q6_K, {208, -1}}, {"q5_k", HAM_Q5_K, {0, 2}},
    {"q4_k", HAM_Q4_K, {0, 2}}, {"q4_1", HAM_Q4_1, {0, 2}}, {"q4_0", HAM_Q4_0, {0, -1}},
    {"q5_0", HAM_Q5_0, {0, -1}}, {"q5_1", HAM_Q5_1, {0, 2}},
};

typedef struct {
    const float *x;
    size_t n, in, rows;
    const char *w;
    int dtype;
    float *out;
    size_t o_begin, o_end;
    pthread_barrier_t *start, *done;
    volatile int *stop;
} Job;

static void *worker(void *arg) {
    Job *job = arg;
    for (;;) {
        pthread_barrier_wait(job->start);
        if (*job->stop) return NULL;
        ham_gemv(job->x, job->n, job->in, job->w, job->dtype, job->o_begin, job->o_end, NULL, job->out, job->rows, 0);
        pthread_barrier_wait(job->done);
    }
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    size_t megabytes = argc > 2 ? (size_t)atol(argv[2]) : 512;
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    if (argc > 4 && strcmp(argv[4], "best") != 0) ham_set_kernel_level(argv[4]);
    const char *only = argc > 5 && strcmp(argv[5], "all") != 0 ? argv[5] : NULL;
    const char *row_list = argc > 6 ? argv[6] : "1,2,5,8";
    int row_counts[16], nrows = 0;
    for (const char *p = row_list; *p && nrows < 16;) {
        row_counts[nrows++] = atoi(p);
        while (*p && *p != ',') p++;
        if (*p == ',') p++;
    }
    // Default: the 1B model's hidden size, most of its products (its FFN down projection: 5632).
    const size_t in = argc > 7 ? (size_t)atol(argv[7]) : 2048;
    int ntypes = 0;
    const Type *chosen[16];
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
        if (!only || strstr(only, types[t].name)) chosen[ntypes++] = &types[t];

    // One weight matrix per dtype, `megabytes` each, random bytes with small f16 scales.
    char *weights[16];
    size_t rows_of[16];
    srand(1);
    for (int t = 0; t < ntypes; t++) {
        size_t row_bytes = ham_row_bytes(chosen[t]->dtype, in);
        rows_of[t] = megabytes * 1000000 / row_bytes;
        size_t bytes = rows_of[t] * row_bytes;
        weights[t] = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        madvise(weights[t], bytes, MADV_HUGEPAGE);
        uint32_t s = 12345u + (uint32_t)t;
        for (size_t i = 0; i < bytes; i++) {
            s = s * 1664525u + 1013904223u;
            weights[t][i] = (char)(s >> 24);
        }
        size_t block = ham_block_bytes(chosen[t]->dtype), count = bytes / block;
        if (chosen[t]->dtype == HAM_F16 || chosen[t]->dtype == HAM_BF16) {
            for (size_t i = 0; i < bytes; i += 2) weights[t][i + 1] &= 0x3b;   // finite, |x| < 1
        } else if (chosen[t]->dtype == HAM_F32) {
            for (size_t i = 0; i < bytes; i += 4) weights[t][i + 3] &= 0x3b;
        }
        for (size_t b = 0; b < count; b++)
            for (int h = 0; h < 2; h++)
                if (chosen[t]->half_offsets[h] >= 0) {
                    uint16_t scale = 0x2000;   // 2^-7
                    memcpy(weights[t] + b * block + chosen[t]->half_offsets[h], &scale, 2);
                }
    }
    float *x = malloc(16 * in * sizeof(float));
    for (size_t i = 0; i < 16 * in; i++) x[i] = (float)((int)(i * 7919 % 1000) - 500) / 500.0f;
    size_t max_rows = 0;
    for (int t = 0; t < ntypes; t++) max_rows = rows_of[t] > max_rows ? rows_of[t] : max_rows;
    float *out = malloc(16 * max_rows * sizeof(float));

    pthread_barrier_t start, done;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&done, NULL, (unsigned)threads + 1);
    volatile int stop = 0;
    Job jobs[64];
    pthread_t tids[64];
    for (int i = 0; i < threads; i++) {
        jobs[i] = (Job){.start = &start, .done = &done, .stop = &stop};
        pthread_create(&tids[i], NULL, worker, &jobs[i]);
    }

    double times[16][16][64];
    for (int round = -1; round < rounds; round++) {   // round -1 warms up (pages, caches)
        for (int t = 0; t < ntypes; t++) {
            for (int r = 0; r < nrows; r++) {
                size_t n = (size_t)row_counts[r];
                for (int i = 0; i < threads; i++) {
                    jobs[i].x = x; jobs[i].n = n; jobs[i].in = in; jobs[i].rows = rows_of[t];
                    jobs[i].w = weights[t]; jobs[i].dtype = chosen[t]->dtype; jobs[i].out = out;
                    jobs[i].o_begin = rows_of[t] * (size_t)i / (size_t)threads;
                    jobs[i].o_end = rows_of[t] * (size_t)(i + 1) / (size_t)threads;
                }
                double t0 = now();
                pthread_barrier_wait(&start);
                pthread_barrier_wait(&done);
                if (round >= 0) times[t][r][round] = now() - t0;
            }
        }
    }
    stop = 1;
    pthread_barrier_wait(&start);
    for (int i = 0; i < threads; i++) pthread_join(tids[i], NULL);

    printf("level %s, %d threads, %zu MB of weights per dtype, in %zu, %d rounds\n", ham_kernel_level(), threads, megabytes, in, rounds);
    printf("%-6s %5s %10s %10s %9s %9s %11s\n", "dtype", "rows", "best ms", "median ms", "GB/s", "med GB/s", "Gweights/s");
    for (int t = 0; t < ntypes; t++) {
        size_t bytes = rows_of[t] * ham_row_bytes(chosen[t]->dtype, in);
        for (int r = 0; r < nrows; r++) {
            qsort(times[t][r], (size_t)rounds, sizeof(double), cmp);
            double best = times[t][r][0], median = times[t][r][rounds / 2];
            printf("%-6s %5d %10.2f %10.2f %9.1f %9.1f %11.2f\n", chosen[t]->name, row_counts[r], best * 1e3, median * 1e3,
                   bytes / best / 1e9, bytes / median / 1e9, rows_of[t] * in / best / 1e9);
        }
    }
    return 0;
}
