/* bench_kernels.c: per-kernel throughput on MobileNetV2's layer shapes.
 *
 *   bench_kernels [TABLE [W_ZP [OUTLIERS [KIND]]]]
 *                                TABLE: a kernel table name (default: the one
 *                                mnet_kernels_select picks, MNET_KERNELS works);
 *                                W_ZP: the int8 layers' weight zero point (s8
 *                                domain; default 0, as in per-channel models;
 *                                otherwise weights within 100 of it, as in real
 *                                uint8 files);
 *                                OUTLIERS: this many taps per layer at the far
 *                                end (w - w_zp leaves int8); default -1: one in
 *                                12 channels when W_ZP != 0, none otherwise;
 *                                KIND: only that kernel (qdw, qconv, fdw, fconv,
 *                                fblock: the fused float blocks, qadd: v2's
 *                                residual ADDs)
 *
 * One thread, batch 1; each line is the best of 15 runs timed with the
 * thread's CPU clock, so a machine shared with other work inflates it less
 * than wall time would.  Not a test: numbers for docs/BENCHMARKS.md.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cpu.h"
#include "kernels.h"
#include "quant.h"

static const struct mnet_kernel_ops *T;
static int32_t w_zp;
static const char *only; /* kernel kind to run, NULL: all */
static int outliers = -1; /* -1: one in 12 channels when w_zp != 0 */

static void *xalloc(size_t n)
{
    size_t sz = (n + 127) / 64 * 64;
    void *p = aligned_alloc(64, sz);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    memset(p, 1, sz);
    return p;
}

/* TFLite SAME geometry, square. */
static void geom(struct mnet_conv_geom *g, int h, int ic, int oc, int k, int s)
{
    memset(g, 0, sizeof *g);
    g->in_h = g->in_w = h;
    g->in_c = ic;
    g->out_c = oc;
    g->k_h = g->k_w = k;
    g->stride_h = g->stride_w = s;
    g->dil_h = g->dil_w = 1;
    g->depth_multiplier = 1;
    g->out_h = g->out_w = (h + s - 1) / s;
    int pad = (g->out_h - 1) * s + k - h;
    g->pad_top = g->pad_left = pad > 0 ? pad / 2 : 0;
}

static void report(const char *what, const struct mnet_conv_geom *g, double ms, double macs)
{
    printf("%-10s %-5s %3dx%3dx%4d -> %4d k%d s%d: %8.4f ms %7.1f GMAC/s\n", T->name, what, g->in_h,
           g->in_w, g->in_c, g->out_c, g->k_h, g->stride_h, ms, macs / ms / 1e6);
}

static void bench_q(int dw, int h, int ic, int oc, int k, int s)
{
    struct mnet_conv_geom g;
    geom(&g, h, ic, dw ? ic : oc, k, s);
    int K = dw ? k * k : k * k * ic;
    size_t nw = dw ? (size_t)k * k * g.out_c : (size_t)g.out_c * K;
    int8_t *w = xalloc(nw);
    for (size_t i = 0; i < nw; i++) {
        int v = w_zp || outliers >= 0 ? w_zp + rand() % 201 - 100 : rand() % 255 - 127;
        w[i] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
    }
    const int8_t far = (int8_t)(w_zp >= 0 ? -128 : 127);
    if (outliers >= 0) {
        for (int i = 0; i < outliers; i++)
            w[(size_t)rand() % nw] = far;
    } else if (w_zp) {
        for (int c = 0; c < g.out_c; c++)
            if (rand() % 12 == 0)
                w[dw ? (size_t)(rand() % K) * g.out_c + c : (size_t)c * K + rand() % K] = far;
    }
    int32_t *bias = xalloc(4 * g.out_c), *mult = xalloc(4 * g.out_c), *shift = xalloc(4 * g.out_c);
    for (int c = 0; c < g.out_c; c++) {
        int sh;
        bias[c] = 100;
        mnet_quantize_multiplier(0.0003, &mult[c], &sh);
        shift[c] = sh;
    }
    /* a 1x1 narrowing the channels (v2's projects, the classifier) is
     * linear (an output zero point); the rest are ReLU6 layers (zero point 0) */
    const int32_t out_zp = !dw && k == 1 && oc < ic ? 5 : 0;
    struct mnet_qconv l = { .g = g, .w = w, .bias = bias, .bias_folded = bias, .w_sum = bias,
                            .in_zp = 3, .w_zp = w_zp, .out_zp = out_zp, .out_min = 0, .out_max = 255,
                            .mult = mult, .shift = shift };
    if (dw ? T->qdw_prepare(&l, 1, 1) : T->qconv_prepare(&l, 1, 1))
        return;
    size_t ni = (size_t)h * h * ic, no = (size_t)g.out_h * g.out_w * g.out_c;
    uint8_t *in = xalloc(ni), *out = xalloc(no);
    for (size_t i = 0; i < ni; i++)
        in[i] = (uint8_t)rand();
    void *scratch = xalloc(l.scratch_bytes + 64);
    double best = 1e9;
    for (int it = 0; it < 15; it++) {
        double t = cpu_ms();
        if (dw)
            T->qdw_run(&l, 1, in, out, scratch, 1);
        else
            T->qconv_run(&l, 1, in, out, scratch, 1);
        t = cpu_ms() - t;
        best = t < best ? t : best;
    }
    report(dw ? "qdw" : "qconv", &g, best, (double)no * K);
    T->release(l.packed);
    free(w); free(bias); free(mult); free(shift); free(in); free(out); free(scratch);
}

