/* kernels_neon.c: the aarch64 NEON kernel tables (see kernels.h).
 *
 * "neondot" (ARMv8.2 dot product, HWCAP_ASIMDDP) runs the int8 GEMM conv/fc
 * with sdot; "neon" (every aarch64 CPU, e.g. Cortex-A53/A72) runs it with
 * 16-bit multiply-accumulate (smlal by element on pre-widened weights).  Both
 * have the int8 depthwise with smlal and the float GEMM and depthwise with
 * fmla.
 *
 * sdot multiplies s8 by s8 and the contract's activations are u8, so each
 * activation is flipped to s8 on load (x ^ 0x80 == x - 128) and what that
 * removes, 128 * sum(w), goes into the packed bias:
 *   sum x*w = sum (x - 128)*w + 128*w_sum.
 * Requantization is gemmlowp's NEON form, the same integers as mnet_mbqm_fast:
 * sqrdmulh is SaturatingRoundingDoublingHighMul, and srshl after subtracting
 * 1 from negative values is RoundingDivideByPOT.
 */
#include <arm_neon.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "kernels.h"
#include "quant.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define NB 16  /* output channels per GEMM block: 4 vectors */
#define ROWS 4 /* output pixels per GEMM tile: 16 accumulator + 4 weight + 4 input registers */
#define HDR 128 /* room for the largest pack header */

/* Ends each k step of the GEMM tiles: without it gcc hoists the next steps'
 * weight loads (16 more vector registers) and spills accumulators. */
#define STEP_BARRIER() __asm__ volatile("" ::: "memory")

/* One mnet_pack_alloc per pack (header, data at HDR). */
static void *block_alloc(size_t header, size_t data) { return mnet_pack_alloc(HDR, header, data); }

/* Every pack starts with this.  Layers this file leaves to the portable
 * kernels (portable_qdw, portable_fdw) keep the portable pack inside ours, so
 * release() can tell the two apart. */
struct pack_hdr {
    int portable;
    void *c_packed;
};

static int portable_qdw(struct mnet_qconv *l, int max_batch, int threads)
{
    struct pack_hdr *h = block_alloc(sizeof(*h), 0);
    if (!h)
        return -ENOMEM;
    struct mnet_qconv tmp = *l;
    tmp.packed = NULL;
    int rc = mnet_kernels_c.qdw_prepare(&tmp, max_batch, threads);
    if (rc) {
        free(h);
        return rc;
    }
    h->portable = 1;
    h->c_packed = tmp.packed;
    l->packed = h;
    l->scratch_bytes = tmp.scratch_bytes;
    return 0;
}

static void portable_qdw_run(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                             void *scratch, int threads)
{
    struct mnet_qconv tmp = *l;
    tmp.packed = ((const struct pack_hdr *)l->packed)->c_packed;
    mnet_kernels_c.qdw_run(&tmp, n, in, out, scratch, threads);
}

static int portable_fdw(struct mnet_fconv *l, int max_batch, int threads)
{
    struct pack_hdr *h = block_alloc(sizeof(*h), 0);
    if (!h)
        return -ENOMEM;
    struct mnet_fconv tmp = *l;
    tmp.packed = NULL;
    int rc = mnet_kernels_c.fdw_prepare(&tmp, max_batch, threads);
    if (rc) {
        free(h);
        return rc;
    }
    h->portable = 1;
    h->c_packed = tmp.packed;
    l->packed = h;
    l->scratch_bytes = tmp.scratch_bytes;
    return 0;
}

static int is_portable(const void *packed)
{
    return packed && ((const struct pack_hdr *)packed)->portable;
}

/* Per-channel requantization vectors, split as mnet_mbqm_fast wants them. */
static void split_shifts(const struct mnet_qconv *l, int32_t *mult, int32_t *left, int32_t *nright)
{
    for (int oc = 0; oc < l->g.out_c; oc++) {
        int sh = l->shift[oc];
        mult[oc] = l->mult[oc];
        left[oc] = sh > 0 ? sh : 0;
        nright[oc] = sh > 0 ? 0 : sh;
    }
}

/* mnet_mbqm_fast on 4 lanes (nright = -right).  The and with nright keeps the
 * -1 fixup to lanes with a right shift; the saturating add only matters for
 * INT32_MIN, where it gives the same result. */
static inline int32x4_t requant(int32x4_t acc, int32x4_t mult, int32x4_t left, int32x4_t nright)
{
    int32x4_t h = vqrdmulhq_s32(vshlq_s32(acc, left), mult);
    int32x4_t fix = vshrq_n_s32(vandq_s32(h, nright), 31);
    return vrshlq_s32(vqaddq_s32(h, fix), nright);
}

