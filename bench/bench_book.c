/* Order book benchmark in C: throughput, per-op latency and memory of csrc/book.c.
 *
 * usage: bench_book [--ops N] [--reps R] [--lobster MESSAGE_CSV]
 *                   [--dump-synthetic FILE] [--dump-lobster FILE]
 * Normally run through bench/bench_book.py, which compiles this with -O3 (no sanitizers) and
 * then runs the same op streams (the --dump files, raw lob_op records) through Python.
 *
 * Workloads:
 *  - synthetic: a two-sided book of about 20k resting orders, most activity near the touch:
 *    ~55-70% new DAY limit orders a geometric number of ticks behind the best price,
 *    25-40% cancels of live orders (more when the book is above its target size), 5%
 *    replaces, 10% marketable orders (market, or IOC limit through the touch). The stream
 *    is generated against a scratch book so cancels and replaces name orders that are alive
 *    at that point; the timed runs then replay it on fresh books.
 *  - lobster: a LOBSTER message file, types 1/2/3/4 -> ADD/REDUCE/DELETE/EXECUTE, 5/6/7
 *    skipped, starting from an empty book (so some ops name levels that do not exist yet
 *    and are rejected: counted, and part of the work).
 * Figures: batched = lob_apply over chunks of 1024 ops (median of R runs); per-op = each op
 * its own lob_apply call, timed alone with clock_gettime(CLOCK_MONOTONIC) (the timer's own
 * cost is printed and included in the percentiles).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "book.h"

#define CHUNK 1024

typedef struct {
    lob_op *v;
    size_t n, cap;
} opvec;

static void push(opvec *o, lob_op op) {
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 1 << 16;
        o->v = realloc(o->v, o->cap * sizeof *o->v);
        if (!o->v) {
            perror("realloc");
            exit(1);
        }
    }
    o->v[o->n++] = op;
}

static lob_op mk(int type, int64_t id, int side, int64_t price, int64_t qty, int tif) {
    lob_op op;
    memset(&op, 0, sizeof op);
    op.type = (uint8_t)type;
    op.id = id;
    op.side = (uint8_t)side;
    op.price = price;
    op.qty = qty;
    op.tif = (uint8_t)tif;
    return op;
}

static uint64_t rng_state = 0x853C49E6748FEA9Bull;
static uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}
static double urand(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }
static int64_t urange(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* ---------------------------------------------------------------- synthetic stream */

typedef struct {
    int64_t *ids;    /* live order ids, unordered */
    uint32_t *where; /* id -> index in ids + 1 (0 = not live); ids are < n + 1 */
    size_t n;
} live_set;

static void live_add(live_set *s, int64_t id) {
    s->ids[s->n] = id;
    s->where[id] = (uint32_t)++s->n;
}

static void live_remove(live_set *s, int64_t id) {
    uint32_t at = s->where[id];
    if (!at) return;
    int64_t last = s->ids[--s->n];
    s->ids[at - 1] = last;
    s->where[last] = at;
    s->where[id] = 0;
}

static void track(live_set *s, const lob_event *ev, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const lob_event *e = &ev[i];
        if (e->type == LOB_EV_REST && e->id > 0) live_add(s, e->id);
        else if (e->type == LOB_EV_TRADE && e->other > 0 && e->other_leaves == 0) live_remove(s, e->other);
        else if (e->type == LOB_EV_CANCEL && e->leaves == 0 && e->code == LOB_CXL_REQUESTED) live_remove(s, e->id);
        else if (e->type == LOB_EV_REPLACE && e->code == 0) live_remove(s, e->id); /* a REST follows if it rests */
    }
}

static int64_t behind(void) { return (int64_t)floor(-log(1.0 - urand()) * 4.0); }