static void fill_f(float *p, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        p[i] = v;
}

static void bench_f(int dw, int h, int ic, int oc, int k, int s)
{
    struct mnet_conv_geom g;
    geom(&g, h, ic, dw ? ic : oc, k, s);
    int K = dw ? k * k : k * k * ic;
    size_t nw = dw ? (size_t)k * k * g.out_c : (size_t)g.out_c * K;
    float *w = xalloc(nw * 4), *bias = xalloc(4 * g.out_c);
    fill_f(w, nw, 0.01f);
    struct mnet_fconv l = { .g = g, .w = w, .bias = bias, .out_min = 0, .out_max = 6 };
    if (dw ? T->fdw_prepare(&l, 1, 1) : T->fconv_prepare(&l, 1, 1))
        return;
    size_t ni = (size_t)h * h * ic, no = (size_t)g.out_h * g.out_w * g.out_c;
    float *in = xalloc(ni * 4), *out = xalloc(no * 4);
    fill_f(in, ni, 0.5f);
    void *scratch = xalloc(l.scratch_bytes + 64);
    double best = 1e9;
    for (int it = 0; it < 15; it++) {
        double t = cpu_ms();
        if (dw)
            T->fdw_run(&l, 1, in, out, scratch, 1);
        else
            T->fconv_run(&l, 1, in, out, scratch, 1);
        t = cpu_ms() - t;
        best = t < best ? t : best;
    }
    report(dw ? "fdw" : "fconv", &g, best, (double)no * K);
    T->release(l.packed);
    free(w); free(bias); free(in); free(out); free(scratch);
}

/* A fused float block (kernels.h, struct mnet_fblock) at map h: expand
 * cin -> c (none when cin is 0), depthwise 3x3 stride s, project -> cout,
 * the residual ADD when the shapes allow it.  The same best-of-15 thread CPU
 * time, MACs of the three layers. */
