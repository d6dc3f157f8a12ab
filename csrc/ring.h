/* Single-producer single-consumer ring of variable-length byte records.
 *
 * Exactly one thread may push (push, push_batch) and exactly one thread may pop (pop,
 * pop_batch, next_size) at a time; they may be different threads running at once, with no
 * lock. Everything else (new, free) must not overlap with any other call.
 *
 * Layout. The data area is capacity bytes, capacity a power of two (8 .. 2^30). A record is a
 * 4-byte native-endian length header followed by its payload, the pair padded to a
 * multiple of 4 bytes, so headers are 4-aligned and never split by the end of the area, while
 * payloads simply wrap around it (copied in two pieces). No space is lost to end-of-area
 * padding, so one record of up to capacity - 4 bytes always fits in an empty ring.
 *
 * Indices. head (next byte the producer writes) and tail (next byte the consumer reads) are
 * 64-bit byte counts that only grow (they would take centuries to wrap); used = head - tail.
 * The producer publishes head with a release store after copying the records, and the consumer
 * reads it with an acquire load before copying them out, so a consumer never sees a record
 * before its bytes; tail works the same way in the other direction, so the producer never
 * overwrites bytes the consumer is still copying. head and tail sit on separate cache lines,
 * each next to the owner's cached copy of the other index: the owner only re-reads the other
 * side's line when its cached copy says the ring looks full (producer) or empty (consumer).
 * Batch calls publish once per batch.
 */
#ifndef CORE_RING_H
#define CORE_RING_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* cffi:begin */
#define SPSC_MIN_CAPACITY 8
#define SPSC_MAX_CAPACITY 1073741824

typedef struct spsc_ring spsc_ring;

/* A ring with capacity data bytes (a power of two in [SPSC_MIN_CAPACITY, SPSC_MAX_CAPACITY]);
 * NULL if capacity is not allowed or memory is short. */
spsc_ring *spsc_ring_new(size_t capacity);
void spsc_ring_free(spsc_ring *ring);
size_t spsc_ring_capacity(const spsc_ring *ring);
/* Largest payload a single record may have: capacity - 4. */
size_t spsc_ring_max_record(const spsc_ring *ring);
/* Bytes in use (headers and padding included). Exact when called by the producer or consumer
 * with the other side idle; otherwise a snapshot that may be stale by the time it returns. */
size_t spsc_ring_used(const spsc_ring *ring);

/* Producer. Append one record of len bytes. CORE_OK, CORE_ERR_FULL (try again later) or
 * CORE_ERR_TOO_BIG (len > max_record: it will never fit). */
int spsc_ring_push(spsc_ring *ring, const void *data, size_t len);
/* Producer. Append records 0.. of n, record i being lens[i] bytes taken back to back from
 * data, in order, stopping at the first that does not fit. Returns how many were pushed: > 0
 * when n > 0 and any fitted; if none could be pushed, CORE_ERR_FULL, or CORE_ERR_TOO_BIG when
 * the first record can never fit; 0 when n == 0. */
int64_t spsc_ring_push_batch(spsc_ring *ring, const void *data, const uint32_t *lens, size_t n);

/* Consumer. Payload size of the next record, or CORE_ERR_EMPTY. */
int64_t spsc_ring_next_size(spsc_ring *ring);
/* Consumer. Remove the next record into dst (room for cap bytes) and return its size;
 * CORE_ERR_EMPTY, or CORE_ERR_TOO_BIG when the record is larger than cap (it stays). */
int64_t spsc_ring_pop(spsc_ring *ring, void *dst, size_t cap);
/* Consumer. Remove up to max_n records, in order, copying their payloads back to back into
 * dst (room for cap bytes) and their sizes into lens, stopping before the first that does not
 * fit in what is left of dst. Returns how many were popped: > 0 if any; if none, CORE_ERR_EMPTY,
 * or CORE_ERR_TOO_BIG when the next record is larger than cap; 0 when max_n == 0.
 * *bytes (if not NULL) receives the payload bytes written. */
int64_t spsc_ring_pop_batch(spsc_ring *ring, void *dst, size_t cap, uint32_t *lens,
                            size_t max_n, size_t *bytes);
/* cffi:end */

#endif
