/* kernels_c.c: the portable production kernels (C11 + OpenMP).
 *
 * Convolutions and fully-connected layers all run through one register-blocked
 * GEMM micro-kernel: ROWS output pixels x NB output channels, with weights
 * packed once at load as [oc block][K][NB].  A 1x1 stride-1 conv reads its
 * input rows in place ((N*H*W) x Cin); any other conv gathers ROWS patches
 * (im2col, padded taps filled with the input zero point so the folded bias
 * stays exact) into per-thread scratch.  Depthwise convs run directly per
 * channel with the taps' (w - w_zp) pre-widened to int16 and the
 * requantization fused.  Integer results are bit-identical to kernels_ref.c.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* The SIMD tables (cpu.h, kernels_x86.c) come first when they are built in. */
#if defined(__has_include)
#if __has_include("cpu.h")
#include "cpu.h"
#define MNET_HAVE_CPU_TABLES 1
#endif
#endif

/* kernels.h: kept here, the file every build has, for kernels_x86.c */
_Thread_local unsigned long mnet_rq_fallbacks;

#define NB 16  /* output channels per GEMM block */
#define ROWS 4 /* output pixels per GEMM tile */

static inline int32_t clampi(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static inline float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Every pack is one mnet_pack_alloc: header, then data at offset HDR. */
#define HDR 64
static void *block_alloc(size_t header, size_t data) { return mnet_pack_alloc(HDR, header, data); }

/* ================= quantized GEMM conv ================= */

struct qgemm_pack {
    int K, nblk;
    int8_t *w; /* (nblk, K, NB) */
};

static int c_qconv_prepare(struct mnet_qconv *l, int max_batch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    int K = g->k_h * g->k_w * g->in_c;
    int nblk = (g->out_c + NB - 1) / NB;
    struct qgemm_pack *p = block_alloc(sizeof(*p), (size_t)nblk * K * NB);
    if (!p)
        return -ENOMEM;
    p->K = K;
    p->nblk = nblk;
    p->w = (int8_t *)((char *)p + HDR);
    for (int oc = 0; oc < g->out_c; oc++)
        for (int k = 0; k < K; k++)
            p->w[((size_t)(oc / NB) * K + k) * NB + oc % NB] = l->w[(size_t)oc * K + k];
    l->packed = p;
    (void)max_batch;
    l->scratch_bytes = mnet_conv_is_pointwise(g) ? 0 : (size_t)(threads > 0 ? threads : 1) * mnet_round_up((size_t)ROWS * K, 64);
    return 0;
}

/* rows[r] point at K u8 values each; writes out rows of out_c at out[r*ldo]. */
static void qgemm_tile(const struct mnet_qconv *l, const struct qgemm_pack *p, int nrows,
                       const uint8_t *const rows[ROWS], uint8_t *out, size_t ldo, int blk0,
                       int blk1)
{
    const int K = p->K;
    int32_t rsum[ROWS] = {0};
    if (l->w_zp != 0)
        for (int r = 0; r < nrows; r++) {
            int32_t s = 0;
            for (int k = 0; k < K; k++)
                s += rows[r][k];
            rsum[r] = s;
        }
    for (int blk = blk0; blk < blk1; blk++) {
        const int8_t *w = p->w + (size_t)blk * K * NB;
        int32_t acc[ROWS][NB];
        memset(acc, 0, sizeof(acc));
        if (nrows == ROWS) {
            const uint8_t *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
            for (int k = 0; k < K; k++) {
                const int8_t *wk = w + (size_t)k * NB;
                int32_t x0 = r0[k], x1 = r1[k], x2 = r2[k], x3 = r3[k];
                for (int j = 0; j < NB; j++) {
                    int32_t wj = wk[j];
                    acc[0][j] += x0 * wj;
                    acc[1][j] += x1 * wj;
                    acc[2][j] += x2 * wj;
                    acc[3][j] += x3 * wj;
                }
            }
        } else {
            for (int r = 0; r < nrows; r++) {
                const uint8_t *xr = rows[r];
                for (int k = 0; k < K; k++) {
                    const int8_t *wk = w + (size_t)k * NB;
                    int32_t x = xr[k];
                    for (int j = 0; j < NB; j++)
                        acc[r][j] += x * wk[j];
                }
            }
        }
        int oc0 = blk * NB;
        int ocn = l->g.out_c - oc0 < NB ? l->g.out_c - oc0 : NB;
        for (int r = 0; r < nrows; r++) {
            uint8_t *o = out + (size_t)r * ldo + oc0;
            for (int j = 0; j < ocn; j++) {
                int oc = oc0 + j;
                int32_t a = acc[r][j] + l->bias_folded[oc] - l->w_zp * rsum[r];
                int sh = l->shift[oc];
                int32_t v = l->out_zp + mnet_mbqm_fast(a, l->mult[oc], sh > 0 ? sh : 0, sh > 0 ? 0 : -sh);
                o[j] = (uint8_t)clampi(v, l->out_min, l->out_max);
            }
        }
    }
}

/* Image and output coordinates of pixel m (flattened over n, out_h, out_w). */
static void pixel_of(const struct mnet_conv_geom *g, size_t m, int *b, int *oy, int *ox)
{
    *ox = (int)(m % g->out_w);
    *oy = (int)((m / g->out_w) % g->out_h);
    *b = (int)(m / ((size_t)g->out_w * g->out_h));
}

void mnet_gather_patch_u8(const struct mnet_conv_geom *g, const uint8_t *in, size_t m, uint8_t fill,
                          uint8_t *dst)
{
    int b, oy, ox;
    pixel_of(g, m, &b, &oy, &ox);
    for (int ky = 0; ky < g->k_h; ky++) {
        int iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
        for (int kx = 0; kx < g->k_w; kx++) {
            int ix = ox * g->stride_w - g->pad_left + kx * g->dil_w;
            uint8_t *d = dst + ((size_t)ky * g->k_w + kx) * g->in_c;
            if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w)
                memset(d, fill, (size_t)g->in_c);
            else
                memcpy(d, in + (((size_t)b * g->in_h + iy) * g->in_w + ix) * g->in_c, (size_t)g->in_c);
        }
    }
}

