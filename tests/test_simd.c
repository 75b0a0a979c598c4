/* test_simd.c: every kernel table this CPU can run (portable C, AVX-512 VNNI,
 * AVX-512, AVX2) against the naive reference kernels of kernels_ref.c.
 *
 * Integer kernels must match bit for bit; float kernels within 1e-5 relative.
 * Random shapes on purpose: odd sizes (K, channels, rows not multiples of the
 * vector or tile widths), stride 2, asymmetric SAME padding, VALID, 5x5,
 * batch > 1, per-channel and per-tensor (w_zp != 0) weights, every fused
 * activation range, and 1 and 2 threads.
 *
 * MNET_TEST_SEED=n changes the random shapes; MNET_TEST_ROUNDS=n runs more.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "kernels.h"
#include "quant.h"

static int failures;
/* check_qconv: zero points forced by a case (NO_ZP: random) */
#define NO_ZP (-1000)
static int32_t force_in_zp = NO_ZP, force_w_zp = NO_ZP;
/* Per-tensor weights as real uint8 files have them: near the zero point,
 * with about one channel in twelve (2: every channel) holding one tap at the
 * far end of the range, where w - w_zp leaves int8 (what the VNNI GEMM and
 * direct kernels fold and fix up). */
static int sparse_outliers;
static int outlier_chans; /* sparse_outliers 5 and 6 */
static int outlier_c0, outlier_ky; /* sparse_outliers 6 */
/* make_rq without left shifts or flushed scales (the VNNI GEMM then folds
 * out_zp into its rounding constants) */
static int rq_right;
/* >= 0: check_qconv's channel 0 this far past the accumulator bound up to
 * which the VNNI GEMM folds out_zp (0: x + zp * 2^e + 1 is then
 * INT32_MAX - 3; 40000: it would wrap): all-255 inputs, weights 127,
 * mult 2^31 - 1, shift -8 */
static int zp_limit = -1;
static uint64_t rng_state = 0x853c49e6748fea9bULL;

static uint32_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (uint32_t)((z ^ (z >> 31)) >> 16);
}

static int rint_in(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }
static float rfloat(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() % 1000001) / 1e6f; }

static void *xalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) / 64 * 64 + 64);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    memset(p, 0, (n + 63) / 64 * 64 + 64);
    return p;
}

/* Bytes where got and want differ; *first: the first of them (0 if none). */
static size_t diff_u8(const uint8_t *got, const uint8_t *want, size_t n, size_t *first)
{
    size_t bad = 0;
    *first = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i] && bad++ == 0)
            *first = i;
    return bad;
}

/* SAME (random choice of the asymmetric split TFLite never makes, to test
 * the kernels' padding handling in general) or VALID geometry. */
static void make_geom(struct mnet_conv_geom *g, int in_h, int in_w, int in_c, int out_c, int k,
                      int stride, int valid, int dm)
{
    memset(g, 0, sizeof *g);
    g->in_h = in_h;
    g->in_w = in_w;
    g->in_c = in_c;
    g->out_c = out_c;
    g->k_h = g->k_w = k;
    g->stride_h = g->stride_w = stride;
    g->dil_h = g->dil_w = 1;
    g->depth_multiplier = dm;
    if (valid) {
        g->out_h = (in_h - k) / stride + 1;
        g->out_w = (in_w - k) / stride + 1;
    } else {
        g->out_h = (in_h + stride - 1) / stride;
        g->out_w = (in_w + stride - 1) / stride;
        int ph = (g->out_h - 1) * stride + k - in_h, pw = (g->out_w - 1) * stride + k - in_w;
        ph = ph < 0 ? 0 : ph;
        pw = pw < 0 ? 0 : pw;
        g->pad_top = rnd() % 4 == 0 ? (ph + 1) / 2 : ph / 2;
        g->pad_left = rnd() % 4 == 0 ? (pw + 1) / 2 : pw / 2;
    }
}

/* Random requantization: output scale so results spread over the range. */
static void make_rq(int out_c, int K, int32_t *mult, int32_t *shift)
{
    for (int c = 0; c < out_c; c++) {
        double m = rfloat(0.2f, 3.0f) / (128.0 * 60.0 * sqrt((double)K));
        if (rq_right)
            ;
        else if (rnd() % 8 == 0)
            m = rfloat(0.5f, 1.5f); /* shift >= 0: left shifts too */
        else if (rnd() % 8 == 0)
            m = ldexp(1.0, -rint_in(2, 14)); /* mult 2^30: rounding ties everywhere */
        else if (rnd() % 32 == 0)
            m = 1e-12; /* flushed to mult 0, shift 0: output out_zp */
        int s;
        mnet_quantize_multiplier(m, &mult[c], &s);
        shift[c] = s;
    }
}

static void act_range(int32_t *lo, int32_t *hi)
{
    switch (rnd() % 3) {
    case 0: *lo = 0; *hi = 255; break;
    case 1: *lo = rint_in(0, 128); *hi = 255; break;
    default: *lo = rint_in(0, 100); *hi = rint_in(150, 255); break;
    }
}

/* Random ADD parameters (u8 domain): scales mostly within 4x of each other
 * as in real residual blocks, sometimes equal (both inputs at multiplier
 * 2^30, shift 0: ties) or far apart (outside the x86 fast form).  TFLite's
 * left shift is 20, where an input's rescaled value has 19 bits below what
 * the output keeps, so an error in its last bit would rarely show; a third
 * of the cases use a shift of 9-12 instead (the same code paths). */
/* The reference's parameters of q. */
static void ref_add(struct mnet_ref_qbinary *r, const struct mnet_qbinary *q)
{
    *r = (struct mnet_ref_qbinary){ .t = MNET_U8, .a_zp = q->a_zp, .b_zp = q->b_zp, .out_zp = q->out_zp,
                                    .out_min = q->out_min, .out_max = q->out_max, .a_mult = q->a_mult,
                                    .a_shift = q->a_shift, .b_mult = q->b_mult, .b_shift = q->b_shift,
                                    .out_mult = q->out_mult, .out_shift = q->out_shift,
                                    .left_shift = q->left_shift };
}

static void make_add(struct mnet_qbinary *q, struct mnet_ref_qbinary *r)
{
    double sa = rfloat(0.01f, 0.2f), sb = rfloat(0.01f, 0.2f), so = rfloat(0.02f, 0.3f);
    if (rnd() % 6 == 0)
        sb = sa;
    else if (rnd() % 10 == 0)
        sa = sb * ldexp(1.0, -rint_in(8, 16));
    const int ls = rnd() % 3 == 0 ? rint_in(9, 12) : 20;
    *q = (struct mnet_qbinary){ .a_zp = rint_in(0, 255), .b_zp = rint_in(0, 255),
                                .out_zp = rint_in(0, 255), .left_shift = ls };
    if (rnd() % 8 == 0) { /* zero points at the ends of the range */
        q->a_zp = rnd() % 2 ? 0 : 255;
        q->b_zp = rnd() % 2 ? 0 : 255;
    }
    act_range(&q->out_min, &q->out_max);
    mnet_quant_add_params(sa, sb, so, ls, &q->a_mult, &q->a_shift, &q->b_mult, &q->b_shift,
                          &q->out_mult, &q->out_shift);
    ref_add(r, q);
}

/* A prefetch range for a prepared int8 GEMM of table t (mnet_kernel_ops.
 * packed_weights), as the plan gives: its own packed weights (an
 * allocation of the right size), in turn all of them, one byte short of
 * that (no whole number of lines), one line plus a byte and one byte.
 * Prefetching changes no output; a range computed past its end would be
 * out-of-bounds pointer arithmetic. */
static void give_pf(const struct mnet_kernel_ops *t, const void *packed, const void **pf, size_t *pf_bytes)
{
    static unsigned turn;
    const void *at = NULL;
    size_t bytes = t->packed_weights ? t->packed_weights(packed, &at) : 0;
    if (!bytes)
        return;
    const size_t pick[4] = { bytes, bytes - 1, bytes > 65 ? 65 : bytes, 1 };
    *pf = at;
    *pf_bytes = pick[turn++ % 4];
}

/* One quantized conv (dw = 0) or depthwise conv (dw = 1) through table t. */
/* per_tensor: 0 int8 per-channel (w_zp 0), 1 uint8 per-tensor (random
 * w_zp), 2 uint8 with weight zero point 0 (s8 domain -128). */
/* Prepare l on table t, run it on n images of in and compare every output
 * byte with ref (the naive reference's), reporting the first difference. */
static void run_qlayer(const struct mnet_kernel_ops *t, struct mnet_qconv *l, int dw, int n, const uint8_t *in,
                       uint8_t *out, const uint8_t *ref, int threads, const char *what)
{
    const size_t nout = (size_t)n * l->g.out_h * l->g.out_w * l->g.out_c;
    int rc = dw ? t->qdw_prepare(l, n, threads) : t->qconv_prepare(l, n, threads);
    if (rc) {
        failures++;
        fprintf(stderr, "FAIL %s %s: prepare rc %d\n", t->name, what, rc);
        return;
    }
    void *scratch = xalloc(l->scratch_bytes);
    memset(out, 0xA5, nout);
    if (!dw)
        give_pf(t, l->packed, &l->pf, &l->pf_bytes);
    if (dw)
        t->qdw_run(l, n, in, out, scratch, threads);
    else
        t->qconv_run(l, n, in, out, scratch, threads);
    size_t first, bad = diff_u8(out, ref, nout, &first);
    if (bad) {
        failures++;
        fprintf(stderr, "FAIL %s %s threads %d: %zu of %zu differ, first at pixel %zu ch %zu: %d vs %d\n",
                t->name, what, threads, bad, nout, first / l->g.out_c, first % l->g.out_c, out[first],
                ref[first]);
    }
    t->release(l->packed);
    free(scratch);
}