/* 16 int32 lanes + out_zp, saturated to u8 and clamped (out_min/out_max are
 * inside 0..255, so saturating first changes nothing). */
static inline uint8x16_t narrow_clamp(int32x4_t v0, int32x4_t v1, int32x4_t v2, int32x4_t v3,
                                      const struct mnet_qconv *l)
{
    int16x8_t lo = vcombine_s16(vqmovn_s32(v0), vqmovn_s32(v1));
    int16x8_t hi = vcombine_s16(vqmovn_s32(v2), vqmovn_s32(v3));
    int16x8_t zp = vdupq_n_s16((int16_t)l->out_zp);
    uint8x16_t u = vcombine_u8(vqmovun_s16(vqaddq_s16(lo, zp)), vqmovun_s16(vqaddq_s16(hi, zp)));
    return vminq_u8(vmaxq_u8(u, vdupq_n_u8((uint8_t)l->out_min)), vdupq_n_u8((uint8_t)l->out_max));
}

/* ================= int8 GEMM conv: sdot or smlal ================= */

/* With dot products (dot = 1) weights are packed s8 (nblk, Kp/4, NB, 4) for
 * sdot, Kp = K rounded up to 16; without, pre-widened s16 (nblk, Kp, NB) for
 * smlal by element, Kp = K rounded up to 8.  Zero past K and out_c. */
struct qgemm_pack {
    struct pack_hdr h;
    int K, Kp, nblk, dot;
    void *w;
    int32_t *bias;                 /* (nblk*NB) bias_folded (+ 128*w_sum for sdot) */
    int32_t *mult, *left, *nright; /* (nblk*NB) */
};

static int qgemm_prepare(struct mnet_qconv *l, int threads, int dot)
{
    const struct mnet_conv_geom *g = &l->g;
    const int K = g->k_h * g->k_w * g->in_c, Kp = (int)mnet_round_up((size_t)K, dot ? 16 : 8);
    const int nblk = (g->out_c + NB - 1) / NB;
    const size_t wbytes = (size_t)nblk * Kp * NB * (dot ? 1 : 2), nc = (size_t)nblk * NB;
    struct qgemm_pack *p = block_alloc(sizeof(*p), wbytes + 4 * nc * sizeof(int32_t));
    if (!p)
        return -ENOMEM;
    p->K = K;
    p->Kp = Kp;
    p->nblk = nblk;
    p->dot = dot;
    p->w = (char *)p + HDR;
    p->bias = (int32_t *)((char *)p->w + wbytes);
    p->mult = p->bias + nc;
    p->left = p->mult + nc;
    p->nright = p->left + nc;
    int8_t *w8 = p->w;
    int16_t *w16 = p->w;
    for (int oc = 0; oc < g->out_c; oc++) {
        const size_t blk = (size_t)(oc / NB) * Kp * NB;
        for (int k = 0; k < K; k++) {
            int8_t v = l->w[(size_t)oc * K + k];
            if (dot)
                w8[blk + ((size_t)(k / 4) * NB + oc % NB) * 4 + k % 4] = v;
            else
                w16[blk + (size_t)k * NB + oc % NB] = v;
        }
        p->bias[oc] = l->bias_folded[oc] + (dot ? 128 * l->w_sum[oc] : 0);
    }
    split_shifts(l, p->mult, p->left, p->nright);
    l->packed = p;
    l->scratch_bytes = mnet_conv_is_pointwise(g) ? 0 : (size_t)(threads > 0 ? threads : 1) * ROWS * Kp;
    return 0;
}

/* Sum of a row's K u8 values (for the w_zp term of per-tensor weights). */
static int32_t row_sum(const uint8_t *x, int K)
{
    uint32x4_t s = vdupq_n_u32(0);
    int k = 0;
    for (; k + 16 <= K; k += 16)
        s = vpadalq_u16(s, vpaddlq_u8(vld1q_u8(x + k)));
    uint32_t t = vaddvq_u32(s);
    for (; k < K; k++)
        t += x[k];
    return (int32_t)t;
}

/* The 4x16 accumulators of block blk + bias - w_zp*sum(x), requantized,
 * stored for the first nrows rows. */