static void bench_fb(int h, int cin, int c, int s, int cout)
{
    if (!T->fblock_prepare)
        return;
    struct mnet_conv_geom ge, gd, gp;
    geom(&ge, h, cin, c, 1, 1);
    geom(&gd, h, c, c, 3, s);
    geom(&gp, gd.out_h, c, cout, 1, 1);
    float *we = xalloc((size_t)c * (cin ? cin : 1) * 4), *wd = xalloc((size_t)9 * c * 4);
    float *wp = xalloc((size_t)cout * c * 4), *bias = xalloc((size_t)(c > cout ? c : cout) * 4);
    fill_f(we, (size_t)c * (cin ? cin : 1), 0.01f);
    fill_f(wd, (size_t)9 * c, 0.01f);
    fill_f(wp, (size_t)cout * c, 0.01f);
    struct mnet_fconv le = { .g = ge, .w = we, .bias = bias, .out_min = 0, .out_max = 6 };
    struct mnet_fconv ld = { .g = gd, .w = wd, .bias = bias, .out_min = 0, .out_max = 6 };
    struct mnet_fconv lp = { .g = gp, .w = wp, .bias = bias, .out_min = -20, .out_max = 20 };
    if ((cin && T->fconv_prepare(&le, 1, 1)) || T->fdw_prepare(&ld, 1, 1) || T->fconv_prepare(&lp, 1, 1))
        return;
    const int ic = cin ? cin : c;
    struct mnet_fblock fb = { .expand = cin ? &le : NULL, .dw = &ld, .project = &lp,
                              .residual = cin && s == 1 && ic == cout, .add_lo = -40, .add_hi = 40 };
    if (T->fblock_prepare(&fb, 1, 1) == 0) {
        size_t ni = (size_t)h * h * ic, no = (size_t)gp.out_h * gp.out_w * cout;
        float *in = xalloc(ni * 4), *out = xalloc(no * 4);
        fill_f(in, ni, 0.5f);
        /* the same layers one by one, for comparison */
        float *mid = xalloc((size_t)h * h * c * 4), *dwo = xalloc((size_t)gd.out_h * gd.out_w * c * 4);
        size_t sb = fb.scratch_bytes;
        sb = le.scratch_bytes > sb ? le.scratch_bytes : sb;
        sb = lp.scratch_bytes > sb ? lp.scratch_bytes : sb;
        void *scratch = xalloc(sb + 64);
        double best = 1e9, best_l = 1e9;
        for (int it = 0; it < 15; it++) {
            double t = cpu_ms();
            T->fblock_run(&fb, 1, in, out, scratch, 1);
            t = cpu_ms() - t;
            best = t < best ? t : best;
            t = cpu_ms();
            if (cin)
                T->fconv_run(&le, 1, in, mid, scratch, 1);
            T->fdw_run(&ld, 1, cin ? mid : in, dwo, scratch, 1);
            T->fconv_run(&lp, 1, dwo, out, scratch, 1);
            if (fb.residual)
                mnet_c_fadd(no, out, in, -40, 40, out, 1);
            t = cpu_ms() - t;
            best_l = t < best_l ? t : best_l;
        }
        double macs = (double)h * h * cin * c + (double)gd.out_h * gd.out_w * c * (9 + cout);
        printf("%-10s fblk  %3dx%3dx%4d -> %4d s%d -> %4d%s: %8.3f ms %7.1f GMAC/s (layers %.3f ms)\n",
               T->name, h, h, ic, c, s, cout, fb.residual ? " +add" : "", best, macs / best / 1e6, best_l);
        free(in); free(out); free(scratch); free(mid); free(dwo);
    }
    if (cin)
        T->release(le.packed);
    T->release(ld.packed);
    T->release(lp.packed);
    free(we); free(wd); free(wp); free(bias);
}

/* v2's residual ADD on an h x h x c map, with the real quant file's first
 * ADD's parameters (one side's multiplier 2^30, the other's 0.69 * 2^31 / 2). */
static void bench_qadd(int h, int c)
{
    const struct mnet_qbinary p = { .a_zp = 136, .b_zp = 119, .out_zp = 133, .out_min = 0, .out_max = 255,
                                    .a_mult = 1073741824, .a_shift = 0, .b_mult = 1475367762, .b_shift = -1,
                                    .out_mult = 1995052007, .out_shift = -19, .left_shift = 20 };
    const struct mnet_kernel_ops *k = T->qadd_run ? T : &mnet_kernels_c; /* as the plan picks */
    size_t n = (size_t)h * h * c;
    uint8_t *a = xalloc(n), *b = xalloc(n), *out = xalloc(n);
    for (size_t i = 0; i < n; i++) {
        a[i] = (uint8_t)rand();
        b[i] = (uint8_t)rand();
    }
    double best = 1e9;
    for (int it = 0; it < 15; it++) {
        double t = cpu_ms();
        k->qadd_run(&p, n, a, b, out, 1);
        t = cpu_ms() - t;
        best = t < best ? t : best;
    }
    printf("%-10s qadd  %3dx%3dx%4d: %8.4f ms %7.2f ns/byte\n", T->name, h, h, c, best, best * 1e6 / (double)n);
    free(a); free(b); free(out);
}

