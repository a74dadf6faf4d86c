// Streaming-read memory bandwidth: T pthreads each sum their slice of one big buffer.
//
//   gcc -O3 -march=native -pthread -o membw membw.c
//   ./membw [threads=2] [megabytes=2048] [repeats=7]
//
// Prints one JSON object: best / median GB/s (1e9 bytes per second) over the repeats.
// The buffer (2 MB aligned, transparent huge pages asked for: fewer TLB misses, ~20 % more
// bandwidth here) is touched first so page faults are not timed; integer adds vectorize without
// -ffast-math (AVX-512 with -march=native), so the loads, not the adds, are the bottleneck.
// This is the ceiling a decode step that streams every weight once can approach.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

typedef struct {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
    pthread_barrier_t *start;
} Job;

static void *reader(void *arg) {
    Job *job = arg;
    pthread_barrier_wait(job->start);
    const uint64_t *p = job->p;
    uint64_t s[8] = {0};
    size_t n = job->n & ~(size_t)7;
    for (size_t i = 0; i < n; i += 8)
        for (int k = 0; k < 8; k++) s[k] += p[i + k];
    job->sum = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
    return NULL;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    size_t mb = argc > 2 ? strtoull(argv[2], NULL, 10) : 2048;
    int repeats = argc > 3 ? atoi(argv[3]) : 7;
    if (threads < 1 || threads > 256 || mb < 1 || repeats < 1) {
        fprintf(stderr, "usage: membw [threads] [megabytes] [repeats]\n");
        return 2;
    }
    size_t bytes = mb << 20, words = bytes / 8;
    uint64_t *buf = aligned_alloc(2 << 20, bytes);
    if (!buf) { fprintf(stderr, "cannot allocate %zu MB\n", mb); return 1; }
    madvise(buf, bytes, MADV_HUGEPAGE);  /* a hint; fine if THP is off */
    for (size_t i = 0; i < words; i++) buf[i] = i;

    double *gbs = calloc(repeats, sizeof(double));
    uint64_t check = 0;
    pthread_t tid[256];
    Job jobs[256];
    for (int r = 0; r < repeats; r++) {
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, threads + 1);
        size_t per = words / threads;
        for (int t = 0; t < threads; t++) {
            jobs[t] = (Job){buf + per * t, t == threads - 1 ? words - per * t : per, 0, &start};
            pthread_create(&tid[t], NULL, reader, &jobs[t]);
        }
        double t0 = now();
        pthread_barrier_wait(&start);
        for (int t = 0; t < threads; t++) { pthread_join(tid[t], NULL); check += jobs[t].sum; }
        double dt = now() - t0;
        pthread_barrier_destroy(&start);
        gbs[r] = bytes / dt / 1e9;
    }
    double best = 0;
    for (int r = 0; r < repeats; r++) if (gbs[r] > best) best = gbs[r];
    qsort(gbs, repeats, sizeof(double), cmp);
    printf("{\"threads\": %d, \"megabytes\": %zu, \"repeats\": %d, \"best_gb_per_second\": %.3f, "
           "\"median_gb_per_second\": %.3f, \"checksum\": %llu}\n",
           threads, mb, repeats, best, gbs[repeats / 2], (unsigned long long)(check & 0xffff));
    free(gbs);
    free(buf);
    return 0;
}