static inline void qgemm_store(const struct mnet_qconv *l, const struct qgemm_pack *p,
                               const int32x4_t acc[ROWS][4], const int32_t rsum[ROWS], int nrows,
                               uint8_t *out, size_t ldo, int blk)
{
    const int oc0 = blk * NB;
    const int ocn = l->g.out_c - oc0 < NB ? l->g.out_c - oc0 : NB;
    for (int r = 0; r < nrows; r++) {
        int32x4_t v[4];
        int32x4_t corr = vdupq_n_s32(-l->w_zp * rsum[r]);
        for (int j = 0; j < 4; j++) {
            int32x4_t a = vaddq_s32(vaddq_s32(acc[r][j], vld1q_s32(p->bias + oc0 + 4 * j)), corr);
            v[j] = requant(a, vld1q_s32(p->mult + oc0 + 4 * j), vld1q_s32(p->left + oc0 + 4 * j),
                           vld1q_s32(p->nright + oc0 + 4 * j));
        }
        uint8x16_t u = narrow_clamp(v[0], v[1], v[2], v[3], l);
        uint8_t *o = out + (size_t)r * ldo + oc0;
        if (ocn == NB) {
            vst1q_u8(o, u);
        } else {
            uint8_t tmp[16];
            vst1q_u8(tmp, u);
            memcpy(o, tmp, (size_t)ocn);
        }
    }
}

/* One k (lane q of the 8 widened inputs of each row) into the 4x16
 * accumulators: 2 weight loads, 16 smlal/smlal2 by element. */
#define MLA_STEP(q)                                                                     \
    do {                                                                                \
        int16x8_t w0 = vld1q_s16(w), w1 = vld1q_s16(w + 8);                             \
        w += NB;                                                                        \
        a00 = vmlal_laneq_s16(a00, vget_low_s16(w0), x0, q); a01 = vmlal_high_laneq_s16(a01, w0, x0, q); \
        a02 = vmlal_laneq_s16(a02, vget_low_s16(w1), x0, q); a03 = vmlal_high_laneq_s16(a03, w1, x0, q); \
        a10 = vmlal_laneq_s16(a10, vget_low_s16(w0), x1, q); a11 = vmlal_high_laneq_s16(a11, w0, x1, q); \
        a12 = vmlal_laneq_s16(a12, vget_low_s16(w1), x1, q); a13 = vmlal_high_laneq_s16(a13, w1, x1, q); \
        a20 = vmlal_laneq_s16(a20, vget_low_s16(w0), x2, q); a21 = vmlal_high_laneq_s16(a21, w0, x2, q); \
        a22 = vmlal_laneq_s16(a22, vget_low_s16(w1), x2, q); a23 = vmlal_high_laneq_s16(a23, w1, x2, q); \
        a30 = vmlal_laneq_s16(a30, vget_low_s16(w0), x3, q); a31 = vmlal_high_laneq_s16(a31, w0, x3, q); \
        a32 = vmlal_laneq_s16(a32, vget_low_s16(w1), x3, q); a33 = vmlal_high_laneq_s16(a33, w1, x3, q); \
        STEP_BARRIER();                                                                 \
    } while (0)

#define WIDEN(v) vreinterpretq_s16_u16(vmovl_u8(v))

/* ROWS rows (rows[r] for r >= nrows repeat row 0) times the blocks blk0..blk1,
 * u8 (as s16) x s16 with smlal.  rows[r][0..readable) may be loaded 8 bytes
 * at a time (readable >= K); past that, a zero-padded copy. */
static void qmla_tile(const struct mnet_qconv *l, const struct qgemm_pack *p, int nrows,
                      const uint8_t *const rows[ROWS], const int32_t rsum[ROWS], int readable,
                      uint8_t *out, size_t ldo, int blk0, int blk1)
{
    const int K = p->K, kfull = readable / 8 * 8;
    /* the last partial 8 bytes of each row, zero-padded (weights are zero there) */
    uint8_t tail[ROWS][8] = {{0}};
    if (kfull < K)
        for (int r = 0; r < ROWS; r++)
            memcpy(tail[r], rows[r] + kfull, (size_t)(K - kfull));
    for (int blk = blk0; blk < blk1; blk++) {
        const int16_t *w = (const int16_t *)p->w + (size_t)blk * p->Kp * NB;
        int32x4_t a00 = vdupq_n_s32(0), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00,
                  a12 = a00, a13 = a00, a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00,
                  a31 = a00, a32 = a00, a33 = a00;
        for (int k = 0; k < K; k += 8) {
            const int in_tail = k >= kfull;
            int16x8_t x0 = WIDEN(vld1_u8(in_tail ? tail[0] : rows[0] + k)),
                      x1 = WIDEN(vld1_u8(in_tail ? tail[1] : rows[1] + k)),
                      x2 = WIDEN(vld1_u8(in_tail ? tail[2] : rows[2] + k)),
                      x3 = WIDEN(vld1_u8(in_tail ? tail[3] : rows[3] + k));
            MLA_STEP(0);
            MLA_STEP(1);
            MLA_STEP(2);
            MLA_STEP(3);
            MLA_STEP(4);
            MLA_STEP(5);
            MLA_STEP(6);
            MLA_STEP(7);
        }
        const int32x4_t acc[ROWS][4] = {{a00, a01, a02, a03}, {a10, a11, a12, a13},
                                        {a20, a21, a22, a23}, {a30, a31, a32, a33}};
        qgemm_store(l, p, acc, rsum, nrows, out, ldo, blk);
    }
}

