/* check.h: the CHECK macro and file reading shared by the C unit tests
 * (and the benchmark programs beside them, which read files only).
 *
 * Include it once per test program: the counters are static.  A failed
 * CHECK prints file:line, the condition and a printf-style reason to stderr
 * and the test goes on, so one run reports every failure; main() ends with
 * `return check_summary();`.  check_quiet != 0 counts failures without
 * printing them (for self-tests of a checker that expect it to fail).
 * Single-threaded use only: the counters are plain ints. */
#ifndef MNETD_TESTS_CHECK_H
#define MNETD_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int failures, checks;
static int check_quiet __attribute__((unused)); /* read by CHECK only */

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        checks++;                                                                          \
        if (!(cond)) {                                                                     \
            failures++;                                                                    \
            if (check_quiet)                                                               \
                break;                                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
        }                                                                                  \
    } while (0)

/* "N checks, N failures" on stdout; the process exit code. */
static inline int check_summary(void)
{
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}

/* The whole file at path, NUL-terminated (one byte past *len), or NULL
 * (*len untouched); free() it. */
static inline void *check_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
        if (fread(buf, 1, (size_t)n, f) == (size_t)n) {
            buf[n] = 0;
            *len = (size_t)n;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

/* The calling thread's CPU time in ms: the benchmark programs' clock (a
 * machine shared with other work inflates it less than wall time). */
static inline double cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

#endif
