/* test_kernels.c: the fixed-point primitives against hand-computed cases and a
 * double-precision oracle, and every production kernel table against the
 * naive reference kernels on many random shapes (bit-exact for integers). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "kernels.h"
#include "quant.h"
#include "check.h"


static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}
static int rint_in(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }
static double runif(double lo, double hi) { return lo + (hi - lo) * (rnd() / 2097152.0 / 1024.0); }

/* ---------------- primitives ---------------- */

static void test_primitives(void)
{
    int32_t m;
    int s;
    mnet_quantize_multiplier(0.5, &m, &s);
    CHECK(m == (1 << 30) && s == 0, "qm(0.5) = %d,%d", m, s);
    mnet_quantize_multiplier(1.0, &m, &s);
    CHECK(m == (1 << 30) && s == 1, "qm(1.0) = %d,%d", m, s);
    mnet_quantize_multiplier(0.75, &m, &s);
    CHECK(m == 1610612736 && s == 0, "qm(0.75) = %d,%d", m, s);
    mnet_quantize_multiplier(0.0, &m, &s);
    CHECK(m == 0 && s == 0, "qm(0)");
    mnet_quantize_multiplier(ldexp(1.0, -40), &m, &s);
    CHECK(m == 0 && s == 0, "qm(2^-40) flushes to zero: %d,%d", m, s);
    /* mantissa that rounds up to 2^31: carried into the exponent */
    mnet_quantize_multiplier((2147483647.75) / 2147483648.0 * 0.25, &m, &s);
    CHECK(m == (1 << 30) && s == -1, "qm carry = %d,%d", m, s);
    mnet_quantize_multiplier(0.0235285 * 0.0339689 / 0.0235285, &m, &s);
    CHECK(s == -4, "qm small shift %d", s);
    /* oracle: m * 2^s / 2^31 reconstructs the real multiplier */
    for (int i = 0; i < 10000; i++) {
        double r = exp(runif(log(1e-9), log(1e3)));
        mnet_quantize_multiplier(r, &m, &s);
        double back = ldexp((double)m, s - 31);
        CHECK(fabs(back - r) <= r * ldexp(1.0, -31), "qm oracle %g -> %g", r, back);
        CHECK(m >= (1 << 30), "qm normalized %g %d", r, m);
    }

    /* SaturatingRoundingDoublingHighMul and RoundingDivideByPOT */
    CHECK(mnet_srdhm(INT32_MIN, INT32_MIN) == INT32_MAX, "srdhm saturation");
    CHECK(mnet_srdhm(3, 1 << 30) == 2, "srdhm 1.5 -> 2");
    CHECK(mnet_srdhm(-3, 1 << 30) == -1, "srdhm -1.5 -> -1 (gemmlowp nudge)");
    CHECK(mnet_rdivpot(5, 1) == 3 && mnet_rdivpot(-5, 1) == -3 && mnet_rdivpot(-4, 1) == -2,
          "rdivpot ties away from zero");
    CHECK(mnet_rdivpot(7, 0) == 7, "rdivpot by 1");
    /* double rounding: 5 * 0.25 = 1.25 -> srdhm gives 3 (2.5 up), then /2 -> 2 */
    CHECK(mnet_mbqm(5, 1 << 30, -1) == 2, "mbqm double rounding %d", mnet_mbqm(5, 1 << 30, -1));
    CHECK(mnet_mbqm(6, 1 << 30, 0) == 3, "mbqm 6*0.5");
    CHECK(mnet_mbqm(100, 1 << 30, 2) == 200, "mbqm left shift");
    for (int i = 0; i < 100000; i++) {
        int32_t x = (int32_t)(rnd() % (1u << 25)) - (1 << 24);
        int32_t mm = (1 << 30) + (int32_t)(rnd() % (1u << 30));
        int sh = rint_in(-20, 2);
        double exact = (double)x * mm / 2147483648.0 * ldexp(1.0, sh);
        int32_t got = mnet_mbqm(x, mm, sh);
        CHECK(fabs(got - exact) <= 1.0, "mbqm oracle x=%d m=%d s=%d got %d want %.3f", x, mm, sh,
              got, exact);
        if (fabs(got - exact) > 1.0)
            break;
    }

    /* the branch-free epilogue form gives the same integers */
    for (int i = 0; i < 2000000; i++) {
        int32_t x = (int32_t)(((uint64_t)rnd() << 11) ^ rnd());
        if (i % 4 == 0)
            x >>= rint_in(0, 30);
        int32_t mm = (1 << 30) + (int32_t)(rnd() % (1u << 30));
        if (i % 97 == 0)
            mm = i % 2 ? (1 << 30) : INT32_MAX;
        int sh = rint_in(-31, 6);
        int32_t a = mnet_mbqm(x, mm, sh), b = mnet_mbqm_fast(x, mm, sh > 0 ? sh : 0, sh > 0 ? 0 : -sh);
        if (a != b) {
            CHECK(0, "mbqm_fast x=%d m=%d s=%d: %d vs %d", x, mm, sh, b, a);
            break;
        }
    }

    /* mnet_alloc_big: zeroed and aligned on both sides of MNET_HUGE_MIN,
     * writable to its last byte (the kernels' packs, the arena) */
    {
        const size_t sizes[] = { 1, 100, MNET_HUGE_MIN - 1, MNET_HUGE_MIN, 3 * MNET_HUGE_MIN + 5 };
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            unsigned char *p = mnet_alloc_big(sizes[i]);
            CHECK(p != NULL, "alloc_big(%zu)", sizes[i]);
            if (!p)
                continue;
            CHECK((uintptr_t)p % 64 == 0, "alloc_big(%zu) 64-byte aligned", sizes[i]);
            size_t nz = 0;
            for (size_t k = 0; k < sizes[i]; k++)
                nz += p[k] != 0;
            CHECK(nz == 0, "alloc_big(%zu): %zu nonzero bytes", sizes[i], nz);
            memset(p, 0xa5, sizes[i]);
            free(p);
        }
    }

    /* fused activation ranges */
    int32_t lo, hi;
    mnet_activation_range_q(MNET_ACT_RELU6, 6.0f / 255.0f, 0, MNET_U8, &lo, &hi);
    CHECK(lo == 0 && hi == 255, "relu6 range %d..%d", lo, hi);
    mnet_activation_range_q(MNET_ACT_RELU6, 0.1f, 10, MNET_U8, &lo, &hi);
    CHECK(lo == 10 && hi == 70, "relu6 range2 %d..%d", lo, hi);
    mnet_activation_range_q(MNET_ACT_RELU, 0.1f, -5, MNET_I8, &lo, &hi);
    CHECK(lo == -5 && hi == 127, "relu int8 %d..%d", lo, hi);
    mnet_activation_range_q(MNET_ACT_NONE, 0.1f, -5, MNET_I8, &lo, &hi);
    CHECK(lo == -128 && hi == 127, "none int8");

    /* gemmlowp exp, reciprocal, logistic against double */
    double maxe = 0;
    for (int64_t a = 0; a > -((int64_t)1 << 31); a -= (1 << 18) + 7) {
        double got = mnet_fp_exp_on_negative_values((int32_t)a, 5) / 2147483648.0;
        double want = exp((double)a / (1 << 26));
        maxe = fmax(maxe, fabs(got - want));
    }
    CHECK(maxe < 2e-7, "exp_on_negative_values max err %g", maxe);
    CHECK(mnet_fp_exp_on_negative_values(0, 5) == INT32_MAX, "exp(0) = one");
    maxe = 0;
    for (int64_t a = 0; a < ((int64_t)1 << 31); a += (1 << 16) + 3) {
        double got = mnet_fp_one_over_one_plus_x_for_x_in_0_1((int32_t)a) / 2147483648.0;
        maxe = fmax(maxe, fabs(got - 1.0 / (1.0 + a / 2147483648.0)));
    }
    CHECK(maxe < 1e-8, "one_over_one_plus_x max err %g", maxe);
    maxe = 0;
    for (int64_t a = -((int64_t)1 << 31) + 1; a < ((int64_t)1 << 31); a += (1 << 20) + 11) {
        double got = mnet_fp_logistic((int32_t)a, 4) / 2147483648.0;
        maxe = fmax(maxe, fabs(got - 1.0 / (1.0 + exp(-(double)a / (1 << 27)))));
    }
    CHECK(maxe < 1e-6, "logistic max err %g", maxe);

    /* ADD parameterisation against a double oracle: within 1 unit */
    for (int i = 0; i < 2000; i++) {
        double sa = runif(0.005, 0.5), sb = runif(0.005, 0.5), so = runif(0.01, 0.8);
        struct mnet_ref_qbinary p = {.t = MNET_U8, .a_zp = rint_in(0, 255), .b_zp = rint_in(0, 255),
                                     .out_zp = rint_in(0, 255), .out_min = 0, .out_max = 255,
                                     .left_shift = 20};
        mnet_quant_add_params(sa, sb, so, 20, &p.a_mult, &p.a_shift, &p.b_mult, &p.b_shift,
                              &p.out_mult, &p.out_shift);
        uint8_t a = (uint8_t)rnd(), b = (uint8_t)rnd(), o;
        mnet_ref_qadd(&p, 1, 1, &a, &b, 1, 1, &o);
        double want = ((a - p.a_zp) * sa + (b - p.b_zp) * sb) / so + p.out_zp;
        want = fmin(255, fmax(0, want));
        CHECK(fabs(o - want) <= 1.0, "add oracle %d vs %.3f", o, want);
    }
    /* MUL against a double oracle */
    for (int i = 0; i < 2000; i++) {
        double sa = runif(0.005, 0.1), sb = runif(0.005, 0.1), so = runif(0.01, 0.8);
        struct mnet_ref_qbinary p = {.t = MNET_U8, .a_zp = rint_in(0, 255), .b_zp = rint_in(0, 255),
                                     .out_zp = rint_in(0, 255), .out_min = 0, .out_max = 255};
        int sh;
        mnet_quantize_multiplier(sa * sb / so, &p.out_mult, &sh);
        p.out_shift = sh;
        uint8_t a = (uint8_t)rnd(), b = (uint8_t)rnd(), o;
        mnet_ref_qmul(&p, 1, 1, &a, &b, 1, 1, &o);
        double want = fmin(255, fmax(0, (a - p.a_zp) * sa * (b - p.b_zp) * sb / so + p.out_zp));
        CHECK(fabs(o - want) <= 1.0, "mul oracle %d vs %.3f", o, want);
    }

    /* softmax: uint8 in, 1/256 out, close to the float softmax */
    for (int it = 0; it < 50; it++) {
        int depth = rint_in(2, 1001);
        float scale = (float)runif(0.02, 0.3);
        uint8_t *x = malloc(depth), *y = malloc(depth);
        float *xf = malloc(depth * sizeof(float)), *yf = malloc(depth * sizeof(float));
        for (int c = 0; c < depth; c++) {
            x[c] = (uint8_t)rnd();
            xf[c] = (float)(x[c] * scale);
        }
        struct mnet_qsoftmax_params sp = {.in_t = MNET_U8, .out_t = MNET_U8, .out_zp = 0};
        mnet_quant_softmax_params(1.0, scale, &sp.input_multiplier, &sp.input_left_shift,
                                  &sp.diff_min);
        mnet_ref_qsoftmax(&sp, 1, depth, x, y);
        mnet_ref_fsoftmax(1, depth, 1.0f, xf, yf);
        double me = 0;
        for (int c = 0; c < depth; c++) { /* not fmax: aarch64 gcc 12.2 -O3 ICEs vectorizing it */
            double d = fabs(y[c] - fmin(255.0, yf[c] * 256.0));
            me = d > me ? d : me;
        }
        CHECK(me <= 1.01, "softmax vs float: %g units (depth %d)", me, depth);
        free(x), free(y), free(xf), free(yf);
    }
    /* softmax of equal values: 1/depth each */
    {
        uint8_t x[4] = {7, 7, 7, 7}, y[4];
        struct mnet_qsoftmax_params sp = {.in_t = MNET_U8, .out_t = MNET_U8};
        mnet_quant_softmax_params(1.0, 0.1, &sp.input_multiplier, &sp.input_left_shift, &sp.diff_min);
        mnet_ref_qsoftmax(&sp, 1, 4, x, y);
        CHECK(y[0] == 64 && y[3] == 64, "softmax uniform %d", y[0]);
    }

    /* logistic vs float */
    for (int it = 0; it < 20; it++) {
        float scale = (float)runif(0.01, 0.2);
        struct mnet_qlogistic_params lp = {.t = MNET_U8, .in_zp = rint_in(0, 255)};
        mnet_quant_logistic_params(scale, &lp.input_multiplier, &lp.input_left_shift,
                                   &lp.input_range_radius);
        for (int v = 0; v < 256; v++) {
            uint8_t x = (uint8_t)v, y;
            mnet_ref_qlogistic(&lp, 1, &x, &y);
            double want = fmin(255, 256.0 / (1.0 + exp(-(v - lp.in_zp) * (double)scale)));
            CHECK(fabs(y - want) <= 1.0, "logistic %d: %d vs %.2f", v, y, want);
        }
    }

    /* hard-swish vs float (TFLite's is within a unit or so of exact) */
    for (int it = 0; it < 40; it++) {
        float si = (float)runif(0.01, 0.2), so = (float)runif(0.01, 0.2);
        struct mnet_qhswish_params hp = {.t = it & 1 ? MNET_I8 : MNET_U8};
        hp.in_zp = hp.t == MNET_I8 ? rint_in(-128, 127) : rint_in(0, 255);
        hp.out_zp = hp.t == MNET_I8 ? rint_in(-128, 127) : rint_in(0, 255);
        mnet_quant_hswish_params(si, so, &hp.reluish_mult, &hp.reluish_exp, &hp.out_mult, &hp.out_exp);
        for (int v = 0; v < 256; v++) {
            int32_t q = hp.t == MNET_I8 ? v - 128 : v;
            uint8_t xb = (uint8_t)q, yb;
            mnet_ref_qhswish(&hp, 1, &xb, &yb);
            int32_t y = hp.t == MNET_I8 ? (int8_t)yb : yb;
            double x = (q - hp.in_zp) * (double)si;
            double want = x * fmin(6, fmax(0, x + 3)) / 6 / so + hp.out_zp;
            want = hp.t == MNET_I8 ? fmin(127, fmax(-128, want)) : fmin(255, fmax(0, want));
            CHECK(fabs(y - want) <= 1.5, "hswish %d: %d vs %.2f", q, y, want);
        }
    }

    /* MEAN, both TFLite algorithms, against the exact mean: within 1 unit */
    for (int it = 0; it < 300; it++) {
        int hw = rint_in(1, 60), algo = it & 1;
        enum mnet_dtype t = algo ? MNET_U8 : (rint_in(0, 1) ? MNET_I8 : MNET_U8);
        struct mnet_qmean_params mp = {.t = t, .in_scale = (float)runif(0.01, 0.2),
                                       .out_scale = (float)runif(0.01, 0.2), .uint8_algo = algo};
        mp.in_zp = t == MNET_I8 ? rint_in(-128, 127) : rint_in(0, 255);
        mp.out_zp = t == MNET_I8 ? rint_in(-128, 127) : rint_in(0, 255);
        uint8_t x[60], y;
        double sum = 0;
        for (int i = 0; i < hw; i++) {
            x[i] = (uint8_t)rnd();
            sum += (t == MNET_I8 ? (int8_t)x[i] : x[i]) - mp.in_zp;
        }
        mnet_ref_qmean(&mp, 1, hw, 1, x, &y);
        double want = sum / hw * mp.in_scale / mp.out_scale + mp.out_zp;
        want = t == MNET_I8 ? fmin(127, fmax(-128, want)) : fmin(255, fmax(0, want));
        int32_t got = t == MNET_I8 ? (int8_t)y : y;
        CHECK(fabs(got - want) <= 1.0, "mean algo %d: %d vs %.3f", algo, got, want);
    }

    /* avg rounding: uint8 rounds half up, int8 half away from zero */
    CHECK(mnet_quant_avg(5, 2, 0) == 3 && mnet_quant_avg(-5, 2, 1) == -3 && mnet_quant_avg(-1, 2, 1) == -1,
          "avg rounding");
    /* quantize / dequantize */
    {
        float f[4] = {0.5f, -0.5f, 1000.0f, 0.24f};
        uint8_t q[4];
        mnet_ref_quantize(4, f, 0.5f, 3, MNET_U8, q);
        CHECK(q[0] == 4 && q[1] == 2 && q[2] == 255 && q[3] == 3, "quantize %d %d %d %d", q[0], q[1], q[2], q[3]);
        float d[4];
        mnet_ref_dequantize(4, q, MNET_U8, 0.5f, 3, d);
        CHECK(d[0] == 0.5f && d[1] == -0.5f, "dequantize");
    }
}