static void check_qconv(const struct mnet_kernel_ops *t, int dw, int n, const struct mnet_conv_geom *g,
                        int per_tensor, const char *what)
{
    if (!(dw ? t->qdw_prepare : t->qconv_prepare))
        return;
    int K = dw ? g->k_h * g->k_w : g->k_h * g->k_w * g->in_c;
    size_t nw = dw ? (size_t)g->k_h * g->k_w * g->out_c : (size_t)g->out_c * K;
    size_t nin = (size_t)n * g->in_h * g->in_w * g->in_c;
    size_t nout = (size_t)n * g->out_h * g->out_w * g->out_c;
    int8_t *w = xalloc(nw);
    uint8_t *in = xalloc(nin), *ref = xalloc(nout), *out = xalloc(nout);
    int32_t *bias = xalloc(g->out_c * 4), *bias_folded = xalloc(g->out_c * 4);
    int32_t *w_sum = xalloc(g->out_c * 4), *mult = xalloc(g->out_c * 4), *shift = xalloc(g->out_c * 4);
    int32_t *wzp = xalloc(g->out_c * 4);
    int32_t in_zp = rint_in(0, 255), w_zp = per_tensor == 2 ? -128 : per_tensor ? rint_in(-128, 127) : 0;
    if (force_in_zp != NO_ZP)
        in_zp = force_in_zp;
    if (force_w_zp != NO_ZP && per_tensor)
        w_zp = force_w_zp;
    for (size_t i = 0; i < nw; i++)
        w[i] = (int8_t)(per_tensor ? rint_in(-128, 127) : rint_in(-127, 127));
    if (sparse_outliers && per_tensor) {
        const int8_t far = (int8_t)(w_zp >= 0 ? -128 : 127); /* w - w_zp leaves int8 */
        for (size_t i = 0; i < nw; i++) {
            int v = w_zp + rint_in(-100, 100);
            w[i] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
        }
        for (int c = 0; c < g->out_c; c++)
            for (int o = sparse_outliers == 2 || rnd() % 12 == 0 ? 1 + (int)(rnd() % 2) * (int)(rnd() % 3) : 0;
                 o > 0 && sparse_outliers < 3; o--) {
                size_t k = (size_t)rint_in(0, K - 1);
                w[dw ? k * g->out_c + c : (size_t)c * K + k] = far;
            }
        /* 3 (depthwise 3x3): half the channels with outliers in 1-3 rows of
         * one column, 1 in 8 of those in a second column too */
        for (int c = 0; sparse_outliers == 3 && c < g->out_c; c++) {
            int kx = rint_in(0, 2), rows = rnd() % 2 ? rint_in(1, 7) : 0;
            for (int ky = 0; ky < 3; ky++)
                if (rows >> ky & 1)
                    w[(size_t)(ky * 3 + kx) * g->out_c + c] = far;
            if (rows && rnd() % 8 == 0)
                w[(size_t)(rint_in(0, 2) * 3 + (kx + 1) % 3) * g->out_c + c] = far;
        }
        /* 4 (depthwise 3x3): every fifth channel (so in every 16-lane
         * vector), far taps by channel: each single tap, a column, a row, a
         * diagonal, all nine */
        for (int c = 0; sparse_outliers == 4 && c < g->out_c; c += 5) {
            int q = c / 5 % 13, kx = c % 3;
            unsigned taps = q < 9 ? 1u << q : q == 9 ? 0x49u << kx : q == 10 ? 7u << 3 * kx : q == 11 ? 0x111u : 0x1ffu;
            for (int t = 0; t < 9; t++)
                if (taps >> t & 1)
                    w[(size_t)t * g->out_c + c] = far;
        }
        /* 5 (depthwise 3x3): one tap in each of outlier_chans channels 37
         * apart: the excess in that many vectors (more where a channel
         * repeats across weight blocks) */
        for (int i = 0; sparse_outliers == 5 && i < outlier_chans; i++)
            w[(size_t)(i % 9) * g->out_c + (size_t)i * 37 % g->out_c] = far;
        /* 6 (depthwise 3x3): outlier_chans channels 16 apart from outlier_c0
         * (one 16-lane vector of every block where C % 16 == 0), one tap
         * each in row outlier_ky, any column: the real file's 56x56x144 */
        for (int i = 0; sparse_outliers == 6 && i < outlier_chans; i++)
            w[(size_t)(outlier_ky * 3 + rint_in(0, 2)) * g->out_c + (size_t)(outlier_c0 + 16 * i) % g->out_c] =
                far;
    }
    for (size_t i = 0; i < nin; i++)
        in[i] = (uint8_t)rnd();
    for (int c = 0; c < g->out_c; c++) {
        bias[c] = rint_in(-20000, 20000);
        wzp[c] = w_zp;
    }
    make_rq(g->out_c, K, mult, shift);
    int32_t lo, hi;
    act_range(&lo, &hi);
    int32_t out_zp = rint_in(0, 255);
    if (rnd() % 4 == 0) { /* as the real files' ReLU6 layers: the packs alone clamp */
        out_zp = lo = 0;
        hi = 255;
    }
    if (zp_limit >= 0 && !dw) {
        in_zp = w_zp = 0;
        out_zp = 255;
        memset(in, 255, nin);
        memset(w, 127, (size_t)K);
        mult[0] = INT32_MAX;
        shift[0] = -8;
        bias[0] = INT32_MAX - 2 - 128 - 255 * 256 - K * 255 * 127 - 1 + zp_limit;
    }
    /* The plan's folding (kernels.h): per output channel over its K taps. */
    for (int c = 0; c < g->out_c; c++) {
        int32_t s = 0;
        for (int k = 0; k < K; k++)
            s += dw ? w[(size_t)k * g->out_c + c] : w[(size_t)c * K + k];
        w_sum[c] = s;
        bias_folded[c] = bias[c] - in_zp * s + K * in_zp * w_zp;
    }

    struct mnet_ref_qconv r = { .g = *g, .in_t = MNET_U8, .w_t = MNET_I8, .out_t = MNET_U8, .w = w,
                                .bias = bias, .in_zp = in_zp, .w_zp = wzp, .w_zp_count = g->out_c,
                                .mult = mult, .shift = shift, .out_zp = out_zp, .out_min = lo,
                                .out_max = hi };
    if (dw)
        mnet_ref_qdw(&r, n, in, ref);
    else
        mnet_ref_qconv(&r, n, in, ref);

    for (int threads = 1; threads <= 2; threads++) {
        struct mnet_qconv l = { .g = *g, .w = w, .bias = bias, .bias_folded = bias_folded,
                                .w_sum = w_sum, .in_zp = in_zp, .w_zp = w_zp, .out_zp = out_zp,
                                .out_min = lo, .out_max = hi, .mult = mult, .shift = shift };
        run_qlayer(t, &l, dw, n, in, out, ref, threads, what);
    }
    free(w); free(in); free(ref); free(out); free(bias); free(bias_folded);
    free(w_sum); free(mult); free(shift); free(wzp);
}

static void check_fconv(const struct mnet_kernel_ops *t, int dw, int n, const struct mnet_conv_geom *g,
                        const char *what)
{
    if (!(dw ? t->fdw_prepare : t->fconv_prepare))
        return;
    int K = dw ? g->k_h * g->k_w : g->k_h * g->k_w * g->in_c;
    size_t nw = dw ? (size_t)g->k_h * g->k_w * g->out_c : (size_t)g->out_c * K;
    size_t nin = (size_t)n * g->in_h * g->in_w * g->in_c;
    size_t nout = (size_t)n * g->out_h * g->out_w * g->out_c;
    float *w = xalloc(nw * 4), *in = xalloc(nin * 4), *ref = xalloc(nout * 4), *out = xalloc(nout * 4);
    float *bias = xalloc(g->out_c * 4);
    float amp = 1.7f / sqrtf((float)K);
    for (size_t i = 0; i < nw; i++)
        w[i] = rfloat(-amp, amp);
    for (size_t i = 0; i < nin; i++)
        in[i] = rfloat(-1.0f, 1.0f);
    for (int c = 0; c < g->out_c; c++)
        bias[c] = rfloat(-0.5f, 0.5f);
    float lo = -INFINITY, hi = INFINITY;
    if (rnd() % 2) {
        lo = 0.0f;
        hi = rnd() % 2 ? 6.0f : 0.5f;
    }
    if (dw)
        mnet_ref_fdw(g, n, in, w, bias, lo, hi, ref);
    else
        mnet_ref_fconv(g, n, in, w, bias, lo, hi, ref);
    for (int threads = 1; threads <= 2; threads++) {
        struct mnet_fconv l = { .g = *g, .w = w, .bias = bias, .out_min = lo, .out_max = hi };
        int rc = dw ? t->fdw_prepare(&l, n, threads) : t->fconv_prepare(&l, n, threads);
        if (rc) {
            failures++;
            fprintf(stderr, "FAIL %s %s: prepare rc %d\n", t->name, what, rc);
            continue;
        }
        void *scratch = xalloc(l.scratch_bytes);
        for (size_t i = 0; i < nout; i++)
            out[i] = NAN;
        if (dw)
            t->fdw_run(&l, n, in, out, scratch, threads);
        else
            t->fconv_run(&l, n, in, out, scratch, threads);
        size_t bad = 0, first = 0;
        for (size_t i = 0; i < nout; i++)
            if (!(fabsf(out[i] - ref[i]) <= 1e-5f * (1.0f + fabsf(ref[i]))) && bad++ == 0)
                first = i;
        if (bad) {
            failures++;
            fprintf(stderr, "FAIL %s %s threads %d: %zu of %zu differ, first at %zu: %g vs %g\n",
                    t->name, what, threads, bad, nout, first, out[first], ref[first]);
        }
        t->release(l.packed);
        free(scratch);
    }
    free(w); free(in); free(ref); free(out); free(bias);
}

