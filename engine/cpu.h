/* cpu.h: runtime CPU feature checks for kernel dispatch (internal).
 *
 * Answers "may this process execute instructions of family X" (the CPU has
 * them AND the OS saves the registers).  On non-x86 builds every check is 0.
 * Thread-safe, cheap (results cached by the compiler runtime).
 */
#ifndef MNET_CPU_H
#define MNET_CPU_H

int mnet_cpu_avx2(void);        /* AVX2 + FMA */
int mnet_cpu_avx512(void);      /* AVX-512 F, BW, VL, DQ (+ AVX2, FMA) */
int mnet_cpu_avx512vnni(void);  /* the above + AVX512_VNNI (vpdpbusd) */

/* SIMD kernel tables (kernels_x86.c, x86 builds only); see kernels.h. */
struct mnet_kernel_ops;
extern const struct mnet_kernel_ops mnet_kernels_avx512vnni; /* int8 VNNI + float AVX-512 */
extern const struct mnet_kernel_ops mnet_kernels_avx512;     /* float AVX-512, int8 int16-madd */
extern const struct mnet_kernel_ops mnet_kernels_avx2;       /* float AVX2/FMA */

/* The SIMD tables this CPU can run, best first (0 on other architectures).
 * kernels_c.c puts them ahead of the portable table. */
int mnet_cpu_kernel_tables(const struct mnet_kernel_ops **tables, int max);

#endif