int mnet_oc_chunks(long tiles, int nblk, int threads)
{
    int chunks = 1;
    while (chunks < nblk && tiles * chunks < 4L * threads)
        chunks *= 2;
    return chunks < nblk ? chunks : nblk;
}

static void c_qconv_run(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                        void *scratch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    const struct qgemm_pack *p = l->packed;
    const size_t M = (size_t)n * g->out_h * g->out_w;
    const long tiles = (long)((M + ROWS - 1) / ROWS);
    const int pw = mnet_conv_is_pointwise(g);
    const int chunks = mnet_oc_chunks(tiles, p->nblk, threads);
    const long tasks = tiles * chunks;
    const int K = p->K;
    const size_t ldk = mnet_round_up((size_t)ROWS * K, 64);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long t = 0; t < tasks; t++) {
        const struct mnet_gemm_task k = mnet_gemm_task_of(t, chunks, p->nblk, M, ROWS);
        const size_t m0 = k.m0;
        const int nrows = k.nrows;
        const uint8_t *rows[ROWS];
        if (pw) {
            for (int r = 0; r < ROWS; r++)
                rows[r] = in + (m0 + (r < nrows ? r : 0)) * (size_t)g->in_c;
        } else {
            int tid = 0;
#ifdef _OPENMP
            tid = omp_get_thread_num();
#endif
            uint8_t *buf = (uint8_t *)scratch + (size_t)tid * ldk;
            for (int r = 0; r < ROWS; r++) {
                rows[r] = buf + (size_t)r * K;
                if (r < nrows)
                    mnet_gather_patch_u8(g, in, m0 + r, (uint8_t)l->in_zp, buf + (size_t)r * K);
            }
        }
        qgemm_tile(l, p, nrows, rows, out + m0 * g->out_c, (size_t)g->out_c, k.blk0, k.blk1);
    }
}

/* ================= quantized depthwise ================= */

struct qdw_pack {
    int16_t *w; /* (k_h*k_w, out_c): w - w_zp */
};