/* A float 3x3 depthwise (dilation 1) of the AVX-512 tables bit for bit
 * against fmaf chains in their order: bias, then the taps in (ky, kx) order,
 * those outside the image skipped, then the clamp.  The row sweep computes
 * border columns and the columns left over by its blocks of 8 and 4 in
 * blocks of its own (a padding column skipped, or columns computed twice):
 * a tap added out of order or twice changes the last bits, which the
 * tolerance of check_fconv lets through. */
static void check_fdw_exact(const struct mnet_kernel_ops *t, int n, const struct mnet_conv_geom *g,
                            const char *what)
{
    if (strncmp(t->name, "avx512", 6) != 0)
        return;
    const int C = g->out_c;
    size_t nin = (size_t)n * g->in_h * g->in_w * C, nout = (size_t)n * g->out_h * g->out_w * C;
    float *w = xalloc((size_t)9 * C * 4), *in = xalloc(nin * 4), *ref = xalloc(nout * 4);
    float *out = xalloc(nout * 4), *bias = xalloc((size_t)C * 4);
    for (int i = 0; i < 9 * C; i++)
        w[i] = rfloat(-0.6f, 0.6f);
    for (size_t i = 0; i < nin; i++)
        in[i] = rfloat(-1.0f, 1.0f);
    for (int c = 0; c < C; c++)
        bias[c] = rfloat(-0.5f, 0.5f);
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < g->out_h; oy++)
            for (int ox = 0; ox < g->out_w; ox++)
                for (int c = 0; c < C; c++) {
                    float acc = bias[c];
                    for (int ky = 0; ky < 3; ky++) {
                        int iy = oy * g->stride_h - g->pad_top + ky;
                        for (int kx = 0; kx < 3; kx++) {
                            int ix = ox * g->stride_w - g->pad_left + kx;
                            if (iy >= 0 && iy < g->in_h && ix >= 0 && ix < g->in_w)
                                acc = fmaf(in[(((size_t)b * g->in_h + iy) * g->in_w + ix) * C + c],
                                           w[(ky * 3 + kx) * C + c], acc);
                        }
                    }
                    ref[(((size_t)b * g->out_h + oy) * g->out_w + ox) * C + c] = fminf(fmaxf(acc, 0.0f), 6.0f);
                }
    struct mnet_fconv l = { .g = *g, .w = w, .bias = bias, .out_min = 0.0f, .out_max = 6.0f };
    for (int threads = 1; threads <= 2; threads++) {
        int rc = t->fdw_prepare(&l, n, threads);
        if (rc) {
            failures++;
            fprintf(stderr, "FAIL %s %s: prepare rc %d\n", t->name, what, rc);
            break;
        }
        void *scratch = xalloc(l.scratch_bytes + 64);
        memset(out, 0xff, nout * 4);
        t->fdw_run(&l, n, in, out, scratch, threads);
        size_t bad = 0, first = 0;
        for (size_t i = 0; i < nout; i++)
            if (out[i] != ref[i] && bad++ == 0)
                first = i;
        if (bad) {
            failures++;
            fprintf(stderr, "FAIL %s %s exact threads %d: %zu of %zu differ, first at pixel %zu ch %zu: %.9g vs %.9g\n",
                    t->name, what, threads, bad, nout, first / C, first % C, out[first], ref[first]);
        }
        t->release(l.packed);
        free(scratch);
    }
    free(w); free(in); free(ref); free(out); free(bias);
}

/* Float packs that live side by side (the x86 tables cut the blocks under
 * 1 MiB from shared 2 MiB chunks): 36 layers of 8-800 KB of weights plus
 * two of more than 1 MiB, released in a mixed order while others are
 * prepared, each checked against the reference after all are prepared (a
 * block that overlapped another, or came back dirty, shows as wrong sums;
 * ASan sees a chunk freed under a live block). */
static void check_fpack_pool(const struct mnet_kernel_ops *t)
{
    enum { NL = 38 };
    struct {
        struct mnet_fconv l;
        float *w, *bias, *in, *ref;
        int dw, live;
    } L[NL];
    for (int i = 0; i < NL; i++) {
        struct mnet_conv_geom g;
        int dw = i % 5 == 4, big = i == 7 || i == 30;
        int ic = big ? 1100 : rint_in(8, 420), oc = big ? 300 : rint_in(8, dw ? 500 : 480);
        if (dw)
            make_geom(&g, 5, 6, oc, oc, 3, 1, 0, 1);
        else
            make_geom(&g, 3, 4, ic, oc, 1, 1, 0, 1);
        size_t nw = dw ? (size_t)9 * oc : (size_t)oc * ic, nin = (size_t)g.in_h * g.in_w * g.in_c;
        L[i].dw = dw;
        L[i].w = xalloc(nw * 4);
        L[i].bias = xalloc((size_t)oc * 4);
        L[i].in = xalloc(nin * 4);
        L[i].ref = xalloc((size_t)g.out_h * g.out_w * oc * 4);
        for (size_t k = 0; k < nw; k++)
            L[i].w[k] = rfloat(-0.1f, 0.1f);
        for (int c = 0; c < oc; c++)
            L[i].bias[c] = rfloat(-0.5f, 0.5f);
        for (size_t k = 0; k < nin; k++)
            L[i].in[k] = rfloat(-1.0f, 1.0f);
        if (dw)
            mnet_ref_fdw(&g, 1, L[i].in, L[i].w, L[i].bias, -INFINITY, INFINITY, L[i].ref);
        else
            mnet_ref_fconv(&g, 1, L[i].in, L[i].w, L[i].bias, -INFINITY, INFINITY, L[i].ref);
        L[i].l = (struct mnet_fconv){ .g = g, .w = L[i].w, .bias = L[i].bias, .out_min = -INFINITY,
                                      .out_max = INFINITY };
        L[i].live = (dw ? t->fdw_prepare(&L[i].l, 1, 1) : t->fconv_prepare(&L[i].l, 1, 1)) == 0;
        if (!L[i].live) {
            failures++;
            fprintf(stderr, "FAIL %s pack pool: prepare of layer %d\n", t->name, i);
        }
        /* from the tenth on, release every third earlier one */
        if (i >= 9 && i % 3 == 0 && L[i - 9].live) {
            t->release(L[i - 9].l.packed);
            L[i - 9].live = 0;
        }
    }
    for (int i = 0; i < NL; i++) {
        if (!L[i].live)
            continue;
        const struct mnet_conv_geom *g = &L[i].l.g;
        size_t nout = (size_t)g->out_h * g->out_w * g->out_c, bad = 0;
        float *out = xalloc(nout * 4);
        void *scratch = xalloc(L[i].l.scratch_bytes);
        if (L[i].dw)
            t->fdw_run(&L[i].l, 1, L[i].in, out, scratch, 1);
        else
            t->fconv_run(&L[i].l, 1, L[i].in, out, scratch, 1);
        for (size_t k = 0; k < nout; k++)
            bad += !(fabsf(out[k] - L[i].ref[k]) <= 1e-5f * (1.0f + fabsf(L[i].ref[k])));
        if (bad) {
            failures++;
            fprintf(stderr, "FAIL %s pack pool: layer %d (%s %d->%d): %zu of %zu differ\n", t->name, i,
                    L[i].dw ? "dw" : "1x1", g->in_c, g->out_c, bad, nout);
        }
        free(out);
        free(scratch);
    }
    /* odd ones first, then the rest from the end */
    for (int pass = 0; pass < 2; pass++)
        for (int i = NL - 1; i >= 0; i--)
            if (L[i].live && (pass || i % 2)) {
                t->release(L[i].l.packed);
                L[i].live = 0;
            }
    for (int i = 0; i < NL; i++) {
        free(L[i].w); free(L[i].bias); free(L[i].in); free(L[i].ref);
    }
}

/* count random pairs, or (count 0) every pair of bytes; random parameters
 * unless given.  Every pair comes with 37 more bytes (tail masks), and
 * out == a is run too. */
static void check_qadd(const struct mnet_kernel_ops *t, size_t count, const struct mnet_qbinary *given)
{
    if (!t->qadd_run) /* the plan uses the portable one */
        return;
    const int every = count == 0;
    if (every)
        count = 65536 + 37;
    uint8_t *a = xalloc(count), *b = xalloc(count), *ref = xalloc(count), *out = xalloc(count);
    for (size_t i = 0; i < count; i++) {
        a[i] = (uint8_t)(every ? i : rnd());
        b[i] = (uint8_t)(every ? i >> 8 ^ i >> 16 : rnd());
    }
    struct mnet_qbinary q;
    struct mnet_ref_qbinary r;
    if (given) {
        q = *given;
        ref_add(&r, &q);
    } else {
        make_add(&q, &r);
    }
    mnet_ref_qadd(&r, 1, count, a, b, 1, count, ref);
    for (int run = 0; run < 3; run++) { /* threads 1, 2; in place */
        if (run < 2)
            memset(out, 0xA5, count);
        else
            memcpy(out, a, count);
        t->qadd_run(&q, count, run < 2 ? a : out, b, out, run ? 2 : 1);
        size_t first, bad = diff_u8(out, ref, count, &first);
        if (bad) {
            failures++;
            fprintf(stderr, "FAIL %s qadd count %zu %s: %zu differ, first at a %d b %d: %d, not %d "
                    "(zp %d %d %d, mult %d>>%d %d>>%d %d>>%d, ls %d)\n", t->name, count,
                    run == 2 ? "in place" : run ? "2 threads" : "1 thread", bad, a[first], b[first], out[first],
                    ref[first], q.a_zp, q.b_zp, q.out_zp, q.a_mult, -q.a_shift, q.b_mult, -q.b_shift,
                    q.out_mult, -q.out_shift, q.left_shift);
        }
    }
    free(a); free(b); free(ref); free(out);
}