#pragma GCC push_options
/* DotProd is an ARMv8.2 extension: arm_neon.h declares sdot for v8.2 + dotprod */
#pragma GCC target("arch=armv8.2-a+dotprod")

/* One group of 4 k (lane q of the 16 loaded input bytes of each row) into
 * the 4x16 accumulators: 4 weight loads, 16 sdot. */
#define DOT_STEP(q)                                                                     \
    do {                                                                                \
        int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16), w2 = vld1q_s8(w + 32),       \
                  w3 = vld1q_s8(w + 48);                                                \
        w += 4 * NB;                                                                    \
        a00 = vdotq_laneq_s32(a00, w0, x0, q); a01 = vdotq_laneq_s32(a01, w1, x0, q);   \
        a02 = vdotq_laneq_s32(a02, w2, x0, q); a03 = vdotq_laneq_s32(a03, w3, x0, q);   \
        a10 = vdotq_laneq_s32(a10, w0, x1, q); a11 = vdotq_laneq_s32(a11, w1, x1, q);   \
        a12 = vdotq_laneq_s32(a12, w2, x1, q); a13 = vdotq_laneq_s32(a13, w3, x1, q);   \
        a20 = vdotq_laneq_s32(a20, w0, x2, q); a21 = vdotq_laneq_s32(a21, w1, x2, q);   \
        a22 = vdotq_laneq_s32(a22, w2, x2, q); a23 = vdotq_laneq_s32(a23, w3, x2, q);   \
        a30 = vdotq_laneq_s32(a30, w0, x3, q); a31 = vdotq_laneq_s32(a31, w1, x3, q);   \
        a32 = vdotq_laneq_s32(a32, w2, x3, q); a33 = vdotq_laneq_s32(a33, w3, x3, q);   \
        STEP_BARRIER();                                                                 \
    } while (0)

#define FLIP(v) vreinterpretq_s8_u8(veorq_u8((v), flip))

/* As qmla_tile with sdot: 16 bytes of each row at a time, flipped to s8. */
static void qdot_tile(const struct mnet_qconv *l, const struct qgemm_pack *p, int nrows,
                      const uint8_t *const rows[ROWS], const int32_t rsum[ROWS], int readable,
                      uint8_t *out, size_t ldo, int blk0, int blk1)
{
    const int K = p->K, kfull = readable / 16 * 16;
    const uint8x16_t flip = vdupq_n_u8(0x80);
    uint8_t tail[ROWS][16] = {{0}};
    if (kfull < K)
        for (int r = 0; r < ROWS; r++)
            memcpy(tail[r], rows[r] + kfull, (size_t)(K - kfull));
    for (int blk = blk0; blk < blk1; blk++) {
        const int8_t *w = (const int8_t *)p->w + (size_t)blk * p->Kp * NB;
        int32x4_t a00 = vdupq_n_s32(0), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00,
                  a12 = a00, a13 = a00, a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00,
                  a31 = a00, a32 = a00, a33 = a00;
        for (int k = 0; k < K; k += 16) {
            const int in_tail = k >= kfull;
            int8x16_t x0 = FLIP(vld1q_u8(in_tail ? tail[0] : rows[0] + k)),
                      x1 = FLIP(vld1q_u8(in_tail ? tail[1] : rows[1] + k)),
                      x2 = FLIP(vld1q_u8(in_tail ? tail[2] : rows[2] + k)),
                      x3 = FLIP(vld1q_u8(in_tail ? tail[3] : rows[3] + k));
            DOT_STEP(0);
            DOT_STEP(1);
            DOT_STEP(2);
            DOT_STEP(3);
        }
        const int32x4_t acc[ROWS][4] = {{a00, a01, a02, a03}, {a10, a11, a12, a13},
                                        {a20, a21, a22, a23}, {a30, a31, a32, a33}};
        qgemm_store(l, p, acc, rsum, nrows, out, ldo, blk);
    }
}

#pragma GCC pop_options