static int c_qdw_prepare(struct mnet_qconv *l, int max_batch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    size_t taps = (size_t)g->k_h * g->k_w;
    struct qdw_pack *p = block_alloc(sizeof(*p), taps * g->out_c * sizeof(int16_t));
    if (!p)
        return -ENOMEM;
    p->w = (int16_t *)((char *)p + HDR);
    for (size_t i = 0; i < taps * g->out_c; i++)
        p->w[i] = (int16_t)(l->w[i] - l->w_zp);
    l->packed = p;
    l->scratch_bytes = 0;
    (void)max_batch;
    (void)threads;
    return 0;
}

#define DW_CHUNK 64

static void c_qdw_run(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                      void *scratch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    const struct qdw_pack *p = l->packed;
    const int dm = g->depth_multiplier;
    const long rows = (long)n * g->out_h;
    (void)scratch;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long r = 0; r < rows; r++) {
        int b = (int)(r / g->out_h), oy = (int)(r % g->out_h);
        const int iy0 = oy * g->stride_h - g->pad_top;
        const int row_inside = iy0 >= 0 && iy0 + (g->k_h - 1) * g->dil_h < g->in_h;
        for (int ox = 0; ox < g->out_w; ox++) {
            uint8_t *o = out + (((size_t)b * g->out_h + oy) * g->out_w + ox) * g->out_c;
            const int ix0 = ox * g->stride_w - g->pad_left;
            if (dm == 1 && row_inside && ix0 >= 0 && ix0 + (g->k_w - 1) * g->dil_w < g->in_w) {
                /* every tap inside the image: no bounds checks */
                const int taps = g->k_h * g->k_w;
                const size_t C = (size_t)g->in_c;
                const uint8_t *x0 = in + (((size_t)b * g->in_h + iy0) * g->in_w + ix0) * C;
                for (int c0 = 0; c0 < g->out_c; c0 += DW_CHUNK) {
                    int cn = g->out_c - c0 < DW_CHUNK ? g->out_c - c0 : DW_CHUNK;
                    int32_t acc[DW_CHUNK];
                    for (int j = 0; j < cn; j++)
                        acc[j] = l->bias[c0 + j];
                    for (int t = 0; t < taps; t++) {
                        int ky = t / g->k_w, kx = t % g->k_w;
                        const uint8_t *x = x0 + ((size_t)ky * g->dil_h * g->in_w + (size_t)kx * g->dil_w) * C + c0;
                        const int16_t *w = p->w + (size_t)t * g->out_c + c0;
                        const int32_t zp = l->in_zp;
                        for (int j = 0; j < cn; j++)
                            acc[j] += ((int32_t)x[j] - zp) * w[j];
                    }
                    for (int j = 0; j < cn; j++) {
                        int oc = c0 + j, sh = l->shift[oc];
                        int32_t v = l->out_zp + mnet_mbqm_fast(acc[j], l->mult[oc], sh > 0 ? sh : 0, sh > 0 ? 0 : -sh);
                        o[oc] = (uint8_t)clampi(v, l->out_min, l->out_max);
                    }
                }
                continue;
            }
            for (int c0 = 0; c0 < g->out_c; c0 += DW_CHUNK) {
                int cn = g->out_c - c0 < DW_CHUNK ? g->out_c - c0 : DW_CHUNK;
                int32_t acc[DW_CHUNK];
                for (int j = 0; j < cn; j++)
                    acc[j] = l->bias[c0 + j];
                for (int ky = 0; ky < g->k_h; ky++) {
                    int iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
                    if (iy < 0 || iy >= g->in_h)
                        continue;
                    for (int kx = 0; kx < g->k_w; kx++) {
                        int ix = ox * g->stride_w - g->pad_left + kx * g->dil_w;
                        if (ix < 0 || ix >= g->in_w)
                            continue;
                        const uint8_t *x = in + (((size_t)b * g->in_h + iy) * g->in_w + ix) * g->in_c;
                        const int16_t *w = p->w + ((size_t)ky * g->k_w + kx) * g->out_c + c0;
                        const int32_t zp = l->in_zp;
                        if (dm == 1) {
                            const uint8_t *xc = x + c0;
                            for (int j = 0; j < cn; j++)
                                acc[j] += ((int32_t)xc[j] - zp) * w[j];
                        } else {
                            for (int j = 0; j < cn; j++)
                                acc[j] += ((int32_t)x[(c0 + j) / dm] - zp) * w[j];
                        }
                    }
                }
                for (int j = 0; j < cn; j++) {
                    int oc = c0 + j;
                    int32_t v = l->out_zp + mnet_mbqm(acc[j], l->mult[oc], l->shift[oc]);
                    o[oc] = (uint8_t)clampi(v, l->out_min, l->out_max);
                }
            }
        }
    }
}

