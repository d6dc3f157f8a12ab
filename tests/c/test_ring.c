/* Unit tests for csrc/ring.c, including a producer and a consumer thread; run under ASan/UBSan
 * by tests/test_c_sanitized.py (and under TSan by tests/test_ring.py when it can). */
#define _POSIX_C_SOURCE 200809L /* sched_yield */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

static int failures = 0;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

static void test_new_rejects_bad_capacity(void) {
    CHECK(spsc_ring_new(0) == NULL);
    CHECK(spsc_ring_new(4) == NULL);
    CHECK(spsc_ring_new(100) == NULL);
    CHECK(spsc_ring_new((size_t)SPSC_MAX_CAPACITY * 2) == NULL);
    spsc_ring *r = spsc_ring_new(8);
    CHECK(r && spsc_ring_capacity(r) == 8 && spsc_ring_max_record(r) == 4);
    spsc_ring_free(r);
    spsc_ring_free(NULL);
}

static void test_order_full_empty_too_big(void) {
    spsc_ring *r = spsc_ring_new(64);
    char out[64];
    CHECK(spsc_ring_pop(r, out, sizeof out) == CORE_ERR_EMPTY);
    CHECK(spsc_ring_next_size(r) == CORE_ERR_EMPTY);
    CHECK(spsc_ring_push(r, "x", 61) == CORE_ERR_TOO_BIG);
    CHECK(spsc_ring_push(r, "abc", 3) == CORE_OK);     /* 8 bytes */
    CHECK(spsc_ring_push(r, "", 0) == CORE_OK);        /* 4 bytes */
    CHECK(spsc_ring_push(r, "hello", 5) == CORE_OK);   /* 12 bytes */
    CHECK(spsc_ring_used(r) == 24);
    char big[40];
    memset(big, 'z', sizeof big);
    CHECK(spsc_ring_push(r, big, 37) == CORE_ERR_FULL); /* needs 44, 40 free */
    CHECK(spsc_ring_push(r, big, 36) == CORE_OK);       /* exactly fills */
    CHECK(spsc_ring_used(r) == 64);
    CHECK(spsc_ring_push(r, "", 0) == CORE_ERR_FULL);
    CHECK(spsc_ring_next_size(r) == 3);
    CHECK(spsc_ring_pop(r, out, 2) == CORE_ERR_TOO_BIG); /* stays */
    CHECK(spsc_ring_pop(r, out, sizeof out) == 3 && memcmp(out, "abc", 3) == 0);
    CHECK(spsc_ring_pop(r, NULL, 0) == 0);
    CHECK(spsc_ring_pop(r, out, sizeof out) == 5 && memcmp(out, "hello", 5) == 0);
    CHECK(spsc_ring_pop(r, out, sizeof out) == 36 && memcmp(out, big, 36) == 0);
    CHECK(spsc_ring_pop(r, out, sizeof out) == CORE_ERR_EMPTY);
    CHECK(spsc_ring_used(r) == 0);
    /* The largest record fits an empty ring wherever the indices are: here at offset 8, so
     * its payload wraps. */
    CHECK(spsc_ring_push(r, "abc", 3) == CORE_OK);
    CHECK(spsc_ring_pop(r, out, sizeof out) == 3);
    char max[60];
    for (int i = 0; i < 60; i++) max[i] = (char)i;
    CHECK(spsc_ring_push(r, max, 60) == CORE_OK);
    CHECK(spsc_ring_pop(r, out, sizeof out) == 60 && memcmp(out, max, 60) == 0);
    spsc_ring_free(r);
}

/* Records of every size from every start offset come back intact across the wrap. */
static void test_wraparound(void) {
    spsc_ring *r = spsc_ring_new(32);
    uint8_t in[28], out[28];
    unsigned seed = 1;
    for (int round = 0; round < 500; round++) {
        size_t len = (size_t)(round * 7) % 29; /* 0..28 */
        for (size_t i = 0; i < len; i++) in[i] = (uint8_t)(seed = seed * 1103515245u + 12345u);
        CHECK(spsc_ring_push(r, in, len) == CORE_OK);
        CHECK(spsc_ring_pop(r, out, sizeof out) == (int64_t)len);
        CHECK(memcmp(in, out, len) == 0);
    }
    spsc_ring_free(r);
}

