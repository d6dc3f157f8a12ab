/* FAIL(...): a harness's finding, printf-style, with where it was made; then abort, so that
 * libFuzzer keeps the input (tests/fuzz/crashes/) and the regression replay fails. */
#ifndef FUZZ_FAIL_H
#define FUZZ_FAIL_H

#include <stdio.h>
#include <stdlib.h>

#define FAIL(...)                                          \
    do {                                                   \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);    \
        fprintf(stderr, __VA_ARGS__);                      \
        fprintf(stderr, "\n");                             \
        abort();                                           \
    } while (0)

#endif