int main(int argc, char **argv)
{
    T = mnet_kernels_select();
    if (argc > 1) {
        const struct mnet_kernel_ops *t[8];
        int n = 0;
        t[n++] = &mnet_kernels_c;
        n += mnet_cpu_kernel_tables(t + n, 7);
        T = NULL;
        for (int i = 0; i < n; i++)
            if (!strcmp(t[i]->name, argv[1]))
                T = t[i];
        if (!T) {
            fprintf(stderr, "bench_kernels: no table %s on this CPU\n", argv[1]);
            return 2;
        }
        if (argc > 2)
            w_zp = atoi(argv[2]);
        if (argc > 3)
            outliers = atoi(argv[3]);
        if (argc > 4)
            only = argv[4];
    }
    /* (dw, map, in_c, out_c, k, stride) */
    static const int shapes[][6] = {
        { 0, 224, 3, 32, 3, 2 },   { 0, 112, 3, 32, 3, 2 }, { 0, 64, 3, 32, 3, 2 }, { 1, 112, 32, 32, 3, 1 },  { 0, 112, 32, 16, 1, 1 },
        { 0, 112, 16, 96, 1, 1 },  { 1, 112, 96, 96, 3, 2 },  { 0, 56, 96, 24, 1, 1 },
        { 0, 56, 24, 144, 1, 1 },  { 1, 56, 144, 144, 3, 1 }, { 0, 56, 144, 24, 1, 1 },
        { 0, 14, 384, 64, 1, 1 },  { 0, 14, 96, 576, 1, 1 },  { 1, 14, 576, 576, 3, 1 },
        { 0, 7, 960, 320, 1, 1 },  { 0, 7, 320, 1280, 1, 1 }, { 0, 1, 1280, 1001, 1, 1 },
        /* and MobileNetV1's wide 1x1 convs */
        { 0, 112, 32, 64, 1, 1 },  { 0, 56, 128, 128, 1, 1 }, { 0, 28, 256, 256, 1, 1 },
        { 0, 14, 512, 512, 1, 1 }, { 0, 7, 1024, 1024, 1, 1 },
        /* the other depthwise layers of both networks */
        { 1, 56, 144, 144, 3, 2 }, { 1, 28, 192, 192, 3, 1 }, { 1, 28, 192, 192, 3, 2 },
        { 1, 14, 384, 384, 3, 1 }, { 1, 14, 576, 576, 3, 2 }, { 1, 7, 960, 960, 3, 1 },
        { 1, 112, 64, 64, 3, 2 },  { 1, 56, 128, 128, 3, 1 }, { 1, 56, 128, 128, 3, 2 },
        { 1, 28, 256, 256, 3, 1 }, { 1, 28, 256, 256, 3, 2 }, { 1, 14, 512, 512, 3, 1 },
        { 1, 14, 512, 512, 3, 2 }, { 1, 7, 1024, 1024, 3, 1 },
    };
    /* the fused blocks of both networks (map, in_c (0: no expand), c, stride, out_c) */
    static const int blocks[][5] = {
        { 112, 0, 32, 1, 16 }, { 56, 0, 32, 1, 16 }, { 112, 16, 96, 2, 24 }, { 56, 24, 144, 1, 24 }, { 56, 24, 144, 2, 32 },
        { 112, 0, 32, 1, 64 }, { 112, 0, 64, 2, 128 }, { 28, 32, 192, 1, 32 }, { 28, 32, 192, 2, 64 },
        { 14, 64, 384, 1, 64 }, { 14, 96, 576, 1, 96 }, { 7, 160, 960, 1, 160 },
        { 56, 0, 128, 1, 128 }, { 56, 0, 128, 2, 256 }, { 28, 0, 256, 1, 256 }, { 28, 0, 256, 2, 512 },
        { 14, 0, 512, 1, 512 }, { 14, 0, 512, 2, 1024 }, { 7, 0, 1024, 1, 1024 },
    };
    if (!only || !strcmp(only, "fblock"))
        for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
            bench_fb(blocks[i][0], blocks[i][1], blocks[i][2], blocks[i][3], blocks[i][4]);
    if (only && !strcmp(only, "fblock"))
        return 0;
    static const int adds[][2] = { { 56, 24 }, { 28, 32 }, { 14, 64 }, { 14, 96 }, { 7, 160 } };
    if (!only || !strcmp(only, "qadd"))
        for (size_t i = 0; i < sizeof adds / sizeof adds[0]; i++)
            bench_qadd(adds[i][0], adds[i][1]);
    if (only && !strcmp(only, "qadd"))
        return 0;
    for (int q = 1; q >= 0; q--)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            const int *s = shapes[i];
            static const char *kind[2][2] = { { "fconv", "fdw" }, { "qconv", "qdw" } };
            if (only && strcmp(only, kind[q][s[0]]))
                continue;
            if (q)
                bench_q(s[0], s[1], s[2], s[3], s[4], s[5]);
            else
                bench_f(s[0], s[1], s[2], s[3], s[4], s[5]);
        }
    return 0;
}
