/* cpu.c: CPU feature checks and the list of SIMD kernel tables.
 *
 * GCC's and clang's __builtin_cpu_supports read cpuid once at start-up and
 * also check XCR0 (that the OS saves the YMM/ZMM state), which is what "may we
 * execute it" means.
 */
#include "cpu.h"

#include "kernels.h"

#if MNET_SIMD_X86 /* set by meson when kernels_x86.c is built */

int mnet_cpu_avx2(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

int mnet_cpu_avx512(void)
{
    return mnet_cpu_avx2() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq");
}

int mnet_cpu_avx512vnni(void)
{
    return mnet_cpu_avx512() && __builtin_cpu_supports("avx512vnni");
}

int mnet_cpu_kernel_tables(const struct mnet_kernel_ops **tables, int max)
{
    int n = 0;
    if (mnet_cpu_avx512vnni() && n < max)
        tables[n++] = &mnet_kernels_avx512vnni;
    if (mnet_cpu_avx512() && n < max)
        tables[n++] = &mnet_kernels_avx512;
    if (mnet_cpu_avx2() && n < max)
        tables[n++] = &mnet_kernels_avx2;
    return n;
}

#else

int mnet_cpu_avx2(void) { return 0; }
int mnet_cpu_avx512(void) { return 0; }
int mnet_cpu_avx512vnni(void) { return 0; }

int mnet_cpu_kernel_tables(const struct mnet_kernel_ops **tables, int max)
{
    (void)tables;
    (void)max;
    return 0;
}

#endif
