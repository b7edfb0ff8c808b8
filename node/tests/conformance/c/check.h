/* What the C conformance programs share: a check that prints `ok NAME` or
 * `FAILED NAME: errno N`, and the exit status counting failures. */
#ifndef CHECK_H
#define CHECK_H

#include <errno.h>
#include <stdio.h>

static int failures = 0;

/* Prints the outcome of one check: `cond` true is a pass. */
static void check(const char *name, int cond) {
    if (cond) {
        printf("ok %s\n", name);
    } else {
        printf("FAILED %s: errno %d\n", name, errno);
        failures++;
    }
}

/* `result` is -1 and errno is `want`. */
static int fails_with(long result, int want) {
    return result == -1 && errno == want;
}

#endif