static void qgemm_run(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                      void *scratch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    const struct qgemm_pack *p = l->packed;
    const size_t M = (size_t)n * g->out_h * g->out_w;
    const long tiles = (long)((M + ROWS - 1) / ROWS);
    const int pw = mnet_conv_is_pointwise(g);
    const int chunks = mnet_oc_chunks(tiles, p->nblk, threads);
    const long tasks = tiles * chunks;
    const int K = p->K, Kp = p->Kp;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long t = 0; t < tasks; t++) {
        const struct mnet_gemm_task k = mnet_gemm_task_of(t, chunks, p->nblk, M, ROWS);
        const size_t m0 = k.m0;
        const int nrows = k.nrows;
        const uint8_t *rows[ROWS];
        int readable = K;
        if (pw) {
            for (int r = 0; r < ROWS; r++)
                rows[r] = in + (m0 + (r < nrows ? r : 0)) * (size_t)g->in_c;
        } else {
            int tid = 0;
#ifdef _OPENMP
            tid = omp_get_thread_num();
#endif
            uint8_t *buf = (uint8_t *)scratch + (size_t)tid * ROWS * Kp;
            for (int r = 0; r < ROWS; r++) {
                rows[r] = buf + (size_t)(r < nrows ? r : 0) * Kp;
                if (r >= nrows)
                    continue;
                mnet_gather_patch_u8(g, in, m0 + r, (uint8_t)l->in_zp, buf + (size_t)r * Kp);
                memset(buf + (size_t)r * Kp + K, 0, (size_t)(Kp - K));
            }
            readable = Kp;
        }
        int32_t rsum[ROWS] = {0};
        if (l->w_zp != 0)
            for (int r = 0; r < nrows; r++)
                rsum[r] = row_sum(rows[r], K);
        if (p->dot)
            qdot_tile(l, p, nrows, rows, rsum, readable, out + m0 * g->out_c, (size_t)g->out_c, k.blk0, k.blk1);
        else
            qmla_tile(l, p, nrows, rows, rsum, readable, out + m0 * g->out_c, (size_t)g->out_c, k.blk0, k.blk1);
    }
}

static int dot_qconv_prepare(struct mnet_qconv *l, int max_batch, int threads)
{
    (void)max_batch;
    return qgemm_prepare(l, threads, 1);
}

static int mla_qconv_prepare(struct mnet_qconv *l, int max_batch, int threads)
{
    (void)max_batch;
    return qgemm_prepare(l, threads, 0);
}

/* ================= int8 depthwise with smlal ================= */

struct qdw_pack {
    struct pack_hdr h;
    int16_t *w;                    /* (k_h*k_w, out_c): w - w_zp */
    int32_t *mult, *left, *nright; /* (out_c) */
};

#define MAX_TAPS 64

/* depth_multiplier != 1 (no MobileNet has one) and filters over MAX_TAPS go
 * to the portable kernels. */
static int dw_portable(const struct mnet_conv_geom *g)
{
    return g->depth_multiplier != 1 || g->k_h * g->k_w > MAX_TAPS;
}

static int neon_qdw_prepare(struct mnet_qconv *l, int max_batch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    if (dw_portable(g))
        return portable_qdw(l, max_batch, threads);
    const size_t taps = (size_t)g->k_h * g->k_w, C = (size_t)g->out_c;
    const size_t wbytes = mnet_round_up(taps * C * sizeof(int16_t), 16);
    struct qdw_pack *p = block_alloc(sizeof(*p), wbytes + 3 * C * sizeof(int32_t));
    if (!p)
        return -ENOMEM;
    p->w = (int16_t *)((char *)p + HDR);
    p->mult = (int32_t *)((char *)p + HDR + wbytes);
    p->left = p->mult + C;
    p->nright = p->left + C;
    for (size_t i = 0; i < taps * C; i++)
        p->w[i] = (int16_t)(l->w[i] - l->w_zp);
    split_shifts(l, p->mult, p->left, p->nright);
    l->packed = p;
    l->scratch_bytes = 0;
    return 0;
}

/* 8 channels of one tap: (x - in_zp) widened to s16 (usubl) times the packed
 * s16 weights, accumulated into two s32 vectors (smlal, smlal2). */
static inline void dw_mac8(int32x4_t *a0, int32x4_t *a1, uint8x8_t x, uint8x8_t zp, const int16_t *w)
{
    int16x8_t xs = vreinterpretq_s16_u16(vsubl_u8(x, zp));
    int16x8_t ws = vld1q_s16(w);
    *a0 = vmlal_s16(*a0, vget_low_s16(xs), vget_low_s16(ws));
    *a1 = vmlal_high_s16(*a1, xs, ws);
}