/* ================= float GEMM conv ================= */

struct fgemm_pack {
    int K, nblk;
    float *w;    /* (nblk, K, NB) */
    float *bias; /* (nblk*NB) */
};

static int c_fconv_prepare(struct mnet_fconv *l, int max_batch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    int K = g->k_h * g->k_w * g->in_c;
    int nblk = (g->out_c + NB - 1) / NB;
    struct fgemm_pack *p = block_alloc(sizeof(*p), ((size_t)nblk * K * NB + (size_t)nblk * NB) * sizeof(float));
    if (!p)
        return -ENOMEM;
    p->K = K;
    p->nblk = nblk;
    p->w = (float *)((char *)p + HDR);
    p->bias = p->w + (size_t)nblk * K * NB;
    for (int oc = 0; oc < g->out_c; oc++) {
        p->bias[oc] = l->bias[oc];
        for (int k = 0; k < K; k++)
            p->w[((size_t)(oc / NB) * K + k) * NB + oc % NB] = l->w[(size_t)oc * K + k];
    }
    l->packed = p;
    (void)max_batch;
    l->scratch_bytes = mnet_conv_is_pointwise(g) ? 0
                                       : (size_t)(threads > 0 ? threads : 1) * mnet_round_up((size_t)ROWS * K * sizeof(float), 64);
    return 0;
}

static void fgemm_tile(const struct mnet_fconv *l, const struct fgemm_pack *p, int nrows,
                       const float *const rows[ROWS], float *out, size_t ldo, int blk0, int blk1)
{
    const int K = p->K;
    for (int blk = blk0; blk < blk1; blk++) {
        const float *w = p->w + (size_t)blk * K * NB;
        float acc[ROWS][NB];
        for (int r = 0; r < ROWS; r++)
            for (int j = 0; j < NB; j++)
                acc[r][j] = p->bias[blk * NB + j];
        if (nrows == ROWS) {
            const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
            for (int k = 0; k < K; k++) {
                const float *wk = w + (size_t)k * NB;
                float x0 = r0[k], x1 = r1[k], x2 = r2[k], x3 = r3[k];
                for (int j = 0; j < NB; j++) {
                    acc[0][j] += x0 * wk[j];
                    acc[1][j] += x1 * wk[j];
                    acc[2][j] += x2 * wk[j];
                    acc[3][j] += x3 * wk[j];
                }
            }
        } else {
            for (int r = 0; r < nrows; r++)
                for (int k = 0; k < K; k++) {
                    const float *wk = w + (size_t)k * NB;
                    float x = rows[r][k];
                    for (int j = 0; j < NB; j++)
                        acc[r][j] += x * wk[j];
                }
        }
        int oc0 = blk * NB;
        int ocn = l->g.out_c - oc0 < NB ? l->g.out_c - oc0 : NB;
        for (int r = 0; r < nrows; r++) {
            float *o = out + (size_t)r * ldo + oc0;
            for (int j = 0; j < ocn; j++)
                o[j] = clampf(acc[r][j], l->out_min, l->out_max);
        }
    }
}

void mnet_gather_patch_f32(const struct mnet_conv_geom *g, const float *in, size_t m, float *dst)
{
    int b, oy, ox;
    pixel_of(g, m, &b, &oy, &ox);
    for (int ky = 0; ky < g->k_h; ky++) {
        int iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
        for (int kx = 0; kx < g->k_w; kx++) {
            int ix = ox * g->stride_w - g->pad_left + kx * g->dil_w;
            float *d = dst + ((size_t)ky * g->k_w + kx) * g->in_c;
            if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w)
                memset(d, 0, (size_t)g->in_c * sizeof(float));
            else
                memcpy(d, in + (((size_t)b * g->in_h + iy) * g->in_w + ix) * g->in_c,
                       (size_t)g->in_c * sizeof(float));
        }
    }
}