/* ---------------- kernels vs reference ---------------- */

struct qcase {
    struct mnet_conv_geom g;
    enum mnet_dtype t;       /* activations and weights: U8 per-tensor or I8 per-channel */
    int depthwise;
};

static int same_or_valid(struct mnet_conv_geom *g, int same)
{
    int ekh = (g->k_h - 1) * g->dil_h + 1, ekw = (g->k_w - 1) * g->dil_w + 1;
    if (same) {
        g->out_h = (g->in_h + g->stride_h - 1) / g->stride_h;
        g->out_w = (g->in_w + g->stride_w - 1) / g->stride_w;
        int ph = (g->out_h - 1) * g->stride_h + ekh - g->in_h;
        int pw = (g->out_w - 1) * g->stride_w + ekw - g->in_w;
        g->pad_top = ph > 0 ? ph / 2 : 0;
        g->pad_left = pw > 0 ? pw / 2 : 0;
    } else {
        if (g->in_h < ekh || g->in_w < ekw)
            return -1;
        g->out_h = (g->in_h - ekh) / g->stride_h + 1;
        g->out_w = (g->in_w - ekw) / g->stride_w + 1;
        g->pad_top = g->pad_left = 0;
    }
    return 0;
}

static void random_geom(struct mnet_conv_geom *g, int depthwise)
{
    for (;;) {
        memset(g, 0, sizeof(*g));
        int kind = rint_in(0, 3);
        g->in_h = rint_in(1, 14);
        g->in_w = rint_in(1, 14);
        g->in_c = rint_in(1, depthwise ? 70 : 40);
        g->k_h = g->k_w = kind == 0 && !depthwise ? 1 : (rint_in(0, 4) == 0 ? 5 : 3);
        if (rint_in(0, 5) == 0)
            g->k_w = rint_in(1, 3);
        g->stride_h = g->stride_w = rint_in(1, 2);
        if (rint_in(0, 4) == 0)
            g->stride_w = 3 - g->stride_h;
        g->dil_h = g->dil_w = rint_in(0, 5) == 0 ? 2 : 1;
        if (g->k_h == 1 && g->k_w == 1 && rint_in(0, 1))
            g->stride_h = g->stride_w = 1; /* the pointwise GEMM path */
        g->depth_multiplier = depthwise ? rint_in(1, 2) : 1;
        g->out_c = depthwise ? g->in_c * g->depth_multiplier : rint_in(1, 45);
        if (same_or_valid(g, rint_in(0, 2) != 0) == 0 && g->out_h > 0 && g->out_w > 0)
            return;
    }
}