static void neon_qdw_run(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                         void *scratch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    if (is_portable(l->packed)) {
        portable_qdw_run(l, n, in, out, scratch, threads);
        return;
    }
    const struct qdw_pack *p = l->packed;
    const int C = g->out_c;
    const long rows = (long)n * g->out_h;
    const uint8x8_t zp = vdup_n_u8((uint8_t)l->in_zp);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long r = 0; r < rows; r++) {
        int b = (int)(r / g->out_h), oy = (int)(r % g->out_h);
        for (int ox = 0; ox < g->out_w; ox++) {
            uint8_t *o = out + (((size_t)b * g->out_h + oy) * g->out_w + ox) * C;
            /* the taps inside the image (padded taps contribute 0) */
            const uint8_t *xt[MAX_TAPS];
            const int16_t *wt[MAX_TAPS];
            int nt = 0;
            for (int ky = 0; ky < g->k_h; ky++) {
                int iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
                for (int kx = 0; kx < g->k_w; kx++) {
                    int ix = ox * g->stride_w - g->pad_left + kx * g->dil_w;
                    if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w)
                        continue;
                    xt[nt] = in + (((size_t)b * g->in_h + iy) * g->in_w + ix) * C;
                    wt[nt++] = p->w + ((size_t)ky * g->k_w + kx) * C;
                }
            }
            int c = 0;
            for (; c + 16 <= C; c += 16) {
                int32x4_t a0 = vld1q_s32(l->bias + c), a1 = vld1q_s32(l->bias + c + 4);
                int32x4_t a2 = vld1q_s32(l->bias + c + 8), a3 = vld1q_s32(l->bias + c + 12);
                for (int t = 0; t < nt; t++) {
                    uint8x16_t x = vld1q_u8(xt[t] + c);
                    dw_mac8(&a0, &a1, vget_low_u8(x), zp, wt[t] + c);
                    dw_mac8(&a2, &a3, vget_high_u8(x), zp, wt[t] + c + 8);
                }
                a0 = requant(a0, vld1q_s32(p->mult + c), vld1q_s32(p->left + c), vld1q_s32(p->nright + c));
                a1 = requant(a1, vld1q_s32(p->mult + c + 4), vld1q_s32(p->left + c + 4), vld1q_s32(p->nright + c + 4));
                a2 = requant(a2, vld1q_s32(p->mult + c + 8), vld1q_s32(p->left + c + 8), vld1q_s32(p->nright + c + 8));
                a3 = requant(a3, vld1q_s32(p->mult + c + 12), vld1q_s32(p->left + c + 12), vld1q_s32(p->nright + c + 12));
                vst1q_u8(o + c, narrow_clamp(a0, a1, a2, a3, l));
            }
            if (c + 8 <= C) { /* 8 more (v1 0.25's 8, 0.75's 24 channels) */
                int32x4_t a0 = vld1q_s32(l->bias + c), a1 = vld1q_s32(l->bias + c + 4);
                for (int t = 0; t < nt; t++)
                    dw_mac8(&a0, &a1, vld1_u8(xt[t] + c), zp, wt[t] + c);
                a0 = requant(a0, vld1q_s32(p->mult + c), vld1q_s32(p->left + c), vld1q_s32(p->nright + c));
                a1 = requant(a1, vld1q_s32(p->mult + c + 4), vld1q_s32(p->left + c + 4), vld1q_s32(p->nright + c + 4));
                vst1_u8(o + c, vget_low_u8(narrow_clamp(a0, a1, a0, a1, l)));
                c += 8;
            }
            for (; c < C; c++) { /* fewer than 8 channels left */
                int32_t acc = l->bias[c];
                for (int t = 0; t < nt; t++)
                    acc += ((int32_t)xt[t][c] - l->in_zp) * wt[t][c];
                int32_t v = l->out_zp + mnet_mbqm(acc, l->mult[c], l->shift[c]);
                o[c] = (uint8_t)(v < l->out_min ? l->out_min : v > l->out_max ? l->out_max : v);
            }
        }
    }
}

/* ================= float GEMM conv with fmla ================= */

struct fgemm_pack {
    struct pack_hdr h;
    int K, nblk;
    float *w;    /* (nblk, K, NB), zero past out_c */
    float *bias; /* (nblk*NB) */
};

static int neon_fconv_prepare(struct mnet_fconv *l, int max_batch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    const int K = g->k_h * g->k_w * g->in_c, nblk = (g->out_c + NB - 1) / NB;
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
    l->scratch_bytes = mnet_conv_is_pointwise(g) ? 0 : (size_t)(threads > 0 ? threads : 1) * ROWS * mnet_round_up((size_t)K * sizeof(float), 64);
    return 0;
}

/* k of the 4 loaded inputs of each row (lane q) into the 4x16 accumulators:
 * 4 weight loads, 16 fmla by element. */