static void c_fconv_run(const struct mnet_fconv *l, int n, const float *in, float *out,
                        void *scratch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    const struct fgemm_pack *p = l->packed;
    const size_t M = (size_t)n * g->out_h * g->out_w;
    const long tiles = (long)((M + ROWS - 1) / ROWS);
    const int pw = mnet_conv_is_pointwise(g);
    const int chunks = mnet_oc_chunks(tiles, p->nblk, threads);
    const long tasks = tiles * chunks;
    const int K = p->K;
    const size_t ldk = mnet_round_up((size_t)ROWS * K * sizeof(float), 64) / sizeof(float);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long t = 0; t < tasks; t++) {
        const struct mnet_gemm_task k = mnet_gemm_task_of(t, chunks, p->nblk, M, ROWS);
        const size_t m0 = k.m0;
        const int nrows = k.nrows;
        const float *rows[ROWS];
        if (pw) {
            for (int r = 0; r < ROWS; r++)
                rows[r] = in + (m0 + (r < nrows ? r : 0)) * (size_t)g->in_c;
        } else {
            int tid = 0;
#ifdef _OPENMP
            tid = omp_get_thread_num();
#endif
            float *buf = (float *)scratch + (size_t)tid * ldk;
            for (int r = 0; r < ROWS; r++) {
                rows[r] = buf + (size_t)r * K;
                if (r < nrows)
                    mnet_gather_patch_f32(g, in, m0 + r, buf + (size_t)r * K);
            }
        }
        fgemm_tile(l, p, nrows, rows, out + m0 * g->out_c, (size_t)g->out_c, k.blk0, k.blk1);
    }
}

/* ================= float depthwise ================= */

static int c_fdw_prepare(struct mnet_fconv *l, int max_batch, int threads)
{
    l->packed = NULL; /* the original (1, k_h, k_w, out_c) layout is what we want */
    l->scratch_bytes = 0;
    (void)max_batch;
    (void)threads;
    return 0;
}

static void c_fdw_run(const struct mnet_fconv *l, int n, const float *in, float *out,
                      void *scratch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    const int dm = g->depth_multiplier;
    const long rows = (long)n * g->out_h;
    (void)scratch;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long r = 0; r < rows; r++) {
        int b = (int)(r / g->out_h), oy = (int)(r % g->out_h);
        for (int ox = 0; ox < g->out_w; ox++) {
            float *o = out + (((size_t)b * g->out_h + oy) * g->out_w + ox) * g->out_c;
            for (int c0 = 0; c0 < g->out_c; c0 += DW_CHUNK) {
                int cn = g->out_c - c0 < DW_CHUNK ? g->out_c - c0 : DW_CHUNK;
                float acc[DW_CHUNK];
                for (int j = 0; j < cn; j++)
                    acc[j] = l->bias[c0 + j];
                for (int ky = 0; ky < g->k_h; ky++) {
                    int iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
                    if (iy < 0 || iy >= g->in_h)
                        continue;
                    for (int kx = 0; kx < g->k_w; kx++) {
                        int ix = ox * g->stride_w - g->pad_left + kx * g->dil_w;
                        if (ix < 0 || ix >= g->in_w)
                            continue;
                        const float *x = in + (((size_t)b * g->in_h + iy) * g->in_w + ix) * g->in_c;
                        const float *w = l->w + ((size_t)ky * g->k_w + kx) * g->out_c + c0;
                        if (dm == 1) {
                            const float *xc = x + c0;
                            for (int j = 0; j < cn; j++)
                                acc[j] += xc[j] * w[j];
                        } else {
                            for (int j = 0; j < cn; j++)
                                acc[j] += x[(c0 + j) / dm] * w[j];
                        }
                    }
                }
                for (int j = 0; j < cn; j++)
                    o[c0 + j] = clampf(acc[j], l->out_min, l->out_max);
            }
        }
    }
}

