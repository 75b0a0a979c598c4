/* cpu.h: runtime CPU feature checks for kernel dispatch (internal).
 *
 * Answers "may this process execute instructions of family X" (the CPU has
 * them AND the OS saves the registers).  Checks of another architecture are 0.
 * Thread-safe, cheap (results cached by the compiler runtime).
 */
#ifndef MNET_CPU_H
#define MNET_CPU_H

int mnet_cpu_avx2(void);        /* AVX2 + FMA */
int mnet_cpu_avx512(void);      /* AVX-512 F, BW, VL, DQ (+ AVX2, FMA) */
int mnet_cpu_avx512vnni(void);  /* the above + AVX512_VNNI (vpdpbusd) */
int mnet_cpu_amx(void);         /* the above + AMX-INT8 tiles, the OS's permission granted */
int mnet_cpu_avx512vbmi(void);  /* AVX-512 + AVX512_VBMI (vpermb, vpermi2b) */
int mnet_cpu_avxvnni(void);     /* AVX2 + AVX-VNNI (VEX vpdpwssd, 256 bits) */
int mnet_cpu_neon(void);        /* aarch64 Advanced SIMD */
int mnet_cpu_neondot(void);     /* the above + dot product (sdot/udot, ARMv8.2 DotProd) */

/* SIMD kernel tables (kernels_x86.c, x86 builds only; kernels_neon.c,
 * aarch64 builds only); see kernels.h. */
struct mnet_kernel_ops;
extern const struct mnet_kernel_ops mnet_kernels_amx;        /* avx512vnni, the int8 1x1 GEMM on AMX */
extern const struct mnet_kernel_ops mnet_kernels_avx512vnni; /* int8 VNNI + float AVX-512 */
extern const struct mnet_kernel_ops mnet_kernels_avx512;     /* float AVX-512, int8 int16-madd */
extern const struct mnet_kernel_ops mnet_kernels_avxvnni;    /* avx2 with vpdpwssd in the int8 GEMM */
extern const struct mnet_kernel_ops mnet_kernels_avx2;       /* float AVX2/FMA, int8 int16-madd */
extern const struct mnet_kernel_ops mnet_kernels_neondot;    /* int8 GEMM sdot, the rest as neon */
extern const struct mnet_kernel_ops mnet_kernels_neon;       /* int8 GEMM smlal, depthwise; float fmla */

/* The SIMD tables this CPU can run, best first (0 on other architectures).
 * kernels_c.c puts them ahead of the portable table. */
int mnet_cpu_kernel_tables(const struct mnet_kernel_ops **tables, int max);

#endif
