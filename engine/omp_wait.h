/* omp_wait.h: how long idle OpenMP threads spin, for the engine's programs
 * (mnet-bench and mobilenetd call this first thing in main).  Not part of the
 * library's API (mnet.h): it re-execs the process, which only a program's
 * main may decide.
 *
 * libgomp reads its wait settings once, when it is loaded (before main), so
 * the only way to choose them from inside is to set the variable and re-exec.
 * Measured on this 2-core machine (docs/BENCHMARKS.md, "Threads under load"):
 *   - libgomp's default spin (300,000 spins) and ACTIVE: a thread that waits
 *     at the end of a parallel region spins for milliseconds; when another
 *     process holds one of the cores, the partner it waits for is not running
 *     and 2-thread runs collapse (tens to hundreds of ms per image), and the
 *     spins steal the CPU that mobilenetd's HTTP threads need;
 *   - PASSIVE (no spin): no collapse, but every one of the ~60 parallel
 *     regions per inference pays a futex wake-up, so on a quiet machine v2 at
 *     batch 1 ran slower with 2 threads than with 1;
 *   - a bounded spin of MNET_OMP_SPINCOUNT covers the short gaps between the
 *     regions of one inference and gives the core up soon after.
 * The operator's OMP_WAIT_POLICY or GOMP_SPINCOUNT always wins. */
#ifndef MNET_OMP_WAIT_H
#define MNET_OMP_WAIT_H

#include <stdlib.h>
#include <unistd.h>

#define MNET_OMP_SPINCOUNT "1000"

/* Sets GOMP_SPINCOUNT=MNET_OMP_SPINCOUNT and re-execs the running binary
 * with the same argv, unless a wait setting is already in the environment.
 * Call before any thread, socket or OpenMP region exists.  Returns only when
 * nothing was changed (setting present, no /proc, exec failed). */
static inline void mnet_omp_bound_spin(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
        return;
    /* the binary's own path (a tool that virtualizes /proc/self/exe, like
     * valgrind, answers readlink with the client program) */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0 || (size_t)n >= sizeof(self) - 1)
        return; /* no /proc: run on with libgomp's default */
    self[n] = 0;
    if (setenv("GOMP_SPINCOUNT", MNET_OMP_SPINCOUNT, 1) != 0)
        return;
    execv(self, argv);
    unsetenv("GOMP_SPINCOUNT"); /* exec failed: nothing changed after all */
}

#endif