/* MUL with b broadcast as the plan runs it (b a (1,1,1,C) vector over each
 * image's pixels, one scalar, or a whole tensor; per image or one for the
 * batch) against the reference, random zero points, clamps and scales
 * (output multipliers with a right shift of 1-40 or a left shift). */
static void check_qmul(const struct mnet_kernel_ops *t)
{
    for (int it = 0; it < 60; it++) {
        const int n = rint_in(1, 3), C = rint_in(1, 300), hw = rint_in(1, it < 50 ? 40 : 800);
        const size_t inner = (size_t)hw * C;
        const int form = rint_in(0, 2), per_image = rint_in(0, 1);
        const size_t b_inner = form == 0 ? (size_t)C : form == 1 ? 1 : inner;
        struct mnet_qbinary q = { .a_zp = rint_in(0, 255), .b_zp = rint_in(0, 255), .out_zp = rint_in(0, 255) };
        act_range(&q.out_min, &q.out_max);
        const double real = ldexp(rfloat(0.5f, 1.0f), rint_in(-40, 3));
        int sh;
        mnet_quantize_multiplier(real, &q.out_mult, &sh);
        q.out_shift = sh;
        const struct mnet_ref_qbinary r = { .t = MNET_U8, .a_zp = q.a_zp, .b_zp = q.b_zp, .out_zp = q.out_zp,
                                            .out_min = q.out_min, .out_max = q.out_max,
                                            .out_mult = q.out_mult, .out_shift = q.out_shift };
        const size_t na = (size_t)n * inner, nb = per_image ? (size_t)n * b_inner : b_inner;
        uint8_t *a = xalloc(na), *b = xalloc(nb), *ref = xalloc(na), *out = xalloc(na);
        for (size_t i = 0; i < na; i++)
            a[i] = (uint8_t)rnd();
        for (size_t i = 0; i < nb; i++)
            b[i] = (uint8_t)rnd();
        mnet_ref_qmul(&r, n, inner, a, b, per_image ? n : 1, b_inner, ref);
        for (int threads = 1; threads <= 2; threads++) {
            memset(out, 0xA5, na);
            t->qmul_run(&q, n, inner, a, b, b_inner, per_image ? b_inner : 0, out, threads);
            size_t first, bad = diff_u8(out, ref, na, &first);
            if (bad) {
                failures++;
                fprintf(stderr, "FAIL %s qmul n%d inner %zu b_inner %zu%s t%d: %zu differ, first [%zu] %d, not %d "
                        "(zp %d %d %d, mult %d shift %d, clamp %d..%d)\n", t->name, n, inner, b_inner,
                        per_image ? " per image" : "", threads, bad, first, out[first], ref[first], q.a_zp,
                        q.b_zp, q.out_zp, q.out_mult, q.out_shift, q.out_min, q.out_max);
            }
        }
        free(a); free(b); free(ref); free(out);
    }
}

/* Byte tables: a random table over random bytes, lengths around the vector
 * width and one that takes both threads, against the table read by hand. */
static void check_lut(const struct mnet_kernel_ops *t)
{
    static const size_t counts[] = { 1, 63, 64, 65, 1000, 200003 };
    uint8_t lut[256];
    for (int i = 0; i < 256; i++)
        lut[i] = (uint8_t)rnd();
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
        for (int threads = 1; threads <= 2; threads++) {
            const size_t n = counts[c];
            uint8_t *in = xalloc(n), *out = xalloc(n);
            for (size_t i = 0; i < n; i++)
                in[i] = (uint8_t)rnd();
            memset(out, 0xA5, n);
            t->lut_run(lut, n, in, out, threads);
            size_t bad = 0;
            for (size_t i = 0; i < n; i++)
                bad += out[i] != lut[in[i]];
            if (bad) {
                failures++;
                fprintf(stderr, "FAIL %s lut count %zu t%d: %zu differ\n", t->name, n, threads, bad);
            }
            free(in); free(out);
        }
}

/* Every pair of bytes under fixed parameters: the real quant file's ADDs,
 * the builder's, and the ends of what the kernels accept (scales equal,
 * 2^-8 apart, a slope's fraction near 1/2 on one side or both, zero points
 * 0 and 255, ReLU6 clamps, an output scale with a left shift, small left
 * shifts).  Checked for all 256 x 256 pairs with a tail. */