static int qcompare(const struct qcase *qc, int n, const struct mnet_kernel_ops *ops)
{
    const struct mnet_conv_geom *g = &qc->g;
    const int is8 = qc->t == MNET_I8;
    const int K = qc->depthwise ? g->k_h * g->k_w : g->k_h * g->k_w * g->in_c;
    size_t nin = (size_t)n * g->in_h * g->in_w * g->in_c;
    size_t nout = (size_t)n * g->out_h * g->out_w * g->out_c;
    size_t nw = qc->depthwise ? (size_t)K * g->out_c : (size_t)g->out_c * K;
    uint8_t *in = malloc(nin), *w = malloc(nw), *ref = malloc(nout), *got = malloc(nout);
    uint8_t *in_u8 = malloc(nin);
    int8_t *w_s8 = malloc(nw);
    int32_t *bias = malloc(g->out_c * sizeof(int32_t)), *mult = malloc(g->out_c * sizeof(int32_t)),
            *shift = malloc(g->out_c * sizeof(int32_t)), *wzp = malloc(g->out_c * sizeof(int32_t)),
            *bias_f = malloc(g->out_c * sizeof(int32_t)), *wsum = malloc(g->out_c * sizeof(int32_t));
    for (size_t i = 0; i < nin; i++)
        in[i] = (uint8_t)rnd();
    for (size_t i = 0; i < nw; i++)
        w[i] = (uint8_t)rnd();
    if (rint_in(0, 3) == 0) /* saturated corners */
        for (size_t i = 0; i < nin; i++)
            in[i] = rnd() & 1 ? 0xff : 0x00;
    int32_t in_zp = is8 ? rint_in(-128, 127) : rint_in(0, 255);
    int32_t out_zp = is8 ? rint_in(-128, 127) : rint_in(0, 255);
    int32_t w_zp_t = is8 ? 0 : rint_in(0, 255);
    double base = 1.0 / (sqrt((double)K) * 128.0 * 60.0);
    for (int oc = 0; oc < g->out_c; oc++) {
        bias[oc] = (int32_t)(rnd() % 40001) - 20000;
        int sh;
        double r = base * runif(0.3, 3.0) * (rint_in(0, 9) == 0 ? 300.0 : 1.0);
        mnet_quantize_multiplier(r, &mult[oc], &sh);
        shift[oc] = sh;
        if (!is8 && oc > 0) { /* per-tensor: one multiplier */
            mult[oc] = mult[0];
            shift[oc] = shift[0];
        }
        wzp[oc] = w_zp_t;
    }
    int32_t lo = is8 ? -128 : 0, hi = is8 ? 127 : 255;
    if (rint_in(0, 1)) { /* a fused RELU6-like range */
        lo = out_zp > lo ? out_zp : lo;
        int32_t h = out_zp + rint_in(10, 200);
        hi = h < hi ? h : hi;
    }
    struct mnet_ref_qconv rl = {.g = *g, .in_t = qc->t, .w_t = qc->t, .out_t = qc->t, .w = w,
                                .bias = bias, .in_zp = in_zp, .w_zp = wzp, .w_zp_count = 1,
                                .mult = mult, .shift = shift, .out_zp = out_zp, .out_min = lo,
                                .out_max = hi};
    if (qc->depthwise)
        mnet_ref_qdw(&rl, n, in, ref);
    else
        mnet_ref_qconv(&rl, n, in, ref);

    /* the engine's representation: u8 activations, s8 weights */
    for (size_t i = 0; i < nin; i++)
        in_u8[i] = (uint8_t)(is8 ? (int8_t)in[i] + 128 : in[i]);
    for (size_t i = 0; i < nw; i++)
        w_s8[i] = (int8_t)(is8 ? (int8_t)w[i] : (int)w[i] - 128);
    int32_t e_in_zp = is8 ? in_zp + 128 : in_zp, e_w_zp = is8 ? 0 : w_zp_t - 128;
    for (int oc = 0; oc < g->out_c; oc++) {
        int32_t s = 0;
        for (int k = 0; k < K; k++)
            s += qc->depthwise ? w_s8[(size_t)k * g->out_c + oc] : w_s8[(size_t)oc * K + k];
        wsum[oc] = s;
        bias_f[oc] = bias[oc] - e_in_zp * s + K * e_in_zp * e_w_zp;
    }
    struct mnet_qconv l = {.g = *g, .w = w_s8, .bias = bias, .bias_folded = bias_f, .w_sum = wsum,
                           .in_zp = e_in_zp, .w_zp = e_w_zp, .out_zp = is8 ? out_zp + 128 : out_zp,
                           .out_min = is8 ? lo + 128 : lo, .out_max = is8 ? hi + 128 : hi,
                           .mult = mult, .shift = shift};
    int bad = 0;
    int rc = qc->depthwise ? ops->qdw_prepare(&l, n, 2) : ops->qconv_prepare(&l, n, 2);
    CHECK(rc == 0, "prepare %d", rc);
    void *scratch = l.scratch_bytes ? aligned_alloc(64, (l.scratch_bytes + 63) / 64 * 64) : NULL;
    for (int threads = 1; threads <= 2 && !bad; threads++) {
        memset(got, 0xa5, nout);
        if (qc->depthwise)
            ops->qdw_run(&l, n, in_u8, got, scratch, threads);
        else
            ops->qconv_run(&l, n, in_u8, got, scratch, threads);
        for (size_t i = 0; i < nout; i++) {
            uint8_t want = (uint8_t)(is8 ? (int8_t)ref[i] + 128 : ref[i]);
            if (got[i] != want) {
                CHECK(0, "%s %s %s n=%d t=%d in %dx%dx%d k%dx%d s%d,%d d%d pad %d,%d out %dx%dx%d dm%d: [%zu] %d vs %d",
                      ops->name, qc->depthwise ? "dw" : "conv", is8 ? "i8" : "u8", n, threads,
                      g->in_h, g->in_w, g->in_c, g->k_h, g->k_w, g->stride_h, g->stride_w, g->dil_h,
                      g->pad_top, g->pad_left, g->out_h, g->out_w, g->out_c, g->depth_multiplier, i,
                      got[i], want);
                bad = 1;
                break;
            }
        }
    }
    ops->release(l.packed);
    free(scratch);
    free(in), free(w), free(ref), free(got), free(in_u8), free(w_s8), free(bias), free(mult),
        free(shift), free(wzp), free(bias_f), free(wsum);
    return bad;
}

