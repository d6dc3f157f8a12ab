/* Standalone driver for libFuzzer harnesses, so gcc builds can replay saved inputs.
 *
 * usage: driver [--mutations=N] FILE...
 * Each FILE is passed to LLVMFuzzerTestOneInput as is, then N times with a few bytes flipped,
 * inserted or cut by a fixed-seed generator, so runs are repeatable.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint8_t *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void mutate_and_run(const uint8_t *data, size_t size) {
    size_t cap = size + 16;
    uint8_t *copy = malloc(cap);
    if (!copy) abort();
    memcpy(copy, data, size);
    size_t n = size;
    unsigned edits = 1 + (unsigned)(next_random() % 4);
    for (unsigned e = 0; e < edits; e++) {
        uint64_t r = next_random();
        switch (r % 3) {
        case 0: /* flip a byte */
            if (n) copy[(r >> 8) % n] = (uint8_t)(r >> 32);
            break;
        case 1: /* insert a byte */
            if (n < cap) {
                size_t at = n ? (r >> 8) % (n + 1) : 0;
                memmove(copy + at + 1, copy + at, n - at);
                copy[at] = (uint8_t)(r >> 40);
                n++;
            }
            break;
        default: /* cut a byte */
            if (n) {
                size_t at = (r >> 8) % n;
                memmove(copy + at, copy + at + 1, n - at - 1);
                n--;
            }
        }
    }
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
}

int main(int argc, char **argv) {
    long mutations = 0;
    int files = 0;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--mutations=", 12) == 0) {
            mutations = strtol(argv[i] + 12, NULL, 10);
            continue;
        }
        size_t size = 0;
        uint8_t *data = read_file(argv[i], &size);
        if (!data) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            return 2;
        }
        LLVMFuzzerTestOneInput(data, size);
        for (long m = 0; m < mutations; m++) mutate_and_run(data, size);
        free(data);
        files++;
    }
    printf("ran %d inputs with %ld mutations each\n", files, mutations);
    return 0;
}