/* ================= elementwise ================= */

static void c_qadd_run(const struct mnet_qbinary *p, size_t count, const uint8_t *a,
                       const uint8_t *b, uint8_t *out, int threads)
{
    const long cnt = (long)count;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && count > 4096)
    for (long i = 0; i < cnt; i++) {
        int32_t v = p->out_zp + mnet_quant_add_raw((int32_t)a[i] - p->a_zp, (int32_t)b[i] - p->b_zp,
                                                   p->left_shift, p->a_mult, p->a_shift, p->b_mult,
                                                   p->b_shift, p->out_mult, p->out_shift);
        out[i] = (uint8_t)clampi(v, p->out_min, p->out_max);
    }
}

/* b's element for a's element (k, i): see kernels.h.  The loops walk a in
 * runs of b_inner elements so no division happens per element. */
#define BCAST_LOOP(BODY)                                                                       \
    do {                                                                                       \
        const size_t runs = b_inner == inner ? 1 : b_inner == 1 ? inner : inner / b_inner;     \
        const size_t run = b_inner == 1 ? 1 : b_inner;                                         \
        const long total = (long)((size_t)n * runs);                                           \
        _Pragma("omp parallel for num_threads(threads) schedule(static) if (threads > 1 && (size_t)n * inner > 16384)") \
        for (long t = 0; t < total; t++) {                                                     \
            size_t k = (size_t)t / runs, r = (size_t)t % runs;                                 \
            const uint8_t *pa = a + k * inner + r * run;                                       \
            uint8_t *po = out + k * inner + r * run;                                           \
            const uint8_t *pb = b + k * b_batch_stride;                                        \
            for (size_t i = 0; i < run; i++) {                                                 \
                int32_t x = (int32_t)pa[i] - p->a_zp, y = (int32_t)pb[b_inner == 1 ? 0 : i] - p->b_zp; \
                int32_t v = BODY;                                                              \
                po[i] = (uint8_t)clampi(v, p->out_min, p->out_max);                            \
            }                                                                                  \
        }                                                                                      \
    } while (0)

void mnet_c_qadd_bcast(const struct mnet_qbinary *p, int n, size_t inner, const uint8_t *a,
                       const uint8_t *b, size_t b_inner, size_t b_batch_stride, uint8_t *out,
                       int threads)
{
    BCAST_LOOP(p->out_zp + mnet_quant_add_raw(x, y, p->left_shift, p->a_mult, p->a_shift, p->b_mult,
                                              p->b_shift, p->out_mult, p->out_shift));
}

void mnet_c_qmul_bcast(const struct mnet_qbinary *p, int n, size_t inner, const uint8_t *a,
                       const uint8_t *b, size_t b_inner, size_t b_batch_stride, uint8_t *out,
                       int threads)
{
    /* mnet_mbqm_fast (no branch per element: v3-small's MULs 1.78 -> 0.75 ms) where its shift is defined */
    const int left = p->out_shift > 0 ? p->out_shift : 0, right = p->out_shift > 0 ? 0 : -p->out_shift;
    if (right <= 31)
        BCAST_LOOP(p->out_zp + mnet_mbqm_fast(x * y, p->out_mult, left, right));
    else
        BCAST_LOOP(p->out_zp + mnet_mbqm(x * y, p->out_mult, p->out_shift));
}

/* A byte -> byte table over a u8 tensor (hard-swish, logistic, requantize:
 * the plan fills the table from the reference arithmetic, so it is exact). */
void mnet_c_lut_u8(const uint8_t lut[256], size_t count, const uint8_t *in, uint8_t *out,
                   int threads)
{
    const long cnt = (long)count;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && count > 32768)
    for (long i = 0; i < cnt; i++)
        out[i] = lut[in[i]];
}

void mnet_c_qsoftmax_table(const struct mnet_qsoftmax_params *p, int32_t exp_of_distance[256])
{
    for (int d = 0; d < 256; d++) {
        exp_of_distance[d] = -1;
        if (-d >= p->diff_min) /* diff_min also keeps the shift below from overflowing */
            exp_of_distance[d] = mnet_fp_exp_on_negative_values(
                mnet_srdhm(-d * (1 << p->input_left_shift), p->input_multiplier), 5);
    }
}