static int fcompare(const struct mnet_conv_geom *g, int depthwise, int n,
                    const struct mnet_kernel_ops *ops)
{
    const int K = depthwise ? g->k_h * g->k_w : g->k_h * g->k_w * g->in_c;
    size_t nin = (size_t)n * g->in_h * g->in_w * g->in_c;
    size_t nout = (size_t)n * g->out_h * g->out_w * g->out_c;
    size_t nw = (size_t)K * g->out_c;
    float *in = malloc(nin * 4), *w = malloc(nw * 4), *bias = malloc(g->out_c * 4),
          *ref = malloc(nout * 4), *got = malloc(nout * 4);
    for (size_t i = 0; i < nin; i++)
        in[i] = (float)runif(-1, 1);
    for (size_t i = 0; i < nw; i++)
        w[i] = (float)runif(-1, 1);
    for (int i = 0; i < g->out_c; i++)
        bias[i] = (float)runif(-1, 1);
    float lo = -INFINITY, hi = INFINITY;
    if (rint_in(0, 1)) {
        lo = 0;
        hi = 6;
    }
    if (depthwise)
        mnet_ref_fdw(g, n, in, w, bias, lo, hi, ref);
    else
        mnet_ref_fconv(g, n, in, w, bias, lo, hi, ref);
    struct mnet_fconv l = {.g = *g, .w = w, .bias = bias, .out_min = lo, .out_max = hi};
    int rc = depthwise ? ops->fdw_prepare(&l, n, 2) : ops->fconv_prepare(&l, n, 2);
    CHECK(rc == 0, "fprepare");
    void *scratch = l.scratch_bytes ? aligned_alloc(64, (l.scratch_bytes + 63) / 64 * 64) : NULL;
    int bad = 0;
    for (int threads = 1; threads <= 2 && !bad; threads++) {
        if (depthwise)
            ops->fdw_run(&l, n, in, got, scratch, threads);
        else
            ops->fconv_run(&l, n, in, got, scratch, threads);
        for (size_t i = 0; i < nout; i++)
            if (!(fabsf(got[i] - ref[i]) <= 1e-5f * (fabsf(ref[i]) + sqrtf((float)K)))) {
                CHECK(0, "%s f%s n=%d t=%d: [%zu] %g vs %g", ops->name, depthwise ? "dw" : "conv", n,
                      threads, i, got[i], ref[i]);
                bad = 1;
                break;
            }
    }
    ops->release(l.packed);
    free(scratch);
    free(in), free(w), free(bias), free(ref), free(got);
    return bad;
}

