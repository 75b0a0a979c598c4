/* cpu.c: CPU feature checks and the list of SIMD kernel tables.
 *
 * GCC's and clang's __builtin_cpu_supports read cpuid once at start-up and
 * also check XCR0 (that the OS saves the YMM/ZMM state), which is what "may we
 * execute it" means.  On aarch64 Linux the kernel's AT_HWCAP bits say the same.
 */
#include "cpu.h"

#include "kernels.h"

#if MNET_SIMD_NEON
#include <sys/auxv.h>
#endif

#if MNET_SIMD_X86 /* set by meson when kernels_x86.c is built */
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

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

int mnet_cpu_avx512vbmi(void)
{
    return mnet_cpu_avx512() && __builtin_cpu_supports("avx512vbmi");
}

/* AVX-VNNI (the VEX vpdpbusd / vpdpwssd: Alder Lake and later without
 * AVX-512): cpuid leaf 7 subleaf 1, EAX bit 4; clang 14's
 * __builtin_cpu_supports does not know it.  The YMM state is avx2's. */
int mnet_cpu_avxvnni(void)
{
    unsigned a, b, c, d;
    return mnet_cpu_avx2() && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 4 & 1);
}

/* AMX-TILE and AMX-INT8 (cpuid leaf 7, EDX bits 24 and 25), the tile state
 * in XCR0 (bits 17 and 18), and Linux's permission to use it, which a
 * process must request once (arch_prctl ARCH_REQ_XCOMP_PERM, feature 18);
 * the answer is kept. */
int mnet_cpu_amx(void)
{
    static _Atomic int known = -1; /* racing first calls agree: the request is idempotent */
    if (known >= 0)
        return known;
    unsigned a, b, c, d, lo, hi;
    int ok = mnet_cpu_avx512vnni() && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 24 & 3) == 3;
    if (ok) {
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        ok = (lo >> 17 & 3) == 3 && syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18) == 0;
    }
    known = ok;
    return ok;
}

#else

int mnet_cpu_amx(void) { return 0; }
int mnet_cpu_avx2(void) { return 0; }
int mnet_cpu_avx512(void) { return 0; }
int mnet_cpu_avx512vnni(void) { return 0; }
int mnet_cpu_avx512vbmi(void) { return 0; }
int mnet_cpu_avxvnni(void) { return 0; }

#endif

#if MNET_SIMD_NEON /* set by meson when kernels_neon.c is built */

/* The kernel reports in AT_HWCAP what user space may execute. */
int mnet_cpu_neon(void)
{
    return (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0;
}

int mnet_cpu_neondot(void)
{
    return mnet_cpu_neon() && (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
}

#else

int mnet_cpu_neon(void) { return 0; }
int mnet_cpu_neondot(void) { return 0; }

#endif

int mnet_cpu_kernel_tables(const struct mnet_kernel_ops **tables, int max)
{
    int n = 0;
#if MNET_SIMD_X86
    if (mnet_cpu_amx() && n < max)
        tables[n++] = &mnet_kernels_amx;
    if (mnet_cpu_avx512vnni() && n < max)
        tables[n++] = &mnet_kernels_avx512vnni;
    if (mnet_cpu_avx512() && n < max)
        tables[n++] = &mnet_kernels_avx512;
    if (mnet_cpu_avxvnni() && n < max)
        tables[n++] = &mnet_kernels_avxvnni;
    if (mnet_cpu_avx2() && n < max)
        tables[n++] = &mnet_kernels_avx2;
#endif
#if MNET_SIMD_NEON
    if (mnet_cpu_neondot() && n < max)
        tables[n++] = &mnet_kernels_neondot;
    if (mnet_cpu_neon() && n < max)
        tables[n++] = &mnet_kernels_neon;
#endif
    (void)tables;
    (void)max;
    return n;
}