#define FMA_STEP(q)                                                                     \
    do {                                                                                \
        float32x4_t w0 = vld1q_f32(w), w1 = vld1q_f32(w + 4), w2 = vld1q_f32(w + 8),    \
                    w3 = vld1q_f32(w + 12);                                             \
        w += NB;                                                                        \
        a00 = vfmaq_laneq_f32(a00, w0, x0, q); a01 = vfmaq_laneq_f32(a01, w1, x0, q);   \
        a02 = vfmaq_laneq_f32(a02, w2, x0, q); a03 = vfmaq_laneq_f32(a03, w3, x0, q);   \
        a10 = vfmaq_laneq_f32(a10, w0, x1, q); a11 = vfmaq_laneq_f32(a11, w1, x1, q);   \
        a12 = vfmaq_laneq_f32(a12, w2, x1, q); a13 = vfmaq_laneq_f32(a13, w3, x1, q);   \
        a20 = vfmaq_laneq_f32(a20, w0, x2, q); a21 = vfmaq_laneq_f32(a21, w1, x2, q);   \
        a22 = vfmaq_laneq_f32(a22, w2, x2, q); a23 = vfmaq_laneq_f32(a23, w3, x2, q);   \
        a30 = vfmaq_laneq_f32(a30, w0, x3, q); a31 = vfmaq_laneq_f32(a31, w1, x3, q);   \
        a32 = vfmaq_laneq_f32(a32, w2, x3, q); a33 = vfmaq_laneq_f32(a33, w3, x3, q);   \
        STEP_BARRIER();                                                                 \
    } while (0)

static void fgemm_tile(const struct mnet_fconv *l, const struct fgemm_pack *p, int nrows,
                       const float *const rows[ROWS], float *out, size_t ldo, int blk0, int blk1)
{
    const int K = p->K;
    const float32x4_t lo = vdupq_n_f32(l->out_min), hi = vdupq_n_f32(l->out_max);
    for (int blk = blk0; blk < blk1; blk++) {
        const float *w = p->w + (size_t)blk * K * NB;
        const float *bias = p->bias + blk * NB;
        float32x4_t a00 = vld1q_f32(bias), a01 = vld1q_f32(bias + 4), a02 = vld1q_f32(bias + 8),
                    a03 = vld1q_f32(bias + 12);
        float32x4_t a10 = a00, a11 = a01, a12 = a02, a13 = a03, a20 = a00, a21 = a01, a22 = a02,
                    a23 = a03, a30 = a00, a31 = a01, a32 = a02, a33 = a03;
        int k = 0;
        for (; k + 4 <= K; k += 4) {
            float32x4_t x0 = vld1q_f32(rows[0] + k), x1 = vld1q_f32(rows[1] + k),
                        x2 = vld1q_f32(rows[2] + k), x3 = vld1q_f32(rows[3] + k);
            FMA_STEP(0);
            FMA_STEP(1);
            FMA_STEP(2);
            FMA_STEP(3);
        }
        for (; k < K; k++) {
            float32x4_t x0 = vdupq_n_f32(rows[0][k]), x1 = vdupq_n_f32(rows[1][k]),
                        x2 = vdupq_n_f32(rows[2][k]), x3 = vdupq_n_f32(rows[3][k]);
            FMA_STEP(0);
        }
        const int oc0 = blk * NB;
        const int ocn = l->g.out_c - oc0 < NB ? l->g.out_c - oc0 : NB;
        const float32x4_t acc[ROWS][4] = {{a00, a01, a02, a03}, {a10, a11, a12, a13},
                                          {a20, a21, a22, a23}, {a30, a31, a32, a33}};
        for (int r = 0; r < nrows; r++) {
            float tmp[NB];
            float *o = out + (size_t)r * ldo + oc0;
            float *d = ocn == NB ? o : tmp;
            for (int j = 0; j < 4; j++)
                vst1q_f32(d + 4 * j, vminq_f32(vmaxq_f32(acc[r][j], lo), hi));
            if (d == tmp)
                memcpy(o, tmp, (size_t)ocn * sizeof(float));
        }
    }
}

static void neon_fconv_run(const struct mnet_fconv *l, int n, const float *in, float *out,
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
    const size_t ldk = mnet_round_up((size_t)K * sizeof(float), 64) / sizeof(float);
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
            float *buf = (float *)scratch + (size_t)tid * ROWS * ldk;
            for (int r = 0; r < ROWS; r++) {
                rows[r] = buf + (size_t)(r < nrows ? r : 0) * ldk;
                if (r >= nrows)
                    continue;
                mnet_gather_patch_f32(g, in, m0 + r, buf + (size_t)r * ldk);
            }
        }
        fgemm_tile(l, p, nrows, rows, out + m0 * g->out_c, (size_t)g->out_c, k.blk0, k.blk1);
    }
}

/* ================= float depthwise with fmla ================= */

static int neon_fdw_prepare(struct mnet_fconv *l, int max_batch, int threads)
{
    if (dw_portable(&l->g))
        return portable_fdw(l, max_batch, threads);
    l->packed = NULL; /* the original (1, k_h, k_w, out_c) layout is what we want */
    l->scratch_bytes = 0;
    return 0;
}

