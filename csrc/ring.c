/* SPSC ring of variable-length records: see ring.h for the layout and the memory ordering. */
#include "ring.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Two cache lines, not one: Intel's adjacent-line prefetcher pulls lines in pairs, which
 * would make neighbouring 64-byte lines share traffic anyway. */
#define LINE 128
#define HEADER 4u

struct spsc_ring {
    alignas(LINE) _Atomic uint64_t head; /* written by the producer only */
    uint64_t cached_tail;                /* producer's last view of tail */
    alignas(LINE) _Atomic uint64_t tail; /* written by the consumer only */
    uint64_t cached_head;                /* consumer's last view of head */
    alignas(LINE) uint8_t *data;         /* the rest is read-only after spsc_ring_new */
    uint64_t mask;
    size_t capacity;
};

static inline size_t record_size(size_t len) { return (HEADER + len + 3u) & ~(size_t)3u; }

static void copy_in(spsc_ring *r, uint64_t pos, const uint8_t *src, size_t n) {
    if (n == 0) return;
    size_t off = (size_t)(pos & r->mask);
    size_t first = r->capacity - off;
    if (first > n) first = n;
    memcpy(r->data + off, src, first);
    if (n > first) memcpy(r->data, src + first, n - first);
}

static void copy_out(const spsc_ring *r, uint64_t pos, uint8_t *dst, size_t n) {
    if (n == 0) return;
    size_t off = (size_t)(pos & r->mask);
    size_t first = r->capacity - off;
    if (first > n) first = n;
    memcpy(dst, r->data + off, first);
    if (n > first) memcpy(dst + first, r->data, n - first);
}

/* Headers are 4-aligned and the capacity a multiple of 4, so a header never wraps. */
static inline void write_header(spsc_ring *r, uint64_t pos, uint32_t len) {
    memcpy(r->data + (pos & r->mask), &len, HEADER);
}

static inline uint32_t read_header(const spsc_ring *r, uint64_t pos) {
    uint32_t len;
    memcpy(&len, r->data + (pos & r->mask), HEADER);
    return len;
}

spsc_ring *spsc_ring_new(size_t capacity) {
    if (capacity < SPSC_MIN_CAPACITY || capacity > SPSC_MAX_CAPACITY ||
        (capacity & (capacity - 1)) != 0)
        return NULL;
    spsc_ring *r = aligned_alloc(LINE, sizeof *r);
    if (!r) return NULL;
    memset(r, 0, sizeof *r);
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    r->data = aligned_alloc(LINE, capacity < LINE ? LINE : capacity);
    if (!r->data) {
        free(r);
        return NULL;
    }
    r->capacity = capacity;
    r->mask = capacity - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return r;
}

void spsc_ring_free(spsc_ring *ring) {
    if (!ring) return;
    free(ring->data);
    free(ring);
}

size_t spsc_ring_capacity(const spsc_ring *ring) { return ring->capacity; }

size_t spsc_ring_max_record(const spsc_ring *ring) { return ring->capacity - HEADER; }

size_t spsc_ring_used(const spsc_ring *ring) {
    /* Read tail first: head only grows, so head - tail cannot underflow. */
    uint64_t tail = atomic_load_explicit(&((spsc_ring *)ring)->tail, memory_order_acquire);
    uint64_t head = atomic_load_explicit(&((spsc_ring *)ring)->head, memory_order_acquire);
    return (size_t)(head - tail);
}

/* Producer: is there room for need bytes at head? Re-reads tail only when the cached view says
 * no, which keeps the consumer's cache line out of the producer's fast path. */
static inline int has_room(spsc_ring *r, uint64_t head, size_t need) {
    if (r->capacity - (head - r->cached_tail) >= need) return 1;
    r->cached_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    return r->capacity - (head - r->cached_tail) >= need;
}

/* Consumer: is there a record at tail? */
static inline int has_record(spsc_ring *r, uint64_t tail) {
    if (r->cached_head != tail) return 1;
    r->cached_head = atomic_load_explicit(&r->head, memory_order_acquire);
    return r->cached_head != tail;
}

int spsc_ring_push(spsc_ring *ring, const void *data, size_t len) {
    if (len > ring->capacity - HEADER) return CORE_ERR_TOO_BIG;
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    size_t need = record_size(len);
    if (!has_room(ring, head, need)) return CORE_ERR_FULL;
    write_header(ring, head, (uint32_t)len);
    copy_in(ring, head + HEADER, data, len);
    atomic_store_explicit(&ring->head, head + need, memory_order_release);
    return CORE_OK;
}

int64_t spsc_ring_push_batch(spsc_ring *ring, const void *data, const uint32_t *lens, size_t n) {
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    uint64_t pos = head;
    const uint8_t *src = data;
    size_t i = 0;
    for (; i < n; i++) {
        size_t len = lens[i];
        if (len > ring->capacity - HEADER) break;
        size_t need = record_size(len);
        if (!has_room(ring, pos, need)) break;
        write_header(ring, pos, (uint32_t)len);
        if (len > 0) { /* NULL + 0 is undefined in C; data may be NULL when all lens are 0 */
            copy_in(ring, pos + HEADER, src, len);
            src += len;
        }
        pos += need;
    }
    if (i > 0) atomic_store_explicit(&ring->head, pos, memory_order_release);
    if (i > 0 || n == 0) return (int64_t)i;
    return lens[0] > ring->capacity - HEADER ? CORE_ERR_TOO_BIG : CORE_ERR_FULL;
}

int64_t spsc_ring_next_size(spsc_ring *ring) {
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    if (!has_record(ring, tail)) return CORE_ERR_EMPTY;
    return read_header(ring, tail);
}

int64_t spsc_ring_pop(spsc_ring *ring, void *dst, size_t cap) {
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    if (!has_record(ring, tail)) return CORE_ERR_EMPTY;
    uint32_t len = read_header(ring, tail);
    if (len > cap) return CORE_ERR_TOO_BIG;
    copy_out(ring, tail + HEADER, dst, len);
    atomic_store_explicit(&ring->tail, tail + record_size(len), memory_order_release);
    return len;
}

int64_t spsc_ring_pop_batch(spsc_ring *ring, void *dst, size_t cap, uint32_t *lens,
                            size_t max_n, size_t *bytes) {
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    uint64_t pos = tail;
    uint8_t *out = dst;
    size_t used = 0, i = 0;
    int empty = 0;
    for (; i < max_n; i++) {
        if (!has_record(ring, pos)) {
            empty = 1;
            break;
        }
        uint32_t len = read_header(ring, pos);
        if (len > cap - used) break;
        if (len > 0) copy_out(ring, pos + HEADER, out + used, len); /* dst may be NULL if cap is 0 */
        lens[i] = len;
        used += len;
        pos += record_size(len);
    }
    if (i > 0) atomic_store_explicit(&ring->tail, pos, memory_order_release);
    if (bytes) *bytes = used;
    if (i > 0 || max_n == 0) return (int64_t)i;
    return empty ? CORE_ERR_EMPTY : CORE_ERR_TOO_BIG;
}