static void check_qadd_fixed(const struct mnet_kernel_ops *t)
{
    static const struct mnet_qbinary fixed[] = {
        /* zp a, b, out; out_min, out_max; a_mult, a_shift, b_mult, b_shift, out_mult, out_shift, ls */
        { 136, 119, 133, 0, 255, 1073741824, 0, 1475367762, -1, 1995052007, -19, 20 },
        { 124, 130, 124, 0, 255, 2131432016, -1, 1073741824, 0, 1681202601, -19, 20 },
        { 127, 127, 126, 0, 255, 1073741824, 0, 2031709950, -1, 1713159654, -19, 20 },
        { 133, 133, 133, 0, 255, 1073741824, 0, 1521028858, -1, 1752439886, -19, 20 },
        { 0, 255, 255, 0, 255, 1073741824, 0, 1073741824, 0, 1073741824, -20, 20 },
        /* sums on exact ties of both signs for every byte of either side:
         * any entry off by one moves some rounding */
        { 200, 200, 128, 0, 255, 1073741824, 0, 1073741824, 0, 1073741824, -20, 20 },
        { 255, 0, 0, 0, 255, 1073741824, 0, 1073741825, -8, 2147483647, -19, 20 },
        { 255, 255, 0, 0, 6, 1073741824, 0, 1610612736, -1, 1431655765, -18, 20 },
        { 0, 0, 128, 128, 200, 1610612736, -1, 1610612736, -1, 1431655765, -19, 20 },
        { 3, 250, 17, 0, 255, 2147483647, -1, 1073741824, 0, 1518500250, 0, 20 },
        { 77, 180, 90, 10, 240, 1073741824, 0, 1398101333, -11, 1288490189, -10, 10 },
        { 200, 50, 100, 0, 255, 1879048192, -1, 1073741824, 0, 1717986918, -11, 12 },
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check_qadd(t, 0, &fixed[i]);
}

/* The shapes: MobileNet's own plus odd ones. */
/* Stem case c = (h, w, in_c, out_c, k, stride) with padding variant pad:
 * 0 SAME as TFLite (odd row/column at the end), 1 top and left 1, 2 top
 * only, 3 left only, 4 VALID.  0: the variant does not fit the map. */
static int stem_geom(struct mnet_conv_geom *g, const int *c, int pad)
{
    if (pad == 4 && (c[0] < c[4] || c[1] < c[4]))
        return 0;
    make_geom(g, c[0], c[1], c[2], c[3], c[4], c[5], pad == 4, 1);
    if (pad < 4) {
        g->pad_top = pad == 1 || pad == 2 ? 1 : 0;
        g->pad_left = pad == 1 || pad == 3 ? 1 : 0;
    }
    return 1;
}

/* The smallest x >= 0 whose requantization reaches v (right shift e), or -1
 * when none does below 2^31 - 2^(e-1) - 256 (mnet_mbqm is monotone in x).
 * Above that the x86 kernels' exact requantization (rq_apply) adds its
 * 2^(e-1) nudge past int32 (accumulators that close to 2^31 need a bias
 * near it; not the float path's concern). */
static int64_t rq_threshold(int v, int32_t mult, int e)
{
    int64_t lo = 0, hi = INT32_MAX - ((int64_t)1 << (e - 1)) - 256;
    if (mnet_mbqm((int32_t)hi, mult, -e) < v)
        return -1;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (mnet_mbqm((int32_t)mid, mult, -e) >= v)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Plain (ReLU6) layers whose accumulators sit at and around every output
 * threshold: a float requantization's ambiguous band (an x86 fast path,
 * kernels_x86.c rq_float) is hit there, which random data almost never
 * does.  One image of P pixels, pixel p holding byte p in every channel;
 * channel c (bias t_v - P/2, one tap of weight 1 after w_zp) sees
 * accumulators t_v - P/2 .. t_v + P/2 - 1.  Kinds: 1x1 (in_c 1), the same
 * with a weight zero point, depthwise 3x3 (the centre tap) on 16x16 and on
 * a 7x7 map with 248 channels (the VNNI table's 4-tap kernel).
 * Multipliers at both ends of [2^30, 2^31) with small and large right
 * shifts: 2^30 with e = 1 puts t exactly on an integer every fourth x;
 * large e puts every threshold within 2^-e of its integer.
 * top: the accumulators at the top of int32 instead (bias INT32_MAX - P, as
 * a hostile file may have), where rq_apply's nudge would pass 2^31 (the x86
 * kernels must hand such layers to an exact path), alternately with an
 * output zero point and clamp (the layers that take rq_apply directly). */
static void check_rq_band(const struct mnet_kernel_ops *t, int top)
{
    static const int64_t mults[] = { 1 << 30, (1u << 31) - 1, (1 << 30) + 1, 1518500250, 1234567891 };
    static const int es[] = { 1, 2, 7, 12, 20, 28 };
    static const int widths[] = { 255, 40, 24, 9 };
    const unsigned long fb0 = mnet_rq_fallbacks;
    int cases = 0;
    for (size_t mi = 0; mi < sizeof mults / sizeof mults[0]; mi++)
        for (size_t ei = 0; ei < sizeof es / sizeof es[0]; ei++)
            for (int kind = 0; kind < 6; kind++) {
                /* 0, 1: 1x1 convs of one input channel (4, 5: of 64, the rest
                 * weighing 0: the AMX GEMM's K); 2, 3: depthwise */
                const int32_t m = (int32_t)mults[mi];
                const int dw = kind == 2 || kind == 3, side = kind == 3 ? 7 : 16, P = side * side;
                const int cin = kind >= 4 ? 64 : 1, K = dw ? 9 : cin;
                const int e = es[ei], C = kind == 3 ? 248 : widths[cases++ % 4];
                const int32_t w_zp = kind == 1 || kind == 5 ? -5 : 0;
                const int32_t ozp = top && (ei + mi) % 2 ? 3 : 0, hi = top && (ei + mi) % 2 ? 250 : 255;
                struct mnet_conv_geom g;
                make_geom(&g, side, side, dw ? C : cin, C, dw ? 3 : 1, 1, 0, 1);
                const size_t nin = (size_t)P * (dw ? C : cin), nout = (size_t)P * C;
                int8_t *w = xalloc((size_t)C * K);
                uint8_t *in = xalloc(nin), *ref = xalloc(nout), *out = xalloc(nout);
                int32_t *bias = xalloc(C * 4), *w_sum = xalloc(C * 4), *mult = xalloc(C * 4);
                int32_t *shift = xalloc(C * 4), *wzp = xalloc(C * 4);
                for (int c = 0; c < C; c++) {
                    int v = C == 255 ? c + 1 : 1 + (c * 37 + (int)ei) % 255;
                    int64_t tv = rq_threshold(v, m, e);
                    bias[c] = top ? INT32_MAX - P : tv < 0 ? -P / 2 : (int32_t)tv - P / 2; /* none: around 0 */
                    mult[c] = m;
                    shift[c] = -e;
                    wzp[c] = w_zp;
                    if (dw) {
                        w[(size_t)4 * C + c] = 1;
                    } else {
                        memset(w + (size_t)c * cin, (int8_t)w_zp, (size_t)cin);
                        w[(size_t)c * cin] = (int8_t)(w_zp + 1);
                    }
                    w_sum[c] = dw ? 1 : w_zp + 1 + (cin - 1) * w_zp;
                }
                for (int px = 0; px < P; px++)
                    memset(in + (size_t)px * (dw ? C : cin), px, dw ? (size_t)C : (size_t)cin);
                struct mnet_ref_qconv r = { .g = g, .in_t = MNET_U8, .w_t = MNET_I8, .out_t = MNET_U8,
                                            .w = w, .bias = bias, .in_zp = 0, .w_zp = wzp,
                                            .w_zp_count = C, .mult = mult, .shift = shift,
                                            .out_zp = ozp, .out_min = 0, .out_max = hi };
                if (dw)
                    mnet_ref_qdw(&r, 1, in, ref);
                else
                    mnet_ref_qconv(&r, 1, in, ref);
                for (int threads = 1; threads <= 2; threads++) {
                    struct mnet_qconv l = { .g = g, .w = w, .bias = bias, .bias_folded = bias,
                                            .w_sum = w_sum, .in_zp = 0, .w_zp = w_zp, .out_zp = ozp,
                                            .out_min = 0, .out_max = hi, .mult = mult, .shift = shift };
                    char what[120];
                    snprintf(what, sizeof what, "rq band%s %s %dx%d mult %d e %d w_zp %d C %d",
                             top ? " (top)" : "", dw ? "qdw" : "qconv", side, side, m, e, w_zp, C);
                    run_qlayer(t, &l, dw, 1, in, out, ref, threads, what);
                }
                free(w); free(in); free(ref); free(out); free(bias); free(w_sum); free(mult);
                free(shift); free(wzp);
            }
    /* the band must have been reached: the fast path's exact re-runs */
    if (!top && (!strncmp(t->name, "avx512", 6) || !strcmp(t->name, "amx")) && mnet_rq_fallbacks == fb0) {
        failures++;
        fprintf(stderr, "FAIL %s rq band: no fallback to the exact requantization ran\n", t->name);
    }
}

static void run_table(const struct mnet_kernel_ops *t, int rounds)
{
    check_rq_band(t, 0);
    check_rq_band(t, 1);
    check_fpack_pool(t);
    check_fpack_pool(t); /* again: the chunks of the first are gone */
    char what[160];
    struct mnet_conv_geom g;
    /* Fixed MobileNet-like cases (v2 block shapes at a small map). */
    static const int pw_cases[][4] = { /* h, w, in_c, out_c */
        { 7, 7, 960, 160 }, { 14, 14, 64, 384 }, { 9, 9, 32, 16 }, { 5, 3, 24, 144 },
        { 1, 1, 1280, 1001 }, { 1, 1, 1024, 1001 }, { 4, 4, 320, 1280 }, { 3, 5, 17, 65 },
        { 2, 3, 3, 1 }, { 6, 1, 130, 63 },
        /* 1-4 rows (n 1 and 3) on panels of 1-3 vectors: the small-row tiles */
        { 1, 1, 77, 17 }, { 1, 1, 33, 47 }, { 2, 1, 50, 30 }, { 4, 1, 9, 200 },
        /* a task's last 1-4 rows in a short tile (VNNI), panels of 1-4 vectors */
        { 5, 5, 40, 16 }, { 2, 13, 20, 32 }, { 3, 5, 33, 96 }, { 7, 4, 24, 16 }, { 3, 9, 8, 40 },
        /* 17-24 columns, K % 8 == 0 (VNNI: the paired 24-column tile): one
         * and many 8-byte steps, 1-25 rows (odd: a row pair's second row not
         * stored); K % 8 != 0 keeps the 32-column tile */
        { 5, 5, 96, 24 }, { 3, 7, 8, 17 }, { 1, 1, 144, 24 }, { 13, 1, 16, 20 }, { 4, 3, 12, 24 },
        { 3, 3, 24, 18 },
    };
    for (size_t i = 0; i < sizeof pw_cases / sizeof pw_cases[0]; i++) {
        const int *c = pw_cases[i];
        for (int n = 1; n <= 3; n += 2) {
            make_geom(&g, c[0], c[1], c[2], c[3], 1, 1, 0, 1);
            for (int pt = 0; pt <= 3; pt++) {
                rq_right = pt >= 2; /* out_zp folded by the VNNI GEMM */
                snprintf(what, sizeof what, "qconv 1x1 n%d %dx%dx%d->%d %s%s", n, c[0], c[1], c[2], c[3],
                         pt % 2 ? "per-tensor" : "per-channel", rq_right ? " right shifts" : "");
                check_qconv(t, 0, n, &g, pt % 2, what);
            }
            rq_right = 0;
            snprintf(what, sizeof what, "fconv 1x1 n%d %dx%dx%d->%d", n, c[0], c[1], c[2], c[3]);
            check_fconv(t, 0, n, &g, what);
        }
    }
    /* out_zp folded at its limit and just past it, 1x1 and the stem */
    static const int limit_cases[][6] = { /* h, w, in_c, out_c, k, stride */
        { 3, 3, 8, 32, 1, 1 }, { 7, 7, 40, 70, 1, 1 }, { 9, 11, 3, 32, 3, 2 },
    };
    rq_right = 1;
    static const int past[] = { 0, 1, 40000 };
    for (size_t i = 0; i < sizeof limit_cases / sizeof limit_cases[0]; i++)
        for (size_t j = 0; j < sizeof past / sizeof past[0]; j++) {
            const int *c = limit_cases[i];
            zp_limit = past[j];
            make_geom(&g, c[0], c[1], c[2], c[3], c[4], c[5], 0, 1);
            snprintf(what, sizeof what, "qconv out_zp fold, %d past its limit, %dx%dx%d->%d k%d/%d",
                     zp_limit, c[0], c[1], c[2], c[3], c[4], c[5]);
            check_qconv(t, 0, 1, &g, 0, what);
        }
    rq_right = 0;
    zp_limit = -1;
    /* Depthwise: maps wide enough for whole chunks of pixels (C = 16, 32,
     * 48, 64, 96, 144; at stride 2 steps that straddle two pixels) next to
     * per-pixel edges. */
    static const int qdw_cases[][5] = { /* h, w, c, k, stride */
        { 5, 13, 32, 3, 1 }, { 4, 11, 144, 3, 1 }, { 3, 9, 48, 3, 1 }, { 6, 7, 96, 3, 2 },
        { 3, 6, 64, 3, 1 }, { 2, 12, 16, 3, 1 }, { 4, 15, 96, 3, 2 }, { 3, 19, 144, 3, 2 },
        { 3, 11, 32, 3, 2 }, { 5, 13, 48, 3, 2 }, { 3, 9, 192, 3, 2 },
    };
    for (size_t i = 0; i < sizeof qdw_cases / sizeof qdw_cases[0]; i++) {
        const int *c = qdw_cases[i];
        make_geom(&g, c[0], c[1], c[2], c[2], c[3], c[4], 0, 1);
        for (int pt = 0; pt <= 2; pt++) {
            snprintf(what, sizeof what, "qdw %dx%d/%d n2 %dx%dx%d pad %d,%d w_zp %s", c[3], c[3], c[4],
                     c[0], c[1], c[2], g.pad_top, g.pad_left, pt == 2 ? "-128" : pt ? "random" : "0");
            check_qconv(t, 1, 2, &g, pt, what);
        }
    }
    /* 3x3 depthwise through interleaved rows (VNNI): flat rows of 64-output
     * blocks (C % 8 == 0: 8, 16, 24, 200, ...) and per-pixel blocks (odd C),
     * tiny maps where every pixel is an edge, stride 1 and 2, both zero
     * points at their extremes (w_zp -128 takes a second pass of 64s) and
     * small w_zp (most channels' w - w_zp fit in int8, some do not). */
    static const int qdw3_cases[][5] = { /* h, w, c, stride, n */
        { 1, 1, 8, 1, 1 },    { 1, 1, 32, 2, 3 },  { 2, 2, 16, 1, 2 },   { 2, 3, 24, 2, 1 },
        { 3, 3, 200, 1, 2 },  { 3, 2, 33, 2, 2 },  { 4, 4, 8, 2, 3 },    { 4, 5, 96, 1, 1 },
        { 5, 5, 144, 2, 2 },  { 5, 4, 7, 1, 2 },   { 5, 5, 40, 1, 2 },   { 3, 17, 8, 1, 2 },
        { 7, 9, 16, 2, 2 },   { 6, 11, 24, 1, 1 }, { 4, 9, 200, 2, 2 },  { 8, 6, 65, 1, 2 },
        { 9, 7, 130, 2, 1 },  { 12, 12, 32, 1, 2 }, { 11, 13, 48, 2, 2 }, { 10, 10, 144, 1, 2 },
        { 6, 31, 96, 2, 1 },  { 5, 40, 32, 1, 1 },  { 7, 7, 960, 1, 1 },  { 14, 14, 576, 2, 1 },
        { 9, 9, 576, 2, 2 },  { 3, 70, 24, 2, 1 },
        /* stride 2, blocks straddling two pixels inside the image (one
         * load per tap and piece boundary, VNNI) next to edge blocks */
        { 3, 23, 144, 2, 1 }, { 4, 19, 96, 2, 2 }, { 3, 21, 48, 2, 1 }, { 5, 12, 80, 2, 1 },
        /* stride 1 pairs (VNNI, no excess): one group of 4 columns for two
         * pixels; odd and even widths (the last pair without its odd pixel),
         * blocks within one pair and straddling two (C 32, 80, 96, 144),
         * rows of several strips, C 16 and 48 (no pairs) next to them */
        { 3, 2, 32, 1, 1 },   { 4, 3, 64, 1, 2 },   { 5, 7, 96, 1, 1 },   { 6, 9, 144, 1, 2 },
        { 3, 14, 80, 1, 1 },  { 4, 15, 192, 1, 1 }, { 3, 33, 48, 1, 1 },  { 2, 5, 16, 1, 2 },
        { 3, 57, 144, 1, 1 }, { 2, 101, 96, 1, 2 }, { 3, 4, 576, 1, 1 },  { 4, 11, 384, 1, 2 },
        { 5, 6, 32, 1, 2 },   { 3, 45, 32, 1, 1 },
    };
    static const int32_t zps[][2] = { /* in_zp, w_zp */
        { 0, 127 }, { 255, -128 }, { 255, 3 }, { 255, 127 }, { 0, -128 }, { NO_ZP, -2 },
        { NO_ZP, NO_ZP },
    };
    for (size_t i = 0; i < sizeof qdw3_cases / sizeof qdw3_cases[0]; i++) {
        const int *c = qdw3_cases[i];
        for (int valid = 0; valid <= (c[0] >= 3 && c[1] >= 3); valid++) {
            make_geom(&g, c[0], c[1], c[2], c[2], 3, c[3], valid, 1);
            for (int pt = 0; pt <= 2; pt++) {
                const int32_t *z = zps[(i + (size_t)pt + (size_t)valid) % (sizeof zps / sizeof zps[0])];
                force_in_zp = z[0];
                force_w_zp = pt == 1 ? z[1] : NO_ZP;
                snprintf(what, sizeof what, "qdw 3x3/%d%s n%d %dx%dx%d pad %d,%d in_zp %d w_zp %s %d", c[3],
                         valid ? " valid" : "", c[4], c[0], c[1], c[2], g.pad_top, g.pad_left, z[0],
                         pt == 2 ? "-128" : pt ? "forced" : "0", pt == 1 ? z[1] : 0);
                check_qconv(t, 1, c[4], &g, pt, what);
            }
        }
    }
    force_in_zp = force_w_zp = NO_ZP;
    /* 3x3 depthwise rows too wide for one sweep per channel block (chunks of
     * columns), stride 1 and 2, odd sizes and channel tails */
    static const int fdw_cases[][4] = { /* h, w, c, stride */
        { 9, 40, 96, 2 }, { 5, 37, 100, 1 }, { 3, 29, 144, 1 }, { 4, 58, 33, 2 },
    };
    for (size_t i = 0; i < sizeof fdw_cases / sizeof fdw_cases[0]; i++) {
        const int *c = fdw_cases[i];
        for (int valid = 0; valid <= 1; valid++) {
            make_geom(&g, c[0], c[1], c[2], c[2], 3, c[3], valid, 1);
            snprintf(what, sizeof what, "fdw 3x3/%d%s n2 %dx%dx%d", c[3], valid ? " valid" : "", c[0],
                     c[1], c[2]);
            check_fconv(t, 1, 2, &g, what);
        }
    }
    /* the same bit for bit, stride 1 and 2, SAME and VALID: widths around
     * the blocks of 4 and 8 (border blocks at both ends, blocks that
     * recompute columns, rows narrower than a block), 32 channels (the first
     * blocks) and others, rows swept whole and in chunks of 8 */
    static const int fdw_exact[][4] = { /* h, w, c, stride */
        { 3, 1, 32, 1 },  { 4, 2, 32, 1 },   { 5, 3, 32, 2 },  { 3, 4, 32, 1 },  { 4, 5, 16, 1 },
        { 5, 6, 32, 1 },  { 6, 7, 48, 1 },   { 7, 7, 32, 1 },  { 4, 8, 32, 2 },  { 5, 9, 7, 1 },
        { 6, 9, 32, 2 },  { 3, 10, 32, 1 },  { 4, 11, 33, 1 }, { 7, 12, 32, 1 }, { 5, 13, 32, 2 },
        { 4, 14, 64, 1 }, { 5, 14, 32, 2 },  { 6, 15, 32, 1 }, { 3, 16, 96, 2 }, { 4, 17, 32, 1 },
        { 3, 28, 32, 1 }, { 5, 112, 32, 1 }, { 4, 61, 32, 1 }, { 6, 58, 64, 2 }, { 3, 59, 32, 2 },
        { 4, 45, 100, 1 }, { 3, 70, 144, 2 },
    };
    for (size_t i = 0; i < sizeof fdw_exact / sizeof fdw_exact[0]; i++) {
        const int *c = fdw_exact[i];
        for (int valid = 0; valid <= 1; valid++) {
            if (valid && (c[0] < 3 || c[1] < 3))
                continue;
            make_geom(&g, c[0], c[1], c[2], c[2], 3, c[3], valid, 1);
            snprintf(what, sizeof what, "fdw 3x3/%d%s n2 %dx%dx%d", c[3], valid ? " valid" : "", c[0],
                     c[1], c[2]);
            check_fdw_exact(t, 2, &g, what);
        }
    }
    /* Full convs with short kernel rows (k_w*in_c <= 16 bytes: the direct
     * kernel of the VNNI table, e.g. the stem 224x224x3 -> 112x112x32 3x3/2
     * SAME): in_c 1..4, stride 1 and 2, 3x3 and 5x5 (5x5x4: 20 bytes, the
     * GEMM again), odd sizes, maps narrower and wider than a tile (6, 8, 12
     * or 24 pixels by the output channels), every padding split, VALID (the
     * last pixel's runs end at the end of the input), w_zp 0 / random /
     * -128, 1 and 3 images.  The repacked columns: 3x3x3 on VBMI CPUs by 7
     * columns (widths 4-50 leave 0-6 over), others copied (in_c 5: 15-byte
     * columns; 4x4x4: K = 64, the largest; 7x7x2: K = 98, the GEMM). */
    static const int stem_cases[][6] = { /* h, w, in_c, out_c, k, stride */
        { 224, 224, 3, 32, 3, 2 }, { 17, 23, 3, 32, 3, 2 }, { 15, 29, 1, 8, 3, 1 },
        { 13, 30, 2, 40, 3, 2 }, { 9, 31, 4, 70, 3, 1 }, { 20, 27, 3, 16, 5, 2 },
        { 11, 26, 4, 24, 5, 1 }, { 7, 50, 3, 100, 3, 2 }, { 5, 13, 3, 64, 3, 2 },
        { 6, 53, 1, 17, 5, 2 }, { 4, 4, 3, 32, 3, 2 }, { 1, 40, 2, 32, 3, 1 },
        { 9, 22, 5, 32, 3, 2 }, { 10, 21, 4, 24, 4, 1 }, { 12, 19, 2, 16, 7, 2 },
        { 6, 16, 3, 48, 3, 1 },
    };
    for (size_t i = 0; i < sizeof stem_cases / sizeof stem_cases[0]; i++) {
        const int *c = stem_cases[i];
        const int big = c[0] > 100;
        for (int pad = 0; pad < (big ? 2 : 5); pad++) {
            if (!stem_geom(&g, c, pad))
                continue;
            for (int pt = 0; pt <= 2; pt++) {
                int n = big ? 1 + pt % 2 : pt == 1 ? 3 : 1;
                snprintf(what, sizeof what, "qconv stem %dx%d/%d n%d %dx%dx%d->%d pad %d,%d%s w_zp %s",
                         c[4], c[4], c[5], n, c[0], c[1], c[2], c[3], g.pad_top, g.pad_left,
                         pad == 4 ? " valid" : "", pt == 2 ? "-128" : pt ? "random" : "0");
                check_qconv(t, 0, n, &g, pt, what);
            }
            for (int n = 1; n <= (big ? 2 : 3); n += big ? 1 : 2) {
                snprintf(what, sizeof what, "fconv stem %dx%d/%d n%d %dx%dx%d->%d pad %d,%d%s", c[4],
                         c[4], c[5], n, c[0], c[1], c[2], c[3], g.pad_top, g.pad_left,
                         pad == 4 ? " valid" : "");
                check_fconv(t, 0, n, &g, what);
            }
        }
    }
    /* uint8 convs whose weight zero point folds into the weights, with
     * fix-ups for the outlier taps: 1x1 and gathered 3x3, panels of 16 to
     * 64 columns (none / some fix-ups in a 16-column tail panel: not
     * folded), K with a tail of 1-3 bytes, w_zp at both signs and -128
     * (fix-ups of up to 128); on amx (K >= 32, 32+ pixels) folded with a
     * few outlier steps (the last three: 0-4 steps) or raw with row sums
     * (576 and 130 columns: too many steps; w_zp -128: an excess of 128). */
    static const int fold_cases[][6] = { /* h, w, in_c, out_c, k, stride */
        { 5, 7, 24, 144, 1, 1 }, { 4, 4, 96, 24, 1, 1 }, { 3, 5, 16, 96, 1, 1 },
        { 7, 7, 64, 576, 1, 1 }, { 2, 3, 33, 200, 1, 1 }, { 6, 6, 40, 40, 1, 1 },
        { 9, 5, 150, 130, 1, 1 }, { 6, 6, 8, 64, 3, 1 }, { 7, 9, 10, 48, 3, 2 },
        { 5, 5, 144, 24, 1, 1 }, { 3, 7, 16, 19, 1, 1 }, { 2, 9, 40, 22, 1, 1 },
        { 6, 8, 96, 24, 1, 1 },  { 5, 8, 144, 24, 1, 1 }, { 8, 8, 192, 32, 1, 1 },
    };
    static const int32_t fold_zps[] = { 40, -40, -128, 3, 100 };
    sparse_outliers = 1;
    for (size_t i = 0; i < sizeof fold_cases / sizeof fold_cases[0]; i++) {
        const int *c = fold_cases[i];
        make_geom(&g, c[0], c[1], c[2], c[3], c[4], c[5], 0, 1);
        for (size_t z = 0; z < sizeof fold_zps / sizeof fold_zps[0]; z++) {
            force_w_zp = fold_zps[z];
            int n = 1 + (int)((i + z) % 3);
            snprintf(what, sizeof what, "qconv folded w_zp %d n%d %dx%dx%d->%d k%d/%d", fold_zps[z], n,
                     c[0], c[1], c[2], c[3], c[4], c[5]);
            check_qconv(t, 0, n, &g, 1, what);
        }
    }
    /* Depthwise 3x3 with the real files' weights: around w_zp, 1 in 12
     * channels with 1-2 outlier taps (the excess passes: one row per vector
     * without branches, or several rows / passes), per weight block. */
    static const int dwfold_cases[][4] = { /* h, w, c, stride */
        { 9, 11, 32, 1 }, { 8, 13, 96, 2 }, { 7, 9, 144, 1 }, { 6, 10, 144, 2 }, { 5, 6, 192, 1 },
        { 4, 4, 576, 1 }, { 5, 7, 40, 2 }, { 3, 5, 33, 1 },
    };
    /* and (outliers 3) the excess of a channel's outlier column in byte 3
     * of its groups (VNNI): every column, padded rows and columns, VALID,
     * mixed with channels that take passes */
    for (int mode = 1; mode <= 3; mode += 2) {
        sparse_outliers = mode;
        for (size_t i = 0; i < sizeof dwfold_cases / sizeof dwfold_cases[0]; i++) {
            const int *c = dwfold_cases[i];
            for (int valid = 0; valid <= (mode == 3); valid++) {
                make_geom(&g, c[0], c[1], c[2], c[2], 3, c[3], valid, 1);
                for (size_t z = 0; z < sizeof fold_zps / sizeof fold_zps[0]; z++) {
                    force_w_zp = fold_zps[z];
                    int n = 1 + (int)((i + z) % 2);
                    snprintf(what, sizeof what, "qdw 3x3/%d%s folded w_zp %d outliers %d n%d %dx%dx%d",
                             c[3], valid ? " valid" : "", fold_zps[z], mode, n, c[0], c[1], c[2]);
                    check_qconv(t, 1, n, &g, 1, what);
                }
            }
        }
    }
    /* Stride-1 pairs with excess (VNNI: passes, the odd pixel's weights a
     * byte on): outlier patterns (mode 4) in channels of every vector, odd
     * and even widths, one and several strips, w - w_zp up to 255 (excess
     * 128: two passes) and down to -255 */
    static const int dwpair_cases[][3] = { /* h, w, c */
        { 5, 7, 32 }, { 4, 6, 64 }, { 6, 9, 96 }, { 3, 14, 144 }, { 4, 5, 576 }, { 3, 57, 144 },
        { 5, 12, 80 }, { 3, 2, 192 },
    };
    static const int32_t pair_zps[] = { 127, -128, 40, -40 };
    sparse_outliers = 4;
    for (size_t i = 0; i < sizeof dwpair_cases / sizeof dwpair_cases[0]; i++) {
        const int *c = dwpair_cases[i];
        for (int valid = 0; valid <= (c[0] >= 3 && c[1] >= 3); valid++) {
            make_geom(&g, c[0], c[1], c[2], c[2], 3, 1, valid, 1);
            for (size_t z = 0; z < sizeof pair_zps / sizeof pair_zps[0]; z++) {
                force_w_zp = pair_zps[z];
                int n = 1 + (int)((i + z) % 2);
                snprintf(what, sizeof what, "qdw 3x3/1%s folded w_zp %d outliers 4 n%d %dx%dx%d",
                         valid ? " valid" : "", pair_zps[z], n, c[0], c[1], c[2]);
                check_qconv(t, 1, n, &g, 1, what);
            }
        }
    }
    /* Stride 1 with one-tap outliers in a given number of vectors, on
     * both sides of the choice between pairs with passes and the 3-tap
     * rows with the excess in byte 3 (qdw3_prepare; w_zp -128: an excess
     * of 128, byte 3 cannot take it, pairs always) */
    static const int dwx_cases[][4] = { /* h, w, c, channels with excess */
        { 8, 14, 144, 1 }, { 9, 12, 144, 2 }, { 8, 13, 576, 3 }, { 9, 12, 576, 4 }, { 5, 12, 192, 5 },
        { 4, 11, 192, 6 }, { 6, 9, 32, 1 }, { 5, 8, 32, 2 }, { 3, 10, 128, 3 }, { 4, 7, 128, 4 },
        /* pairs in block order (strips under 4 blocks per weight block):
         * runs of weight blocks without passes of every length (0 too),
         * strip starts inside a run, an odd width's last lone pixel */
        { 6, 14, 576, 1 }, { 5, 14, 576, 5 }, { 4, 13, 576, 9 }, { 5, 14, 384, 2 }, { 4, 13, 384, 4 },
        { 3, 26, 192, 2 },
    };
    sparse_outliers = 5;
    for (size_t i = 0; i < sizeof dwx_cases / sizeof dwx_cases[0]; i++) {
        const int *c = dwx_cases[i];
        outlier_chans = c[3];
        for (int valid = 0; valid <= 1; valid++) {
            make_geom(&g, c[0], c[1], c[2], c[2], 3, 1, valid, 1);
            for (size_t z = 0; z < sizeof pair_zps / sizeof pair_zps[0]; z++) {
                force_w_zp = pair_zps[z];
                int n = 1 + (int)((i + z) % 2);
                snprintf(what, sizeof what, "qdw 3x3/1%s folded w_zp %d outliers in %d channels n%d %dx%dx%d",
                         valid ? " valid" : "", pair_zps[z], c[3], n, c[0], c[1], c[2]);
                check_qconv(t, 1, n, &g, 1, what);
            }
        }
    }
    /* Stride 1, every outlier tap in one vector and kernel row (VNNI: pairs
     * with one untested pass of that vector in every block, where over a
     * third of the weight blocks have one): each vector and row, one strip
     * and several, odd widths, one pass per block or several vectors apart */
    static const int dwfix_cases[][4] = { /* h, w, c, channels with excess */
        { 8, 14, 144, 1 }, { 5, 57, 144, 1 }, { 6, 9, 144, 3 }, { 5, 12, 32, 1 }, { 4, 11, 96, 2 },
        { 5, 13, 192, 1 }, { 3, 10, 144, 9 }, { 4, 9, 80, 2 },
    };
    sparse_outliers = 6;
    for (size_t i = 0; i < sizeof dwfix_cases / sizeof dwfix_cases[0]; i++) {
        const int *c = dwfix_cases[i];
        outlier_chans = c[3];
        make_geom(&g, c[0], c[1], c[2], c[2], 3, 1, (int)i % 3 == 2, 1);
        for (int v = 0; v < 12; v++) {
            outlier_c0 = v / 3 * 4 + rint_in(0, 3) + 16 * rint_in(0, c[2] / 16 - 1);
            outlier_ky = v % 3;
            force_w_zp = pair_zps[(size_t)v % (sizeof pair_zps / sizeof pair_zps[0])];
            int n = 1 + (int)((i + v) % 2);
            snprintf(what, sizeof what, "qdw 3x3/1 folded w_zp %d outliers in %d channels from %d row %d n%d %dx%dx%d",
                     force_w_zp, c[3], outlier_c0, outlier_ky, n, c[0], c[1], c[2]);
            check_qconv(t, 1, n, &g, 1, what);
        }
    }
    /* The 4-tap kernel (VNNI: 5x5, 7x7 maps with many channels) with the
     * weights near w_zp: w - w_zp in int8 everywhere, or not at one
     * channel's tap (its excess by one more vpdpbusd; of 128 at w_zp -128:
     * the int16 kernel) */
    static const int dw4_cases[][5] = { /* h, w, c, k, stride */
        { 14, 14, 240, 5, 1 }, { 9, 11, 120, 5, 1 }, { 7, 7, 576, 5, 1 }, { 8, 9, 96, 5, 2 },
        { 7, 8, 288, 5, 2 }, { 5, 6, 16, 5, 1 }, { 6, 5, 72, 5, 2 }, { 7, 7, 960, 3, 1 },
    };
    for (size_t i = 0; i < sizeof dw4_cases / sizeof dw4_cases[0]; i++) {
        const int *c = dw4_cases[i];
        make_geom(&g, c[0], c[1], c[2], c[2], c[3], c[4], 0, 1);
        for (outlier_chans = 0; outlier_chans <= 1; outlier_chans++)
            for (size_t z = 0; z < sizeof pair_zps / sizeof pair_zps[0]; z++) {
                force_w_zp = pair_zps[z];
                int n = 1 + (int)((i + z) % 2);
                snprintf(what, sizeof what, "qdw %dx%d/%d w_zp %d outliers in %d channels n%d %dx%dx%d", c[3],
                         c[3], c[4], pair_zps[z], outlier_chans, n, c[0], c[1], c[2]);
                check_qconv(t, 1, n, &g, 1, what);
            }
    }
    sparse_outliers = 1;
    /* The direct (stem) kernel with w_zp folded: fix-ups read from the
     * repacked rows, padded columns and rows among them (every padding
     * split, VALID, maps narrower than a tile, K = 64), in 16-column panels, w_zp at both extremes (-128: a
     * fix-up of 128 takes two), and an outlier in every channel (more than
     * a panel's fix-ups: the row sums instead). */
    static const int fold_stem_cases[][6] = { /* h, w, in_c, out_c, k, stride */
        { 224, 224, 3, 32, 3, 2 }, { 17, 23, 3, 32, 3, 2 }, { 15, 29, 1, 8, 3, 1 },
        { 13, 30, 2, 40, 3, 2 }, { 9, 31, 4, 70, 3, 1 }, { 20, 27, 3, 16, 5, 2 },
        { 7, 50, 3, 100, 3, 2 }, { 4, 4, 3, 32, 3, 2 }, { 9, 22, 5, 32, 3, 2 }, { 10, 21, 4, 24, 4, 1 },
    };
    static const int32_t fold_stem_zps[] = { -6, 12, -128, 127 };
    for (size_t i = 0; i < sizeof fold_stem_cases / sizeof fold_stem_cases[0]; i++) {
        const int *c = fold_stem_cases[i];
        const int big = c[0] > 100;
        for (int pad = 0; pad < (big ? 2 : 5); pad++) {
            if (!stem_geom(&g, c, pad))
                continue;
            for (size_t z = 0; z < sizeof fold_stem_zps / sizeof fold_stem_zps[0]; z++) {
                for (sparse_outliers = 1; sparse_outliers <= 2; sparse_outliers++) {
                    if (sparse_outliers == 2 && z % 2)
                        continue;
                    force_w_zp = fold_stem_zps[z];
                    int n = big ? 1 : 1 + (int)((pad + z) % 2) * 2;
                    snprintf(what, sizeof what, "qconv folded stem %dx%d/%d n%d %dx%dx%d->%d pad %d,%d%s w_zp %d%s",
                             c[4], c[4], c[5], n, c[0], c[1], c[2], c[3], g.pad_top, g.pad_left,
                             pad == 4 ? " valid" : "", fold_stem_zps[z],
                             sparse_outliers == 2 ? " outliers everywhere" : "");
                    check_qconv(t, 0, n, &g, 1, what);
                }
            }
        }
    }
    /* Tasks of at most 4 rows (the classifier at batch 1-4, the short
     * tiles of the VNNI GEMM): 1x1 maps at batch 1-4, K with a tail,
     * 48- and 64-column panels, per-channel, per-tensor (row sums) and
     * folded w_zp with outlier fix-ups. */
    static const int short_cases[][4] = { /* h, w, in_c, out_c */
        { 1, 1, 1280, 1001 }, { 1, 1, 37, 100 }, { 2, 2, 64, 130 }, { 1, 3, 96, 64 }, { 1, 1, 5, 48 },
    };
    for (size_t i = 0; i < sizeof short_cases / sizeof short_cases[0]; i++) {
        const int *c = short_cases[i];
        make_geom(&g, c[0], c[1], c[2], c[3], 1, 1, 0, 1);
        for (int n = 1; n <= 4; n++)
            for (int mode = 0; mode < 3; mode++) {
                sparse_outliers = mode == 2;
                force_w_zp = mode == 2 ? (n % 2 ? -128 : 20) : NO_ZP;
                snprintf(what, sizeof what, "qconv short n%d %dx%dx%d->%d %s", n, c[0], c[1], c[2], c[3],
                         mode == 0 ? "per-channel" : mode == 1 ? "per-tensor" : "folded");
                check_qconv(t, 0, n, &g, mode > 0, what);
            }
    }
    sparse_outliers = 0;
    force_w_zp = NO_ZP;
    for (int round = 0; round < rounds; round++) {
        int n = rint_in(1, 3);
        int h = rint_in(1, 19), w = rint_in(1, 19);
        int k = rnd() % 3 == 0 ? 5 : 3, s = rint_in(1, 2), valid = rnd() % 4 == 0;
        if (valid && (h < k || w < k))
            valid = 0;
        /* full conv: the stem (3 channels) and odd ones */
        int ic = rnd() % 2 ? 3 : rint_in(1, 40), oc = rint_in(1, 80);
        make_geom(&g, h, w, ic, oc, k, s, valid, 1);
        int pt = rnd() % 2;
        snprintf(what, sizeof what, "qconv %dx%d/%d%s n%d %dx%dx%d->%d pad %d,%d %s", k, k, s,
                 valid ? " valid" : "", n, h, w, ic, oc, g.pad_top, g.pad_left, pt ? "per-tensor" : "per-channel");
        check_qconv(t, 0, n, &g, pt, what);
        snprintf(what, sizeof what, "fconv %dx%d/%d%s n%d %dx%dx%d->%d", k, k, s, valid ? " valid" : "",
                 n, h, w, ic, oc);
        check_fconv(t, 0, n, &g, what);
        /* pointwise with random sizes */
        ic = rint_in(1, 300);
        oc = rint_in(1, 300);
        make_geom(&g, h, w, ic, oc, 1, 1, 0, 1);
        snprintf(what, sizeof what, "qconv 1x1 n%d %dx%dx%d->%d %s", n, h, w, ic, oc, pt ? "per-tensor" : "per-channel");
        check_qconv(t, 0, n, &g, pt, what);
        snprintf(what, sizeof what, "fconv 1x1 n%d %dx%dx%d->%d", n, h, w, ic, oc);
        check_fconv(t, 0, n, &g, what);
        /* depthwise: 3x3 mostly, channel counts around the vector widths */
        static const int chans[] = { 1, 7, 16, 31, 32, 33, 64, 96, 100, 144, 960 };
        int c = chans[rnd() % (sizeof chans / sizeof chans[0])];
        int dm = rnd() % 6 == 0 ? 2 : 1;
        make_geom(&g, h, w, c, c * dm, k, s, valid, dm);
        snprintf(what, sizeof what, "qdw %dx%d/%d%s dm%d n%d %dx%dx%d pad %d,%d %s", k, k, s,
                 valid ? " valid" : "", dm, n, h, w, c, g.pad_top, g.pad_left, pt ? "per-tensor" : "per-channel");
        check_qconv(t, 1, n, &g, pt, what);
        snprintf(what, sizeof what, "fdw %dx%d/%d%s dm%d n%d %dx%dx%d", k, k, s, valid ? " valid" : "", dm,
                 n, h, w, c);
        check_fconv(t, 1, n, &g, what);
        check_qadd(t, (size_t)rint_in(1, 5000), NULL);
    }
    check_qadd(t, 56 * 56 * 24 * 2 + 5, NULL); /* big enough to use both threads */
    for (int i = 0; i < 8; i++)
        check_qadd(t, 0, NULL);
    check_qadd_fixed(t);
    if (t->qmul_run) /* NULL: the plan uses the portable one */
        check_qmul(t);
    if (t->lut_run)
        check_lut(t);
}

int main(void)
{
    const char *seed = getenv("MNET_TEST_SEED"), *rounds_s = getenv("MNET_TEST_ROUNDS");
    if (seed)
        rng_state ^= strtoull(seed, NULL, 0) * 0x9E3779B97F4A7C15ULL;
    int rounds = rounds_s ? atoi(rounds_s) : 40;
    const struct mnet_kernel_ops *tables[8];
    int nt = 0;
    tables[nt++] = &mnet_kernels_c;
    nt += mnet_cpu_kernel_tables(tables + nt, 7);
    printf("cpu: avx2 %d, avxvnni %d, avx512 %d, avx512vnni %d; tables:", mnet_cpu_avx2(), mnet_cpu_avxvnni(),
           mnet_cpu_avx512(), mnet_cpu_avx512vnni());
    for (int i = 0; i < nt; i++)
        printf(" %s", tables[i]->name);
    printf("\n");
    fflush(stdout);
    for (int i = 0; i < nt; i++) {
        int before = failures;
        run_table(tables[i], rounds);
        printf("%s: %s\n", tables[i]->name, failures == before ? "ok" : "FAILED");
        fflush(stdout);
    }
    if (failures)
        fprintf(stderr, "%d failures\n", failures);
    return failures ? 1 : 0;
}