static void neon_fdw_run(const struct mnet_fconv *l, int n, const float *in, float *out,
                         void *scratch, int threads)
{
    const struct mnet_conv_geom *g = &l->g;
    if (is_portable(l->packed)) {
        struct mnet_fconv tmp = *l;
        tmp.packed = ((const struct pack_hdr *)l->packed)->c_packed;
        mnet_kernels_c.fdw_run(&tmp, n, in, out, scratch, threads);
        return;
    }
    const int C = g->out_c;
    const long rows = (long)n * g->out_h;
    const float32x4_t lo = vdupq_n_f32(l->out_min), hi = vdupq_n_f32(l->out_max);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (long r = 0; r < rows; r++) {
        int b = (int)(r / g->out_h), oy = (int)(r % g->out_h);
        for (int ox = 0; ox < g->out_w; ox++) {
            float *o = out + (((size_t)b * g->out_h + oy) * g->out_w + ox) * C;
            const float *xt[MAX_TAPS], *wt[MAX_TAPS];
            int nt = 0;
            for (int ky = 0; ky < g->k_h; ky++) {
                int iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
                for (int kx = 0; kx < g->k_w; kx++) {
                    int ix = ox * g->stride_w - g->pad_left + kx * g->dil_w;
                    if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w)
                        continue;
                    xt[nt] = in + (((size_t)b * g->in_h + iy) * g->in_w + ix) * C;
                    wt[nt++] = l->w + ((size_t)ky * g->k_w + kx) * C;
                }
            }
            int c = 0;
            for (; c + 16 <= C; c += 16) {
                float32x4_t a0 = vld1q_f32(l->bias + c), a1 = vld1q_f32(l->bias + c + 4);
                float32x4_t a2 = vld1q_f32(l->bias + c + 8), a3 = vld1q_f32(l->bias + c + 12);
                for (int t = 0; t < nt; t++) {
                    const float *x = xt[t] + c, *w = wt[t] + c;
                    a0 = vfmaq_f32(a0, vld1q_f32(x), vld1q_f32(w));
                    a1 = vfmaq_f32(a1, vld1q_f32(x + 4), vld1q_f32(w + 4));
                    a2 = vfmaq_f32(a2, vld1q_f32(x + 8), vld1q_f32(w + 8));
                    a3 = vfmaq_f32(a3, vld1q_f32(x + 12), vld1q_f32(w + 12));
                }
                vst1q_f32(o + c, vminq_f32(vmaxq_f32(a0, lo), hi));
                vst1q_f32(o + c + 4, vminq_f32(vmaxq_f32(a1, lo), hi));
                vst1q_f32(o + c + 8, vminq_f32(vmaxq_f32(a2, lo), hi));
                vst1q_f32(o + c + 12, vminq_f32(vmaxq_f32(a3, lo), hi));
            }
            for (; c + 4 <= C; c += 4) {
                float32x4_t a = vld1q_f32(l->bias + c);
                for (int t = 0; t < nt; t++)
                    a = vfmaq_f32(a, vld1q_f32(xt[t] + c), vld1q_f32(wt[t] + c));
                vst1q_f32(o + c, vminq_f32(vmaxq_f32(a, lo), hi));
            }
            for (; c < C; c++) { /* fewer than 4 channels left */
                float acc = l->bias[c];
                for (int t = 0; t < nt; t++)
                    acc += xt[t][c] * wt[t][c];
                o[c] = acc < l->out_min ? l->out_min : acc > l->out_max ? l->out_max : acc;
            }
        }
    }
}

/* ================= tables ================= */

static void neon_release(void *packed)
{
    if (is_portable(packed))
        mnet_kernels_c.release(((struct pack_hdr *)packed)->c_packed);
    free(packed);
}

const struct mnet_kernel_ops mnet_kernels_neondot = {
    .name = "neondot",
    .qconv_prepare = dot_qconv_prepare,
    .qconv_run = qgemm_run,
    .qdw_prepare = neon_qdw_prepare,
    .qdw_run = neon_qdw_run,
    .fconv_prepare = neon_fconv_prepare,
    .fconv_run = neon_fconv_run,
    .fdw_prepare = neon_fdw_prepare,
    .fdw_run = neon_fdw_run,
    .release = neon_release,
};

const struct mnet_kernel_ops mnet_kernels_neon = {
    .name = "neon",
    .qconv_prepare = mla_qconv_prepare,
    .qconv_run = qgemm_run,
    .qdw_prepare = neon_qdw_prepare,
    .qdw_run = neon_qdw_run,
    .fconv_prepare = neon_fconv_prepare,
    .fconv_run = neon_fconv_run,
    .fdw_prepare = neon_fdw_prepare,
    .fdw_run = neon_fdw_run,
    .release = neon_release,
};
