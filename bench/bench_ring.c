/* C throughput of the SPSC ring between two threads; run by bench/bench_ring.py.
 *
 * usage: bench_ring RECORDS RECORD_SIZE BATCH REPEATS [CAPACITY]
 * A producer thread sends RECORDS records of RECORD_SIZE bytes (push, or push_batch of BATCH
 * records when BATCH > 1) and a consumer thread receives them (pop, or pop_batch), checking
 * each record's sequence number. Prints the median, min and max records per second.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, sched_yield */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ring.h"

#define MAX_BATCH 1024

static long records, record_size, batch;
static spsc_ring *ring;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Spin briefly, then give the core away: with two cores and other work on the machine a
 * pure spin can leave the other side waiting for a timeslice. */
static void backoff(unsigned *misses) {
    if (++*misses > 64) {
        *misses = 0;
        sched_yield();
    }
}

static void *producer(void *arg) {
    (void)arg;
    uint8_t *buf = calloc(MAX_BATCH, (size_t)record_size);
    uint32_t lens[MAX_BATCH];
    unsigned misses = 0;
    long seq = 0;
    if (!buf) abort();
    while (seq < records) {
        long n = batch > 1 ? batch : 1;
        if (n > records - seq) n = records - seq;
        for (long i = 0; i < n; i++) {
            uint64_t s = (uint64_t)(seq + i);
            memcpy(buf + i * record_size, &s, sizeof s);
            lens[i] = (uint32_t)record_size;
        }
        int64_t done = batch > 1 ? spsc_ring_push_batch(ring, buf, lens, (size_t)n)
                                 : (spsc_ring_push(ring, buf, (size_t)record_size) == CORE_OK);
        if (done > 0)
            seq += done;
        else
            backoff(&misses);
    }
    free(buf);
    return NULL;
}

static void *consumer(void *arg) {
    long *bad = arg;
    uint8_t *buf = calloc(MAX_BATCH, (size_t)record_size);
    uint32_t lens[MAX_BATCH];
    unsigned misses = 0;
    long seq = 0;
    if (!buf) abort();
    while (seq < records) {
        int64_t n;
        if (batch > 1) {
            n = spsc_ring_pop_batch(ring, buf, (size_t)(MAX_BATCH * record_size), lens,
                                    (size_t)batch, NULL);
        } else {
            n = spsc_ring_pop(ring, buf, (size_t)record_size) >= 0 ? 1 : 0;
        }
        if (n <= 0) {
            backoff(&misses);
            continue;
        }
        for (int64_t i = 0; i < n; i++, seq++) {
            uint64_t s;
            memcpy(&s, buf + i * record_size, sizeof s);
            *bad += s != (uint64_t)seq;
        }
    }
    free(buf);
    return NULL;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s RECORDS RECORD_SIZE BATCH REPEATS [CAPACITY]\n", argv[0]);
        return 2;
    }
    records = atol(argv[1]);
    record_size = atol(argv[2]);
    batch = atol(argv[3]);
    int repeats = atoi(argv[4]);
    size_t capacity = argc > 5 ? (size_t)atol(argv[5]) : 65536;
    if (record_size < 8 || batch < 1 || batch > MAX_BATCH || repeats < 1 || repeats > 100) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    double rates[100];
    for (int r = 0; r < repeats; r++) {
        ring = spsc_ring_new(capacity);
        if (!ring) return 2;
        long bad = 0;
        pthread_t p, c;
        double t0 = now();
        pthread_create(&c, NULL, consumer, &bad);
        pthread_create(&p, NULL, producer, NULL);
        pthread_join(p, NULL);
        pthread_join(c, NULL);
        rates[r] = (double)records / (now() - t0);
        spsc_ring_free(ring);
        if (bad) {
            fprintf(stderr, "%ld records out of order\n", bad);
            return 1;
        }
    }
    qsort(rates, (size_t)repeats, sizeof rates[0], by_value);
    printf("%.0f %.0f %.0f\n", rates[repeats / 2], rates[0], rates[repeats - 1]);
    return 0;
}