/* ---------------- fused float blocks ---------------- */

static float *frand(size_t n, double lo, double hi)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = (float)runif(lo, hi);
    return p;
}

/* A random [expand ->] depthwise -> project [-> residual ADD] block run by
 * the table's fblock_run (when it takes the block) against (a) the reference
 * kernels one after another (1e-5 of the magnitude) and (b) the table's own
 * layers one after another: the same arithmetic, so the same floats.  n
 * images at 1 and 2 threads.  Returns 1 when wrong, 0 when right or not
 * fused (*fused says which). */
/* {H, W, stride, out_c (0: random), in_c (0: random)}: a 3x3 block without
 * expand of that shape */
static const int *fb_shape;

static int fblock_compare(const struct mnet_kernel_ops *ops, int n, int *fused)
{
    int expand = rint_in(0, 3) != 0, residual = expand && rint_in(0, 1);
    int H = rint_in(1, 30), W = rint_in(1, 45), cin = rint_in(1, 40), ce = rint_in(1, 100);
    if (fb_shape) {
        expand = residual = 0;
        H = fb_shape[0];
        W = fb_shape[1];
        cin = fb_shape[4] ? fb_shape[4] : cin;
    }
    if (!expand)
        ce = cin;
    struct mnet_conv_geom ge = {.in_h = H, .in_w = W, .in_c = cin, .out_c = ce, .k_h = 1, .k_w = 1,
                                .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1,
                                .depth_multiplier = 1};
    same_or_valid(&ge, 1);
    struct mnet_conv_geom gd = {.in_h = H, .in_w = W, .in_c = ce, .out_c = ce, .k_h = 3, .k_w = 3,
                                .dil_h = 1, .dil_w = 1, .depth_multiplier = 1};
    gd.stride_h = residual ? 1 : rint_in(1, 2);
    gd.stride_w = residual ? 1 : rint_in(0, 4) ? gd.stride_h : 3 - gd.stride_h;
    if (rint_in(0, 9) == 0) /* shapes the kernel may refuse: 5x5, dilation 2 */
        gd.k_h = gd.k_w = 5;
    else if (rint_in(0, 9) == 0)
        gd.dil_h = gd.dil_w = 2;
    if (fb_shape) {
        gd.k_h = gd.k_w = 3;
        gd.dil_h = gd.dil_w = 1;
        gd.stride_h = gd.stride_w = fb_shape[2];
    }
    if (same_or_valid(&gd, residual || rint_in(0, 3) != 0) != 0)
        return 0;
    int cout = residual ? cin : rint_in(1, 40);
    if (fb_shape && fb_shape[3])
        cout = fb_shape[3];
    struct mnet_conv_geom gp = {.in_h = gd.out_h, .in_w = gd.out_w, .in_c = ce, .out_c = cout,
                                .k_h = 1, .k_w = 1, .stride_h = 1, .stride_w = 1, .dil_h = 1,
                                .dil_w = 1, .depth_multiplier = 1};
    same_or_valid(&gp, 1);
    float *we = frand((size_t)cin * ce, -1, 1), *be = frand(ce, -1, 1);
    float *wd = frand((size_t)gd.k_h * gd.k_w * ce, -1, 1), *bd = frand(ce, -1, 1);
    float *wp = frand((size_t)ce * cout, -0.5, 0.5), *bp = frand(cout, -1, 1);
    size_t nin = (size_t)n * H * W * cin, nmid = (size_t)n * H * W * ce;
    size_t ndw = (size_t)n * gd.out_h * gd.out_w * ce, nout = (size_t)n * gp.out_h * gp.out_w * cout;
    float *in = frand(nin, -1, 1), *mid = malloc(nmid * 4), *dwo = malloc(ndw * 4);
    float *ref = malloc(nout * 4), *own = malloc(nout * 4), *got = malloc(nout * 4);
    float elo = 0, ehi = 6, dlo = rint_in(0, 2) ? 0 : -INFINITY, dhi = dlo == 0 ? 6 : INFINITY;
    float plo = -INFINITY, phi = INFINITY, alo = -INFINITY, ahi = INFINITY;
    if (rint_in(0, 3) == 0) /* FLOAT32 precision's clamps to a quantized range */
        plo = -3.5f, phi = 2.5f, alo = -4.0f, ahi = 3.0f;
    /* (a) the reference chain */
    const float *x = in;
    if (expand) {
        mnet_ref_fconv(&ge, n, in, we, be, elo, ehi, mid);
        x = mid;
    }
    mnet_ref_fdw(&gd, n, x, wd, bd, dlo, dhi, dwo);
    mnet_ref_fconv(&gp, n, dwo, wp, bp, plo, phi, ref);
    if (residual)
        mnet_ref_fadd(1, nout, ref, in, 1, nout, alo, ahi, ref);
    /* the table's layers */
    struct mnet_fconv le = {.g = ge, .w = we, .bias = be, .out_min = elo, .out_max = ehi};
    struct mnet_fconv ld = {.g = gd, .w = wd, .bias = bd, .out_min = dlo, .out_max = dhi};
    struct mnet_fconv lp = {.g = gp, .w = wp, .bias = bp, .out_min = plo, .out_max = phi};
    int rc = (expand ? ops->fconv_prepare(&le, n, 2) : 0) | ops->fdw_prepare(&ld, n, 2) |
             ops->fconv_prepare(&lp, n, 2);
    CHECK(rc == 0, "fblock: layer prepare");
    struct mnet_fblock fb = {.expand = expand ? &le : NULL, .dw = &ld, .project = &lp,
                             .residual = residual, .add_lo = alo, .add_hi = ahi};
    *fused = ops->fblock_prepare && ops->fblock_prepare(&fb, n, 2) == 0;
    size_t sb = le.scratch_bytes;
    sb = ld.scratch_bytes > sb ? ld.scratch_bytes : sb;
    sb = lp.scratch_bytes > sb ? lp.scratch_bytes : sb;
    sb = *fused && fb.scratch_bytes > sb ? fb.scratch_bytes : sb;
    void *scratch = aligned_alloc(64, (sb + 64) / 64 * 64);
    int bad = 0;
    for (int threads = 1; threads <= 2 && *fused && !bad; threads++) {
        /* (b) the same layers one by one */
        x = in;
        if (expand) {
            ops->fconv_run(&le, n, in, mid, scratch, threads);
            x = mid;
        }
        ops->fdw_run(&ld, n, x, dwo, scratch, threads);
        ops->fconv_run(&lp, n, dwo, own, scratch, threads);
        if (residual)
            mnet_c_fadd(nout, own, in, alo, ahi, own, 1);
        memset(got, 0xff, nout * 4); /* NaN: every output must be written */
        ops->fblock_run(&fb, n, in, got, scratch, threads);
        const float mag = sqrtf((float)cin * 9 * ce);
        for (size_t i = 0; i < nout && !bad; i++)
            if (!(fabsf(got[i] - ref[i]) <= 1e-5f * (fabsf(ref[i]) + mag)) || got[i] != own[i]) {
                CHECK(0, "%s fblock n=%d t=%d %s%dx%dx%d->%d dw k%d s%d,%d d%d pad %d,%d ->%dx%dx%d%s: "
                      "[%zu] %.9g, reference %.9g, layers %.9g", ops->name, n, threads,
                      expand ? "expand " : "", H, W, cin, ce, gd.k_h, gd.stride_h, gd.stride_w,
                      gd.dil_h, gd.pad_top, gd.pad_left, gp.out_h, gp.out_w, cout,
                      residual ? " +residual" : "", i, got[i], ref[i], own[i]);
                bad = 1;
            }
    }
    if (expand)
        ops->release(le.packed);
    ops->release(ld.packed);
    ops->release(lp.packed);
    free(scratch);
    free(we), free(be), free(wd), free(bd), free(wp), free(bp);
    free(in), free(mid), free(dwo), free(ref), free(own), free(got);
    return bad;
}

