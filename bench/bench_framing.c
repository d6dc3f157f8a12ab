/* C throughput of fix_scan over a file held in memory; run by bench/bench_framing.py.
 *
 * usage: bench_framing FILE [REPEATS] [MIN_SECONDS]
 * Each repeat scans the whole buffer again and again (batches of 4096 messages, resuming at
 * `consumed`, as a reader would) for at least MIN_SECONDS, and rates messages per second.
 * Prints one line: messages per pass, then the median, min and max rate over the repeats.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "framing.h"

#define MSG_CAP 4096
#define FIELD_CAP (MSG_CAP * 64)

static struct fix_msg msgs[MSG_CAP];
static struct fix_field fields[FIELD_CAP];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One pass over the buffer; returns the OK messages seen (so the work cannot be skipped). */
static uint64_t pass(const uint8_t *buf, size_t len) {
    struct fix_scan s = {
        .msgs = msgs, .msg_cap = MSG_CAP, .fields = fields, .field_cap = FIELD_CAP,
        .flags = FIX_SCAN_FINAL,
    };
    uint64_t ok = 0;
    size_t pos = 0;
    for (;;) {
        int n = fix_scan(buf, len, pos, &s);
        if (n < 0) {
            fprintf(stderr, "fix_scan failed: %d\n", n);
            exit(1);
        }
        for (int i = 0; i < n; i++) ok += msgs[i].status == FIX_FRAME_OK;
        pos = s.consumed;
        if (s.stop == FIX_STOP_END || s.stop == FIX_STOP_INCOMPLETE) return ok;
    }
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [REPEATS] [MIN_SECONDS]\n", argv[0]);
        return 2;
    }
    int repeats = argc > 2 ? atoi(argv[2]) : 7;
    double min_seconds = argc > 3 ? atof(argv[3]) : 0.3;
    if (repeats < 1 || repeats > 100) repeats = 7;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)size + 1);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) return 2;
    fclose(f);

    uint64_t per_pass = pass(buf, (size_t)size);
    double rates[100];
    for (int r = 0; r < repeats; r++) {
        uint64_t msgs = 0;
        double t0 = now(), t;
        do {
            msgs += pass(buf, (size_t)size);
            t = now();
        } while (t - t0 < min_seconds);
        rates[r] = (double)msgs / (t - t0);
    }
    qsort(rates, (size_t)repeats, sizeof rates[0], by_value);
    printf("%llu %.0f %.0f %.0f\n", (unsigned long long)per_pass, rates[repeats / 2], rates[0],
           rates[repeats - 1]);
    free(buf);
    return 0;
}