static opvec gen_synthetic(size_t n) {
    enum { TARGET = 20000 };
    const int64_t mid = 1000000;
    opvec out = {0};
    lob_book *b = lob_new(1 << 20);
    live_set live = {malloc((n + 1) * sizeof(int64_t)), calloc(n + 2, sizeof(uint32_t)), 0};
    if (!b || !live.ids || !live.where) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    int64_t next_id = 1;
    size_t applied;
    for (size_t i = 0; i < n; i++) {
        int64_t q[4];
        lob_bbo(b, q);
        int64_t bid = q[1] ? q[0] : (q[3] ? q[2] - 1 : mid - 1);
        int64_t ask = q[3] ? q[2] : bid + 1;
        double r = urand(), p_cancel = live.n > TARGET ? 0.40 : 0.25;
        lob_op op;
        if (i < TARGET / 2) r = 1.0; /* start by building a book */
        if (r < p_cancel && live.n) {
            op = mk(LOB_OP_CANCEL, live.ids[rnd() % live.n], 0, 0, 0, 0);
        } else if (r < p_cancel + 0.05 && live.n) {
            int64_t id = live.ids[rnd() % live.n];
            lob_order_info info;
            lob_order(b, id, &info);
            if (urand() < 0.5 && info.qty > 1) /* size down: keeps queue position */
                op = mk(LOB_OP_REPLACE, id, 0, info.price, urange(1, info.qty - 1), 0);
            else { /* move one or two ticks, away or toward the touch */
                int64_t price = info.price + (urand() < 0.5 ? -1 : 1) * urange(1, 2);
                op = mk(LOB_OP_REPLACE, id, 0, price > 0 ? price : 1, urange(1, 100), 0);
            }
        } else if (r < p_cancel + 0.15) {
            int side = (int)(rnd() & 1);
            if (urand() < 0.4)
                op = mk(LOB_OP_MARKET, next_id++, side, 0, urange(1, 150), LOB_IOC);
            else {
                int64_t price = side == LOB_BUY ? ask + urange(0, 2) : bid - urange(0, 2);
                op = mk(LOB_OP_LIMIT, next_id++, side, price > 0 ? price : 1, urange(1, 250), LOB_IOC);
            }
        } else {
            int side = (int)(rnd() & 1);
            int64_t price;
            if (ask - bid > 1 && urand() < 0.1) /* improve the touch */
                price = side == LOB_BUY ? bid + 1 : ask - 1;
            else
                price = side == LOB_BUY ? bid - behind() : ask + behind();
            op = mk(LOB_OP_LIMIT, next_id++, side, price > 0 ? price : 1, urange(1, 100), LOB_DAY);
        }
        push(&out, op);
        int64_t k = lob_apply(b, &op, 1, &applied);
        track(&live, lob_events(b), k);
    }
    free(live.ids);
    free(live.where);
    lob_free(b);
    return out;
}

/* ---------------------------------------------------------------- LOBSTER stream */

static int load_lobster(const char *path, opvec *out) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        double t;
        int type, dir;
        long long id, size, price;
        if (sscanf(line, "%lf,%d,%lld,%lld,%lld,%d", &t, &type, &id, &size, &price, &dir) != 6) continue;
        static const int map[8] = {0, LOB_OP_ADD, LOB_OP_REDUCE, LOB_OP_DELETE, LOB_OP_EXECUTE, 0, 0, 0};
        if (type < 1 || type > 4) continue; /* 5 hidden execution, 6 cross, 7 halt */
        push(out, mk(map[type], id, dir == 1 ? LOB_BUY : LOB_SELL, price, size, 0));
    }
    fclose(f);
    return 0;
}

/* ---------------------------------------------------------------- measurements */

typedef struct {
    size_t ops;
    long events, trades, rejects;
    double batched_ops_s, single_ops_s;
    double p50, p99, p999, max, mean;
} result;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static result measure(const opvec *ops, int reps) {
    result r;
    memset(&r, 0, sizeof r);
    r.ops = ops->n;
    size_t applied;
    double *runs = malloc((size_t)reps * sizeof *runs);
    for (int rep = 0; rep < reps; rep++) {
        lob_book *b = lob_new(1 << 20);
        long events = 0, trades = 0, rejects = 0;
        double t0 = now_ns();
        for (size_t at = 0; at < ops->n; at += CHUNK) {
            size_t k = ops->n - at < CHUNK ? ops->n - at : CHUNK;
            int64_t n = lob_apply(b, ops->v + at, k, &applied);
            events += n;
            if (rep == 0) { /* counting costs time: once is enough */
                const lob_event *ev = lob_events(b);
                for (int64_t i = 0; i < n; i++) {
                    trades += ev[i].type == LOB_EV_TRADE;
                    rejects += ev[i].type == LOB_EV_REJECT;
                }
            }
        }
        runs[rep] = now_ns() - t0;
        if (rep == 0) {
            r.events = events;
            r.trades = trades;
            r.rejects = rejects;
        }
        lob_free(b);
    }
    qsort(runs, (size_t)reps, sizeof *runs, cmp_double);
    r.batched_ops_s = (double)ops->n / (runs[reps / 2] / 1e9);
    free(runs);

    double *lat = malloc(ops->n * sizeof *lat);
    lob_book *b = lob_new(1 << 20);
    double total = 0, t_all = now_ns();
    for (size_t i = 0; i < ops->n; i++) {
        double t0 = now_ns();
        lob_apply(b, &ops->v[i], 1, &applied);
        lat[i] = now_ns() - t0;
        total += lat[i];
    }
    r.single_ops_s = (double)ops->n / ((now_ns() - t_all) / 1e9);
    lob_free(b);
    qsort(lat, ops->n, sizeof *lat, cmp_double);
    r.p50 = lat[ops->n / 2];
    r.p99 = lat[(size_t)((double)ops->n * 0.99)];
    r.p999 = lat[(size_t)((double)ops->n * 0.999)];
    r.max = lat[ops->n - 1];
    r.mean = total / (double)ops->n;
    free(lat);
    return r;
}