static void test_binary(void)
{
    for (int it = 0; it < 300; it++) {
        int n = rint_in(1, 3);
        size_t c = (size_t)rint_in(1, 70), hw = (size_t)rint_in(1, it % 10 ? 50 : 400), inner = hw * c;
        int mode = rint_in(0, 2); /* same shape, per-channel vector, scalar */
        size_t b_inner = mode == 0 ? inner : mode == 1 ? c : 1;
        int is8 = rint_in(0, 1);
        uint8_t *a = malloc(n * inner), *b = malloc(n * b_inner), *ref = malloc(n * inner),
                *got = malloc(n * inner), *a8 = malloc(n * inner), *b8 = malloc(n * b_inner);
        for (size_t i = 0; i < n * inner; i++)
            a[i] = (uint8_t)rnd();
        for (size_t i = 0; i < n * b_inner; i++)
            b[i] = (uint8_t)rnd();
        struct mnet_ref_qbinary p = {.t = is8 ? MNET_I8 : MNET_U8, .left_shift = 20};
        int32_t off = is8 ? -128 : 0;
        p.a_zp = rint_in(0, 255) + off;
        p.b_zp = rint_in(0, 255) + off;
        p.out_zp = rint_in(0, 255) + off;
        p.out_min = off;
        p.out_max = 255 + off;
        if (rint_in(0, 1))
            p.out_min = p.out_zp;
        int mul = rint_in(0, 1);
        double sa = runif(0.01, 0.3), sb = runif(0.01, 0.3), so = runif(0.02, 0.5);
        if (mul) {
            int sh;
            mnet_quantize_multiplier(sa * sb / so, &p.out_mult, &sh);
            p.out_shift = sh;
            mnet_ref_qmul(&p, n, inner, a, b, 0, b_inner, ref);
        } else {
            mnet_quant_add_params(sa, sb, so, 20, &p.a_mult, &p.a_shift, &p.b_mult, &p.b_shift,
                                  &p.out_mult, &p.out_shift);
            mnet_ref_qadd(&p, n, inner, a, b, 0, b_inner, ref);
        }
        for (size_t i = 0; i < n * inner; i++)
            a8[i] = (uint8_t)(is8 ? (int8_t)a[i] + 128 : a[i]);
        for (size_t i = 0; i < n * b_inner; i++)
            b8[i] = (uint8_t)(is8 ? (int8_t)b[i] + 128 : b[i]);
        struct mnet_qbinary q = {.a_zp = p.a_zp - off, .b_zp = p.b_zp - off, .out_zp = p.out_zp - off,
                                 .out_min = p.out_min - off, .out_max = p.out_max - off,
                                 .a_mult = p.a_mult, .a_shift = p.a_shift, .b_mult = p.b_mult,
                                 .b_shift = p.b_shift, .out_mult = p.out_mult,
                                 .out_shift = p.out_shift, .left_shift = 20};
        for (int threads = 1; threads <= 2; threads++) {
            if (mul)
                mnet_c_qmul_bcast(&q, n, inner, a8, b8, b_inner, b_inner, got, threads);
            else if (mode == 0)
                mnet_kernels_c.qadd_run(&q, n * inner, a8, b8, got, threads);
            else
                mnet_c_qadd_bcast(&q, n, inner, a8, b8, b_inner, b_inner, got, threads);
            for (size_t i = 0; i < n * inner; i++) {
                uint8_t want = (uint8_t)(is8 ? (int8_t)ref[i] + 128 : ref[i]);
                if (got[i] != want) {
                    CHECK(0, "%s mode %d [%zu] %d vs %d", mul ? "mul" : "add", mode, i, got[i], want);
                    break;
                }
            }
        }
        free(a), free(b), free(ref), free(got), free(a8), free(b8);
    }
}