void mnet_c_qsoftmax(const struct mnet_qsoftmax_params *p, const int32_t exp_of_distance[256],
                     size_t rows, int depth, const uint8_t *in, uint8_t *out)
{
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *x = in + r * (size_t)depth;
        uint8_t *y = out + r * (size_t)depth;
        uint8_t max = 0;
        for (int c = 0; c < depth; c++)
            max = x[c] > max ? x[c] : max;
        int32_t sum_of_exps = 0; /* Q12; the maximum alone adds 2^12 */
        for (int c = 0; c < depth; c++) {
            int32_t e = exp_of_distance[max - x[c]];
            if (e >= 0)
                sum_of_exps += mnet_rdivpot(e, 12);
        }
        /* 1 / sum as gemmlowp does it: the sum's leading bits as 1 + x, x in [0, 1) */
        int headroom_plus_one = __builtin_clz((uint32_t)sum_of_exps);
        int32_t shifted_sum_minus_one =
            (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31));
        int32_t shifted_scale = mnet_fp_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
        int exponent = 12 - headroom_plus_one + 31 - 8;
        for (int c = 0; c < depth; c++) {
            int32_t e = exp_of_distance[max - x[c]], v = 0;
            if (e >= 0) {
                v = mnet_rdivpot(mnet_srdhm(shifted_scale, e), exponent);
                v = v > 255 ? 255 : v < 0 ? 0 : v;
            }
            v += p->out_zp;
            y[c] = (uint8_t)(v > 255 ? 255 : v < 0 ? 0 : v);
        }
    }
}

/* The input rows [y0, y1) and columns [x0, x1) an average pool's output
 * pixel covers (padding excluded, as TFLite counts it). */
struct pool_window {
    int y0, y1, x0, x1, count;
};

static struct pool_window pool_window(const struct mnet_conv_geom *g, int oy, int ox)
{
    struct pool_window w;
    int iy = oy * g->stride_h - g->pad_top, ix = ox * g->stride_w - g->pad_left;
    w.y0 = iy > 0 ? iy : 0;
    w.y1 = iy + g->k_h < g->in_h ? iy + g->k_h : g->in_h;
    w.x0 = ix > 0 ? ix : 0;
    w.x1 = ix + g->k_w < g->in_w ? ix + g->k_w : g->in_w;
    w.count = w.y1 > w.y0 && w.x1 > w.x0 ? (w.y1 - w.y0) * (w.x1 - w.x0) : 0;
    return w;
}

void mnet_c_favgpool(const struct mnet_conv_geom *g, int n, float out_min, float out_max,
                     const float *in, float *out, int threads)
{
    const long rows = (long)n * g->out_h;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows > 1)
    for (long r = 0; r < rows; r++) {
        int b = (int)(r / g->out_h), oy = (int)(r % g->out_h);
        float sum[DW_CHUNK];
        for (int ox = 0; ox < g->out_w; ox++)
            for (int c0 = 0; c0 < g->in_c; c0 += DW_CHUNK) {
                int cn = g->in_c - c0 < DW_CHUNK ? g->in_c - c0 : DW_CHUNK;
                struct pool_window w = pool_window(g, oy, ox);
                for (int c = 0; c < cn; c++)
                    sum[c] = 0;
                for (int iy = w.y0; iy < w.y1; iy++)
                    for (int ix = w.x0; ix < w.x1; ix++) {
                        const float *x = in + (((size_t)b * g->in_h + iy) * g->in_w + ix) * g->in_c + c0;
                        for (int c = 0; c < cn; c++)
                            sum[c] += x[c];
                    }
                const int cnt = w.count;
                float *o = out + (((size_t)b * g->out_h + oy) * g->out_w + ox) * g->in_c + c0;
                for (int c = 0; c < cn; c++) {
                    float v = cnt ? sum[c] / (float)cnt : 0.0f;
                    o[c] = v < out_min ? out_min : v > out_max ? out_max : v;
                }
            }
    }
}