static double timer_overhead_ns(void) {
    double d[1001];
    for (int i = 0; i < 1001; i++) {
        double t0 = now_ns();
        d[i] = now_ns() - t0;
    }
    qsort(d, 1001, sizeof *d, cmp_double);
    return d[500];
}

/* RSS of a book holding n resting orders over 2 x 2000 levels. */
static void measure_rss(size_t n) {
    long before = rss_kb();
    lob_book *b = lob_new(n);
    long empty = rss_kb();
    lob_op chunk[CHUNK];
    size_t applied;
    for (size_t at = 0; at < n; at += CHUNK) {
        size_t k = n - at < CHUNK ? n - at : CHUNK;
        for (size_t i = 0; i < k; i++) {
            int64_t id = (int64_t)(at + i + 1);
            int side = (int)(id & 1);
            int64_t price = side == LOB_BUY ? 100000 - id % 2000 : 100001 + id % 2000;
            chunk[i] = mk(LOB_OP_ADD, id, side, price, 1 + id % 100, 0);
        }
        lob_apply(b, chunk, k, &applied);
    }
    long full = rss_kb();
    printf("memory: %zu resting orders (2 x %zu levels): RSS %+.1f MB (%.0f bytes/order), "
           "process %.1f MB; an empty book of that capacity %+.1f MB\n",
           lob_order_count(b), lob_level_count(b, 0), (double)(full - before) / 1024.0,
           (double)(full - before) * 1024.0 / (double)n, (double)full / 1024.0,
           (double)(empty - before) / 1024.0);
    lob_free(b);
}

static void print_row(const char *name, result r) {
    printf("%-16s %9zu %9ld %8ld %8ld %9.2f %9.2f %7.0f %7.0f %8.0f %9.0f\n", name, r.ops, r.events,
           r.trades, r.rejects, r.batched_ops_s / 1e6, r.single_ops_s / 1e6, r.p50, r.p99, r.p999,
           r.max);
}

static void dump(const char *path, const opvec *ops) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(ops->v, sizeof *ops->v, ops->n, f) != ops->n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

int main(int argc, char **argv) {
    size_t n = 1000000;
    int reps = 5;
    const char *lobster = NULL, *dump_syn = NULL, *dump_lob = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--ops")) n = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--lobster")) lobster = argv[i + 1];
        else if (!strcmp(argv[i], "--dump-synthetic")) dump_syn = argv[i + 1];
        else if (!strcmp(argv[i], "--dump-lobster")) dump_lob = argv[i + 1];
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    measure_rss(1000000); /* first, so the process holds nothing else yet */

    opvec syn = gen_synthetic(n);
    long counts[9] = {0};
    for (size_t i = 0; i < syn.n; i++) counts[syn.v[i].type]++;
    printf("synthetic mix: %.1f%% limit, %.1f%% market, %.1f%% cancel, %.1f%% replace\n",
           100.0 * (double)counts[1] / (double)syn.n, 100.0 * (double)counts[2] / (double)syn.n,
           100.0 * (double)counts[3] / (double)syn.n, 100.0 * (double)counts[4] / (double)syn.n);
    if (dump_syn) dump(dump_syn, &syn);

    opvec lob = {0};
    int have_lobster = lobster && load_lobster(lobster, &lob) == 0 && lob.n > 0;
    if (lobster && !have_lobster) printf("note: %s not readable: LOBSTER row skipped\n", lobster);
    if (have_lobster && dump_lob) dump(dump_lob, &lob);

    printf("\n%-16s %9s %9s %8s %8s %9s %9s %7s %7s %8s %9s\n", "workload", "ops", "events",
           "trades", "rejects", "batch", "per-op", "p50", "p99", "p99.9", "max");
    printf("%-16s %9s %9s %8s %8s %9s %9s %7s %7s %8s %9s\n", "", "", "", "", "", "Mops/s",
           "Mops/s", "ns", "ns", "ns", "ns");
    print_row("synthetic", measure(&syn, reps));
    if (have_lobster) {
        /* a LOBSTER day is ~100k ops: more runs, so the median is of a similar total time */
        print_row("lobster (1 day)", measure(&lob, reps * 5));
    }
    printf("\nbatch = lob_apply over chunks of %d ops, median of %d runs; per-op = one lob_apply "
           "per op, each timed alone\n(clock_gettime overhead ~%.0f ns, included in the "
           "percentiles)\n",
           CHUNK, reps, timer_overhead_ns());
    free(syn.v);
    free(lob.v);
    return 0;
}