static void test_avgpool(void)
{
    for (int it = 0; it < 200; it++) {
        struct mnet_conv_geom g;
        random_geom(&g, 1);
        g.dil_h = g.dil_w = 1;
        g.depth_multiplier = 1;
        g.out_c = g.in_c;
        if (rint_in(0, 3) == 0) { /* global pool */
            g.k_h = g.in_h;
            g.k_w = g.in_w;
            g.stride_h = g.stride_w = 1;
        }
        if (same_or_valid(&g, rint_in(0, 1)) < 0)
            continue;
        int n = rint_in(1, 3), is8 = rint_in(0, 1);
        size_t nin = (size_t)n * g.in_h * g.in_w * g.in_c, nout = (size_t)n * g.out_h * g.out_w * g.in_c;
        uint8_t *in = malloc(nin), *in8 = malloc(nin), *ref = malloc(nout), *got = malloc(nout);
        for (size_t i = 0; i < nin; i++) {
            in[i] = (uint8_t)rnd();
            in8[i] = (uint8_t)(is8 ? (int8_t)in[i] + 128 : in[i]);
        }
        int32_t lo = is8 ? -128 : 0, hi = is8 ? 127 : 255;
        if (rint_in(0, 1))
            lo += 20, hi -= 30;
        mnet_ref_qavgpool(&g, n, is8 ? MNET_I8 : MNET_U8, lo, hi, in, ref);
        /* float: the same sums in the same order, so the same bits */
        float *fin = malloc(nin * sizeof(float)), *fref = malloc(nout * sizeof(float)),
              *fgot = malloc(nout * sizeof(float));
        for (size_t i = 0; i < nin; i++)
            fin[i] = (float)runif(-4, 4);
        float flo = rint_in(0, 1) ? 0.0f : -INFINITY, fhi = rint_in(0, 1) ? 1.5f : INFINITY;
        mnet_ref_favgpool(&g, n, flo, fhi, fin, fref);
        for (int threads = 1; threads <= 2; threads++) {
            mnet_c_qavgpool(&g, n, is8, is8 ? lo + 128 : lo, is8 ? hi + 128 : hi, in8, got, threads);
            for (size_t i = 0; i < nout; i++) {
                uint8_t want = (uint8_t)(is8 ? (int8_t)ref[i] + 128 : ref[i]);
                if (got[i] != want) {
                    CHECK(0, "avgpool %s [%zu] %d vs %d", is8 ? "i8" : "u8", i, got[i], want);
                    break;
                }
            }
            mnet_c_favgpool(&g, n, flo, fhi, fin, fgot, threads);
            CHECK(memcmp(fgot, fref, nout * sizeof(float)) == 0, "float avgpool differs (threads %d)",
                  threads);
        }
        free(in), free(in8), free(ref), free(got), free(fin), free(fref), free(fgot);
    }
}

static void test_fadd(void)
{
    enum { N = 70001 };
    float *a = malloc(N * sizeof(float)), *b = malloc(N * sizeof(float)), *want = malloc(N * sizeof(float)),
          *got = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) {
        a[i] = (float)runif(-8, 8);
        b[i] = (float)runif(-8, 8);
    }
    mnet_ref_fadd(1, N, a, b, 1, N, 0.0f, 6.0f, want);
    for (int threads = 1; threads <= 2; threads++) {
        mnet_c_fadd(N, a, b, 0.0f, 6.0f, got, threads);
        CHECK(memcmp(got, want, N * sizeof(float)) == 0, "float add differs (threads %d)", threads);
    }
    free(a), free(b), free(want), free(got);
}

static void test_lut(void)
{
    uint8_t lut[256], in[70000], out[70000];
    for (int i = 0; i < 256; i++)
        lut[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)rnd();
    for (int threads = 1; threads <= 2; threads++) {
        mnet_c_lut_u8(lut, sizeof in, in, out, threads);
        size_t bad = 0;
        for (size_t i = 0; i < sizeof in; i++)
            bad += out[i] != lut[in[i]];
        CHECK(bad == 0, "lut threads %d: %zu wrong", threads, bad);
    }
}

/* The tabulated softmax against the reference: same integers, rows of
 * several lengths, betas and input scales (diff_min cutting some values off). */
static void test_softmax(void)
{
    int bad = 0;
    for (int it = 0; it < 300 && !bad; it++) {
        int depth = rint_in(1, 1001), rows = rint_in(1, 3);
        struct mnet_qsoftmax_params sp = {.in_t = MNET_U8, .out_t = MNET_U8,
                                          .out_zp = it % 4 ? 0 : rint_in(-128, 10)};
        mnet_quant_softmax_params(runif(0.1, 2.0), runif(0.005, 0.5), &sp.input_multiplier,
                                  &sp.input_left_shift, &sp.diff_min);
        uint8_t *x = malloc((size_t)rows * depth), *want = malloc((size_t)rows * depth),
                *got = malloc((size_t)rows * depth);
        int spread = rint_in(1, 255);
        for (int i = 0; i < rows * depth; i++)
            x[i] = (uint8_t)(rnd() % (spread + 1));
        int32_t table[256];
        mnet_c_qsoftmax_table(&sp, table);
        mnet_ref_qsoftmax(&sp, rows, depth, x, want);
        mnet_c_qsoftmax(&sp, table, rows, depth, x, got);
        for (int i = 0; i < rows * depth; i++)
            if (got[i] != want[i] && !bad++)
                printf("FAIL softmax depth %d diff_min %d: [%d] %d vs %d\n", depth, sp.diff_min, i,
                       got[i], want[i]);
        free(x), free(want), free(got);
    }
    CHECK(bad == 0, "tabulated softmax differs from the reference");
}