void mnet_c_fadd(size_t count, const float *a, const float *b, float out_min, float out_max,
                 float *out, int threads)
{
    const long cnt = (long)count;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && count > 32768)
    for (long i = 0; i < cnt; i++) {
        float v = a[i] + b[i];
        out[i] = v < out_min ? out_min : v > out_max ? out_max : v;
    }
}

void mnet_c_qavgpool(const struct mnet_conv_geom *g, int n, int is_signed, int32_t out_min,
                     int32_t out_max, const uint8_t *in, uint8_t *out, int threads)
{
    const long rows = (long)n * g->out_h;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows > 1)
    for (long r = 0; r < rows; r++) {
        int b = (int)(r / g->out_h), oy = (int)(r % g->out_h);
        int32_t sum[DW_CHUNK];
        for (int ox = 0; ox < g->out_w; ox++)
            for (int c0 = 0; c0 < g->in_c; c0 += DW_CHUNK) {
                int cn = g->in_c - c0 < DW_CHUNK ? g->in_c - c0 : DW_CHUNK;
                struct pool_window w = pool_window(g, oy, ox);
                memset(sum, 0, sizeof(sum));
                for (int iy = w.y0; iy < w.y1; iy++)
                    for (int ix = w.x0; ix < w.x1; ix++) {
                        const uint8_t *x = in + (((size_t)b * g->in_h + iy) * g->in_w + ix) * g->in_c + c0;
                        for (int j = 0; j < cn; j++)
                            sum[j] += x[j];
                    }
                const int32_t cnt = w.count;
                uint8_t *o = out + (((size_t)b * g->out_h + oy) * g->out_w + ox) * g->in_c + c0;
                for (int j = 0; j < cn; j++) {
                    int32_t v;
                    if (!cnt)
                        v = is_signed ? 128 : 0;
                    else if (is_signed) /* average the int8 values, then back to u8 */
                        v = mnet_quant_avg(sum[j] - 128 * cnt, cnt, 1) + 128;
                    else
                        v = mnet_quant_avg(sum[j], cnt, 0);
                    o[j] = (uint8_t)clampi(v, out_min, out_max);
                }
            }
    }
}

/* ================= table and selection ================= */

static void c_release(void *packed)
{
    free(packed);
}

const struct mnet_kernel_ops mnet_kernels_c = {
    .name = "c",
    .qconv_prepare = c_qconv_prepare,
    .qconv_run = c_qconv_run,
    .qdw_prepare = c_qdw_prepare,
    .qdw_run = c_qdw_run,
    .fconv_prepare = c_fconv_prepare,
    .fconv_run = c_fconv_run,
    .fdw_prepare = c_fdw_prepare,
    .fdw_run = c_fdw_run,
    .qadd_run = c_qadd_run,
    .qmul_run = mnet_c_qmul_bcast,
    .lut_run = mnet_c_lut_u8,
    .release = c_release,
};

/* Tables in order of preference; SIMD tables are added here with their CPU
 * check (see kernels.h). */
struct kernel_entry {
    const struct mnet_kernel_ops *ops;
    int (*supported)(void);
};

static int always(void) { return 1; }

static const struct kernel_entry kernel_tables[] = {
    {&mnet_kernels_c, always},
};

int mnet_kernels_available(const struct mnet_kernel_ops **tables, int max)
{
    int n = 0;
#if MNET_HAVE_CPU_TABLES
    n = mnet_cpu_kernel_tables(tables, max); /* SIMD tables this CPU runs, best first */
    if (n < 0)
        n = 0;
#endif
    for (size_t i = 0; i < sizeof(kernel_tables) / sizeof(kernel_tables[0]); i++)
        if (kernel_tables[i].supported() && n < max)
            tables[n++] = kernel_tables[i].ops;
    return n;
}

const struct mnet_kernel_ops *mnet_kernels_select(void)
{
    const struct mnet_kernel_ops *t[16];
    int n = mnet_kernels_available(t, 16);
    const char *force = getenv("MNET_KERNELS");
    if (force && *force)
        for (int i = 0; i < n; i++)
            if (strcmp(t[i]->name, force) == 0)
                return t[i];
    return n ? t[0] : &mnet_kernels_c;
}