static void test_batches(void) {
    spsc_ring *r = spsc_ring_new(64);
    const char *data = "aabbbcccc";
    uint32_t lens[] = {2, 3, 4, 0};
    CHECK(spsc_ring_push_batch(r, data, lens, 0) == 0);
    CHECK(spsc_ring_push_batch(r, data, lens, 4) == 4); /* 8 + 8 + 8 + 4 = 28 bytes */
    uint32_t big_lens[] = {20, 20};
    char big[40];
    memset(big, 'q', sizeof big);
    CHECK(spsc_ring_push_batch(r, big, big_lens, 2) == 1); /* 24 fits, the second does not */
    CHECK(spsc_ring_push_batch(r, big + 20, big_lens, 1) == CORE_ERR_FULL);
    uint32_t huge[] = {61};
    CHECK(spsc_ring_push_batch(r, big, huge, 1) == CORE_ERR_TOO_BIG);

    char out[64];
    uint32_t got[8];
    size_t bytes = 99;
    CHECK(spsc_ring_pop_batch(r, out, sizeof out, got, 0, &bytes) == 0 && bytes == 0);
    CHECK(spsc_ring_pop_batch(r, out, 1, got, 8, &bytes) == CORE_ERR_TOO_BIG);
    CHECK(spsc_ring_pop_batch(r, out, 5, got, 8, &bytes) == 2 && bytes == 5);
    CHECK(got[0] == 2 && got[1] == 3 && memcmp(out, "aabbb", 5) == 0);
    CHECK(spsc_ring_pop_batch(r, out, sizeof out, got, 2, &bytes) == 2 && bytes == 4);
    CHECK(got[0] == 4 && got[1] == 0 && memcmp(out, "cccc", 4) == 0);
    CHECK(spsc_ring_pop_batch(r, out, sizeof out, got, 8, NULL) == 1 && got[0] == 20);
    CHECK(spsc_ring_pop_batch(r, out, sizeof out, got, 8, &bytes) == CORE_ERR_EMPTY);
    CHECK(bytes == 0);
    /* Zero-length records need no data pointer. */
    uint32_t zeros[] = {0, 0, 0};
    CHECK(spsc_ring_push_batch(r, NULL, zeros, 3) == 3);
    CHECK(spsc_ring_pop_batch(r, NULL, 0, got, 8, &bytes) == 3 && bytes == 0);
    spsc_ring_free(r);
}

/* Two threads: the producer sends N records whose size and bytes follow from their sequence
 * number; the consumer checks each arrives once, in order, intact. */
#ifndef THREAD_RECORDS
#define THREAD_RECORDS 400000
#endif

struct thread_args {
    spsc_ring *ring;
    int batched;
    long errors;
};

static size_t record_len(uint32_t seq) { return 4 + seq % 29; }

static void fill_record(uint32_t seq, uint8_t *out) {
    size_t len = record_len(seq);
    memcpy(out, &seq, 4);
    for (size_t i = 4; i < len; i++) out[i] = (uint8_t)(seq * 31u + i);
}

static void *producer(void *p) {
    struct thread_args *a = p;
    uint8_t buf[64 * 40];
    uint32_t lens[64];
    uint32_t seq = 0;
    while (seq < THREAD_RECORDS) {
        if (!a->batched) {
            fill_record(seq, buf);
            int rc = spsc_ring_push(a->ring, buf, record_len(seq));
            if (rc == CORE_OK) seq++;
            else if (rc == CORE_ERR_FULL) sched_yield(); /* two cores: let the consumer run */
            else a->errors++;
            continue;
        }
        size_t n = 0, off = 0;
        for (uint32_t s = seq; s < THREAD_RECORDS && n < 64; s++, n++) {
            fill_record(s, buf + off);
            lens[n] = (uint32_t)record_len(s);
            off += lens[n];
        }
        int64_t rc = spsc_ring_push_batch(a->ring, buf, lens, n);
        if (rc > 0) seq += (uint32_t)rc;
        else if (rc == CORE_ERR_FULL) sched_yield();
        else a->errors++;
    }
    return NULL;
}

static void *consumer(void *p) {
    struct thread_args *a = p;
    uint8_t buf[64 * 40], want[40];
    uint32_t lens[64];
    uint32_t seq = 0;
    while (seq < THREAD_RECORDS) {
        if (!a->batched) {
            int64_t n = spsc_ring_pop(a->ring, buf, sizeof buf);
            if (n == CORE_ERR_EMPTY) {
                sched_yield();
                continue;
            }
            fill_record(seq, want);
            if (n != (int64_t)record_len(seq) || memcmp(buf, want, (size_t)n) != 0) a->errors++;
            seq++;
            continue;
        }
        size_t bytes = 0;
        int64_t n = spsc_ring_pop_batch(a->ring, buf, sizeof buf, lens, 64, &bytes);
        if (n == CORE_ERR_EMPTY) {
            sched_yield();
            continue;
        }
        if (n < 0) {
            a->errors++;
            continue;
        }
        size_t off = 0;
        for (int64_t i = 0; i < n; i++, seq++) {
            fill_record(seq, want);
            if (lens[i] != record_len(seq) || memcmp(buf + off, want, lens[i]) != 0) a->errors++;
            off += lens[i];
        }
        if (off != bytes) a->errors++;
    }
    return NULL;
}

static void test_two_threads(int batched) {
    /* A small ring so the producer often finds it full and the indices wrap many times. */
    spsc_ring *r = spsc_ring_new(1024);
    struct thread_args pa = {r, batched, 0}, ca = {r, batched, 0};
    pthread_t pt, ct;
    CHECK(pthread_create(&ct, NULL, consumer, &ca) == 0);
    CHECK(pthread_create(&pt, NULL, producer, &pa) == 0);
    pthread_join(pt, NULL);
    pthread_join(ct, NULL);
    CHECK(pa.errors == 0);
    CHECK(ca.errors == 0);
    CHECK(spsc_ring_used(r) == 0);
    spsc_ring_free(r);
}

int main(void) {
    test_new_rejects_bad_capacity();
    test_order_full_empty_too_big();
    test_wraparound();
    test_batches();
    test_two_threads(0);
    test_two_threads(1);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("ring: all checks passed\n");
    return 0;
}