int main(void)
{
    test_primitives();
    int prim_fail = failures;
    printf("primitives: %s\n", prim_fail ? "FAIL" : "ok");

    const struct mnet_kernel_ops *tables[8];
    int nt = mnet_kernels_available(tables, 8);
    CHECK(nt >= 1 && tables[0] != NULL, "at least the C table");
    for (int ti = 0; ti < nt; ti++) {
        const struct mnet_kernel_ops *ops = tables[ti];
        int cases = 0, bad = 0;
        for (int it = 0; it < 400; it++) {
            struct qcase qc;
            qc.depthwise = it % 2;
            random_geom(&qc.g, qc.depthwise);
            qc.t = (it / 2) % 2 ? MNET_I8 : MNET_U8;
            int n = it % 3 == 0 ? 3 : 1;
            bad += qcompare(&qc, n, ops);
            cases++;
        }
        /* MobileNet-like fixed shapes: 3x3 s2 first conv, 1x1 at 7x7, fc */
        struct mnet_conv_geom fixed[3] = {
            {.in_h = 33, .in_w = 33, .in_c = 3, .out_c = 16, .k_h = 3, .k_w = 3, .stride_h = 2,
             .stride_w = 2, .dil_h = 1, .dil_w = 1, .depth_multiplier = 1},
            {.in_h = 7, .in_w = 7, .in_c = 160, .out_c = 960, .k_h = 1, .k_w = 1, .stride_h = 1,
             .stride_w = 1, .dil_h = 1, .dil_w = 1, .depth_multiplier = 1},
            {.in_h = 1, .in_w = 1, .in_c = 1280, .out_c = 1001, .k_h = 1, .k_w = 1, .stride_h = 1,
             .stride_w = 1, .dil_h = 1, .dil_w = 1, .depth_multiplier = 1},
        };
        for (int i = 0; i < 3; i++) {
            struct qcase qc = {.g = fixed[i], .t = i == 1 ? MNET_I8 : MNET_U8};
            same_or_valid(&qc.g, 1);
            bad += qcompare(&qc, 2, ops);
            cases++;
        }
        /* The stem and other short-row full convs (the VNNI direct kernel),
         * buffers of the exact size so that ASan sees a read past the input:
         * VALID 5x13x3 -> 2x6x64 3x3/2 ends its last pixel's runs on the
         * input's last byte, in a tile that would be read in place; rows
         * dilated (dil_h 2, 3), columns not. */
        static const int direct[][8] = { /* h, w, in_c, out_c, k, stride, same, dil_h */
            {224, 224, 3, 32, 3, 2, 1, 1}, {5, 13, 3, 64, 3, 2, 0, 1}, {7, 25, 3, 32, 3, 2, 0, 1},
            {6, 29, 1, 16, 3, 1, 0, 1},    {9, 14, 4, 40, 3, 1, 1, 1}, {12, 19, 2, 8, 5, 2, 1, 1},
            {11, 30, 3, 32, 3, 2, 1, 2},   {9, 40, 3, 16, 3, 1, 0, 3},
            /* the stems' constant-offset tiles: widths past a tile, a tail of channels */
            {13, 37, 3, 20, 3, 2, 1, 1},   {4, 31, 3, 32, 3, 2, 0, 1},
            /* repacked columns of 15 bytes; K = 64; a 3x3x3 row of 7 columns */
            {8, 17, 5, 32, 3, 2, 1, 2},    {9, 18, 4, 16, 4, 1, 1, 1}, {3, 7, 3, 32, 3, 1, 0, 1},
        };
        int dbad = 0;
        for (int i = 0; i < (int)(sizeof direct / sizeof direct[0]); i++) {
            const int *c = direct[i];
            for (int t = 0; t < 2; t++) {
                struct qcase qc = {.g = {.in_h = c[0], .in_w = c[1], .in_c = c[2], .out_c = c[3],
                                         .k_h = c[4], .k_w = c[4], .stride_h = c[5], .stride_w = c[5],
                                         .dil_h = c[7], .dil_w = 1, .depth_multiplier = 1},
                                   .t = t ? MNET_U8 : MNET_I8};
                same_or_valid(&qc.g, c[6]);
                bad += qcompare(&qc, i ? 2 : 1, ops);
                cases++;
                if (t)
                    dbad += fcompare(&qc.g, 0, i ? 2 : 1, ops);
            }
        }
        int fbad = dbad, fcases = (int)(sizeof direct / sizeof direct[0]);
        for (int it = 0; it < 200; it++) {
            struct mnet_conv_geom g;
            int dw = it % 2;
            random_geom(&g, dw);
            fbad += fcompare(&g, dw, it % 3 == 0 ? 3 : 1, ops);
            fcases++;
        }
        int bbad = 0, bcases = 0, bfused = 0;
        for (int it = 0; it < 150; it++) {
            int fused = 0;
            bbad += fblock_compare(ops, it % 3 == 0 ? 3 : 1, &fused);
            bcases++;
            bfused += fused;
        }
        if (ops->fblock_run)
            CHECK(bfused > bcases / 2, "%s: only %d of %d blocks fused", ops->name, bfused, bcases);
        /* blocks without expand run bands of output rows (x86: at least 196
         * pixels): several bands, a last band shorter or odd, stride 2; odd
         * output heights over 64 columns at batch 1 (even entries: n = 1)
         * split the project's panels between 2 threads; 32 input channels
         * take the K = 32 project tiles (full tiles of 1-4 vectors, a last
         * partial tile, two panels); rows of 5-12 columns take the depthwise's
         * border blocks */
        static const int bands[][5] = { { 30, 40, 1, 0, 0 },   { 29, 40, 1, 0, 0 },  { 27, 14, 1, 0, 0 },
                                        { 45, 45, 2, 0, 0 },   { 33, 17, 2, 0, 0 },  { 15, 7, 1, 0, 0 },
                                        { 7, 7, 1, 130, 0 },   { 9, 9, 1, 70, 0 },   { 13, 11, 2, 200, 0 },
                                        { 21, 23, 1, 16, 32 }, { 9, 13, 1, 64, 32 }, { 11, 17, 2, 40, 32 },
                                        { 10, 10, 1, 30, 32 }, { 8, 9, 1, 5, 32 },   { 7, 9, 1, 70, 32 },
                                        { 6, 5, 1, 16, 32 },   { 9, 12, 2, 24, 32 }, { 5, 7, 1, 3, 48 } };
        for (size_t i = 0; i < sizeof bands / sizeof bands[0]; i++) {
            int fused = 0;
            fb_shape = bands[i];
            bbad += fblock_compare(ops, i % 2 ? 3 : 1, &fused);
            fb_shape = NULL;
            bcases++;
            bfused += fused;
            if (ops->fblock_run)
                CHECK(fused, "%s: band block %zu not fused", ops->name, i);
        }
        printf("table %s: %d quantized conv/depthwise cases (%d bad), %d float cases (%d bad), "
               "%d float blocks (%d fused, %d bad)\n",
               ops->name, cases, bad, fcases, fbad, bcases, bfused, bbad);
    }
    test_binary();
    test_avgpool();
    test_lut();
    test_fadd();
    test_softmax();
    return check_summary();
}
