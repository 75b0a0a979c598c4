/* test_plan.c: the planner on hand-built graphs.
 *
 * 1. A small TF2-style int8 network (uint8 input -> QUANTIZE -> int8 conv
 *    3x3/2 SAME per-channel + RELU6 -> depthwise (dm 2) -> residual ADD ->
 *    AVERAGE_POOL 2x2/2 -> MEAN -> FC -> SOFTMAX -> QUANTIZE -> uint8) and a
 *    uint8 one (conv, depthwise, broadcast MUL with a scalar constant,
 *    HARD_SWISH, ADD of a (1,1,1,C) vector, global pool, RESHAPE, LOGISTIC)
 *    run through the plan at batch 1 and 3, threads 1 and 2, against a chain
 *    of the naive reference kernels on the ORIGINAL dtypes: bit-exact.  This
 *    checks the plan's u8/s8 re-representation, zero points, multipliers,
 *    activation ranges and arena reuse.
 * 2. A float graph of MobileNetV2-style blocks (odd sizes, stride 1 and 2,
 *    residual ADDs) against the float reference chain, with the blocks
 *    fused (MNET_FUSE=all / default) and not (MNET_FUSE=0).
 * 3. Broken graphs give -EBADMSG / -ENOTSUP, never a crash.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "kernels.h"
#include "plan.h"
#include "quant.h"
#include "check.h"


static uint64_t rs = 88172645463325252ull;
static uint32_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (uint32_t)(rs >> 16);
}

/* ---- graph building ---- */

struct gb {
    struct mnet_graph g;
    int nt, no;
};

static void gb_init(struct gb *b)
{
    memset(b, 0, sizeof(*b));
    b->g.tensors = mnet_graph_alloc(&b->g, 64 * sizeof(struct mnet_tensor));
    b->g.ops = mnet_graph_alloc(&b->g, 32 * sizeof(struct mnet_op));
    snprintf(b->g.arch, sizeof b->g.arch, "test");
}

static int tensor(struct gb *b, enum mnet_dtype dt, int rank, const int *shape, float scale,
                  int32_t zp)
{
    struct mnet_tensor *t = &b->g.tensors[b->nt];
    t->dtype = dt;
    t->rank = rank;
    memcpy(t->shape, shape, rank * sizeof(int));
    t->name = "";
    if (scale > 0) {
        float *s = mnet_graph_alloc(&b->g, sizeof(float));
        int32_t *z = mnet_graph_alloc(&b->g, sizeof(int32_t));
        *s = scale;
        *z = zp;
        t->q = (struct mnet_qparams){.count = 1, .scale = s, .zero_point = z};
    }
    b->g.n_tensors = ++b->nt;
    return b->nt - 1;
}

static size_t elems(const struct mnet_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= t->shape[i];
    return n;
}

/* a constant with random data (int8/uint8/int32 in a range) */
static int constant(struct gb *b, enum mnet_dtype dt, int rank, const int *shape, float scale,
                    int32_t zp, int lo, int hi)
{
    int ti = tensor(b, dt, rank, shape, scale, zp);
    struct mnet_tensor *t = &b->g.tensors[ti];
    size_t n = elems(t), es = mnet_dtype_size(dt);
    uint8_t *d = mnet_graph_alloc(&b->g, n * es);
    for (size_t i = 0; i < n; i++) {
        int32_t v = lo + (int32_t)(rnd() % (uint32_t)(hi - lo + 1));
        if (dt == MNET_I32)
            memcpy(d + 4 * i, &v, 4);
        else
            d[i] = (uint8_t)v;
    }
    t->data = d;
    t->nbytes = n * es;
    return ti;
}

static void per_channel(struct gb *b, int ti, int count, int axis, float base)
{
    float *s = mnet_graph_alloc(&b->g, count * sizeof(float));
    int32_t *z = mnet_graph_alloc(&b->g, count * sizeof(int32_t));
    for (int i = 0; i < count; i++)
        s[i] = base * (0.5f + (rnd() % 1000) / 1000.0f);
    b->g.tensors[ti].q = (struct mnet_qparams){.count = count, .axis = axis, .scale = s, .zero_point = z};
}

static struct mnet_op *op(struct gb *b, enum mnet_op_kind k, int in0, int in1, int in2, int out)
{
    struct mnet_op *o = &b->g.ops[b->no];
    memset(o, 0, sizeof(*o));
    o->kind = k;
    o->inputs[0] = in0;
    o->inputs[1] = in1;
    o->inputs[2] = in2;
    o->n_inputs = in2 != -2 ? 3 : in1 != -2 ? 2 : 1;
    o->output = out;
    o->stride_h = o->stride_w = o->dilation_h = o->dilation_w = 1;
    o->depth_multiplier = 1;
    o->beta = 1.0f;
    b->g.n_ops = ++b->no;
    return o;
}

/* ---- reference execution of the same graph on original dtypes ---- */

static void *tbuf[64];

static int32_t zp_of(const struct mnet_tensor *t) { return t->q.zero_point[0]; }

static void geom_of(const struct mnet_graph *g, const struct mnet_op *o, struct mnet_conv_geom *ge)
{
    const struct mnet_tensor *in = &g->tensors[o->inputs[0]], *out = &g->tensors[o->output];
    memset(ge, 0, sizeof(*ge));
    ge->in_h = in->shape[1], ge->in_w = in->shape[2], ge->in_c = in->shape[3];
    ge->out_h = out->shape[1], ge->out_w = out->shape[2], ge->out_c = out->shape[3];
    ge->stride_h = o->stride_h, ge->stride_w = o->stride_w;
    ge->dil_h = o->dilation_h, ge->dil_w = o->dilation_w;
    ge->depth_multiplier = 1;
    if (o->kind == MNET_OP_AVERAGE_POOL_2D) {
        ge->k_h = o->filter_h, ge->k_w = o->filter_w;
        ge->dil_h = ge->dil_w = 1;
    } else {
        const struct mnet_tensor *w = &g->tensors[o->inputs[1]];
        ge->k_h = w->shape[1], ge->k_w = w->shape[2];
        if (o->kind == MNET_OP_DEPTHWISE_CONV_2D)
            ge->depth_multiplier = ge->out_c / ge->in_c;
    }
    if (o->padding == MNET_PAD_SAME) {
        int ph = (ge->out_h - 1) * ge->stride_h + (ge->k_h - 1) * ge->dil_h + 1 - ge->in_h;
        int pw = (ge->out_w - 1) * ge->stride_w + (ge->k_w - 1) * ge->dil_w + 1 - ge->in_w;
        ge->pad_top = ph > 0 ? ph / 2 : 0;
        ge->pad_left = pw > 0 ? pw / 2 : 0;
    }
}

/* the multiplier rule of plan.c: float product for uint8 models */
static double product(float a, float b, int u8)
{
    if (u8) {
        volatile float p = a * b;
        return p;
    }
    return (double)a * b;
}

static void ref_run(const struct mnet_graph *g, int n, const void *input, void *output)
{
    for (int i = 0; i < g->n_tensors; i++) {
        const struct mnet_tensor *t = &g->tensors[i];
        tbuf[i] = t->data ? (void *)t->data : calloc((size_t)n * elems(t), 4);
    }
    memcpy(tbuf[g->input], input, (size_t)n * elems(&g->tensors[g->input]));
    for (int k = 0; k < g->n_ops; k++) {
        const struct mnet_op *o = &g->ops[k];
        const struct mnet_tensor *in = &g->tensors[o->inputs[0]], *out = &g->tensors[o->output];
        void *x = tbuf[o->inputs[0]], *y = tbuf[o->output];
        size_t cnt = (size_t)n * elems(out);
        switch (o->kind) {
        case MNET_OP_CONV_2D:
        case MNET_OP_DEPTHWISE_CONV_2D:
        case MNET_OP_FULLY_CONNECTED: {
            const struct mnet_tensor *w = &g->tensors[o->inputs[1]];
            struct mnet_ref_qconv l = {0};
            if (o->kind == MNET_OP_FULLY_CONNECTED) {
                l.g = (struct mnet_conv_geom){.in_h = 1, .in_w = 1, .in_c = w->shape[1], .out_h = 1,
                                              .out_w = 1, .out_c = w->shape[0], .k_h = 1, .k_w = 1,
                                              .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1,
                                              .depth_multiplier = 1};
            } else {
                geom_of(g, o, &l.g);
            }
            int oc = l.g.out_c;
            int32_t *mult = malloc(oc * 4), *shift = malloc(oc * 4), *wz = malloc(oc * 4);
            for (int c = 0; c < oc; c++) {
                int sh;
                float ws = w->q.scale[w->q.count > 1 ? c : 0];
                mnet_quantize_multiplier(product(in->q.scale[0], ws, w->dtype == MNET_U8) / out->q.scale[0],
                                         &mult[c], &sh);
                shift[c] = sh;
                wz[c] = w->q.zero_point[w->q.count > 1 ? c : 0];
            }
            l.in_t = in->dtype, l.w_t = w->dtype, l.out_t = out->dtype;
            l.w = w->data;
            l.bias = o->inputs[2] >= 0 ? g->tensors[o->inputs[2]].data : NULL;
            l.in_zp = zp_of(in);
            l.w_zp = wz;
            l.w_zp_count = oc;
            l.mult = mult, l.shift = shift;
            l.out_zp = zp_of(out);
            mnet_activation_range_q(o->activation, out->q.scale[0], zp_of(out), out->dtype,
                                    &l.out_min, &l.out_max);
            if (o->kind == MNET_OP_DEPTHWISE_CONV_2D)
                mnet_ref_qdw(&l, n, x, y);
            else
                mnet_ref_qconv(&l, n, x, y);
            free(mult), free(shift), free(wz);
            break;
        }
        case MNET_OP_ADD:
        case MNET_OP_MUL: {
            const struct mnet_tensor *b = &g->tensors[o->inputs[1]];
            struct mnet_ref_qbinary p = {.t = out->dtype, .a_zp = zp_of(in), .b_zp = zp_of(b),
                                         .out_zp = zp_of(out), .left_shift = 20};
            mnet_activation_range_q(o->activation, out->q.scale[0], zp_of(out), out->dtype,
                                    &p.out_min, &p.out_max);
            size_t inner = elems(out), b_inner = elems(b);
            if (o->kind == MNET_OP_ADD) {
                mnet_quant_add_params(in->q.scale[0], b->q.scale[0], out->q.scale[0], 20, &p.a_mult,
                                      &p.a_shift, &p.b_mult, &p.b_shift, &p.out_mult, &p.out_shift);
                mnet_ref_qadd(&p, n, inner, x, tbuf[o->inputs[1]], b->data ? 1 : n, b_inner, y);
            } else {
                int sh;
                mnet_quantize_multiplier(product(in->q.scale[0], b->q.scale[0], out->dtype == MNET_U8) /
                                             out->q.scale[0], &p.out_mult, &sh);
                p.out_shift = sh;
                mnet_ref_qmul(&p, n, inner, x, tbuf[o->inputs[1]], b->data ? 1 : n, b_inner, y);
            }
            break;
        }
        case MNET_OP_AVERAGE_POOL_2D: {
            struct mnet_conv_geom ge;
            geom_of(g, o, &ge);
            int32_t lo, hi;
            mnet_activation_range_q(o->activation, out->q.scale[0], zp_of(out), out->dtype, &lo, &hi);
            mnet_ref_qavgpool(&ge, n, in->dtype, lo, hi, x, y);
            break;
        }
        case MNET_OP_MEAN: {
            struct mnet_qmean_params p = {.t = in->dtype, .in_zp = zp_of(in), .out_zp = zp_of(out),
                                          .in_scale = in->q.scale[0], .out_scale = out->q.scale[0],
                                          .uint8_algo = in->dtype == MNET_U8};
            mnet_ref_qmean(&p, n, in->shape[1] * in->shape[2], in->shape[3], x, y);
            break;
        }
        case MNET_OP_RESHAPE:
            memcpy(y, x, cnt);
            break;
        case MNET_OP_SOFTMAX: {
            struct mnet_qsoftmax_params p = {.in_t = in->dtype, .out_t = out->dtype,
                                             .out_zp = out->dtype == MNET_I8 ? -128 : 0};
            mnet_quant_softmax_params(o->beta, in->q.scale[0], &p.input_multiplier,
                                      &p.input_left_shift, &p.diff_min);
            int depth = in->shape[in->rank - 1];
            mnet_ref_qsoftmax(&p, cnt / depth, depth, x, y);
            break;
        }
        case MNET_OP_LOGISTIC: {
            struct mnet_qlogistic_params p = {.t = in->dtype, .in_zp = zp_of(in)};
            mnet_quant_logistic_params(in->q.scale[0], &p.input_multiplier, &p.input_left_shift,
                                       &p.input_range_radius);
            mnet_ref_qlogistic(&p, cnt, x, y);
            break;
        }
        case MNET_OP_HARD_SWISH: {
            struct mnet_qhswish_params p = {.t = in->dtype, .in_zp = zp_of(in), .out_zp = zp_of(out)};
            mnet_quant_hswish_params(in->q.scale[0], out->q.scale[0], &p.reluish_mult,
                                     &p.reluish_exp, &p.out_mult, &p.out_exp);
            mnet_ref_qhswish(&p, cnt, x, y);
            break;
        }
        case MNET_OP_QUANTIZE: {
            struct mnet_qrequant_params p = {.in_t = in->dtype, .out_t = out->dtype,
                                             .in_zp = zp_of(in), .out_zp = zp_of(out),
                                             .out_min = out->dtype == MNET_I8 ? -128 : 0,
                                             .out_max = out->dtype == MNET_I8 ? 127 : 255};
            int sh;
            mnet_quantize_multiplier((double)in->q.scale[0] / out->q.scale[0], &p.mult, &sh);
            p.shift = sh;
            mnet_ref_qrequant(&p, cnt, x, y);
            break;
        }
        default:
            printf("test graph uses an op the reference chain lacks\n");
            failures++;
        }
    }
    memcpy(output, tbuf[g->output], (size_t)n * elems(&g->tensors[g->output]));
    for (int i = 0; i < g->n_tensors; i++)
        if (!g->tensors[i].data)
            free(tbuf[i]);
}

static void run_compare(const char *name, struct gb *b)
{
    const struct mnet_tensor *tin = &b->g.tensors[b->g.input], *tout = &b->g.tensors[b->g.output];
    size_t in_n = elems(tin), out_n = elems(tout);
    for (int n = 1; n <= 3; n += 2)
        for (int threads = 1; threads <= 2; threads++) {
            struct mnet_options o = {.threads = threads, .max_batch = n};
            struct mnet_plan *p = NULL;
            char err[256] = "";
            int r = mnet_plan_build(&b->g, &o, &p, err, sizeof err);
            CHECK(r == 0, "%s: plan: %s", name, err);
            if (r)
                return;
            uint8_t *x = malloc(n * in_n), *want = malloc(n * out_n), *got = malloc(n * out_n);
            for (size_t i = 0; i < n * in_n; i++)
                x[i] = (uint8_t)rnd();
            ref_run(&b->g, n, x, want);
            memset(got, 0xee, n * out_n);
            r = mnet_plan_run(p, x, n, got);
            CHECK(r == 0, "%s: run %d", name, r);
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < n * out_n; i++)
                if (got[i] != want[i] && !bad++)
                    first = i;
            CHECK(bad == 0, "%s n=%d t=%d: %zu of %zu outputs differ, first [%zu] %d vs %d", name, n,
                  threads, bad, n * out_n, first, got[first], want[first]);
            /* the same plan again: the arena must not leak state between runs */
            r = mnet_plan_run(p, x, n, got);
            CHECK(r == 0 && memcmp(got, want, n * out_n) == 0, "%s: second run differs", name);
            /* fewer images than the plan holds: every split of the batch over threads */
            for (int m = 1; m < n; m++) {
                r = mnet_plan_run(p, x, m, got);
                CHECK(r == 0 && memcmp(got, want, m * out_n) == 0, "%s t=%d: batch %d of %d differs",
                      name, threads, m, n);
            }
            if (!bad && threads == 2 && n == 3)
                printf("ok   %s: %zu outputs x 3 images bit-exact (arena %zu B)\n", name, out_n,
                       mnet_plan_io(p)->arena_bytes);
            free(x), free(want), free(got);
            mnet_plan_free(p);
        }
}

/* TF2 layout: uint8 input, int8 inside, per-channel weights. */
static void build_int8(struct gb *b)
{
    gb_init(b);
    int s_in[4] = {1, 11, 13, 3}, s1[4] = {1, 6, 7, 8}, s2[4] = {1, 6, 7, 16}, s3[4] = {1, 3, 4, 16};
    int t_in = tensor(b, MNET_U8, 4, s_in, 0.0078125f, 128);
    int t_q = tensor(b, MNET_I8, 4, s_in, 0.0078125f, 0);
    op(b, MNET_OP_QUANTIZE, t_in, -2, -2, t_q);
    int w1s[4] = {8, 3, 3, 3}, b1s[1] = {8};
    int w1 = constant(b, MNET_I8, 4, w1s, 0, 0, -127, 127);
    per_channel(b, w1, 8, 0, 0.01f);
    int b1 = constant(b, MNET_I32, 1, b1s, 0, 0, -3000, 3000);
    int t1 = tensor(b, MNET_I8, 4, s1, 0.0235294f, -128);
    struct mnet_op *o = op(b, MNET_OP_CONV_2D, t_q, w1, b1, t1);
    o->stride_h = o->stride_w = 2;
    o->padding = MNET_PAD_SAME;
    o->activation = MNET_ACT_RELU6;
    int w2s[4] = {1, 3, 3, 16}, b2s[1] = {16};
    int w2 = constant(b, MNET_I8, 4, w2s, 0, 0, -127, 127);
    per_channel(b, w2, 16, 3, 0.02f);
    int b2 = constant(b, MNET_I32, 1, b2s, 0, 0, -2000, 2000);
    int t2 = tensor(b, MNET_I8, 4, s2, 0.05f, -3);
    o = op(b, MNET_OP_DEPTHWISE_CONV_2D, t1, w2, b2, t2);
    o->padding = MNET_PAD_SAME;
    o->depth_multiplier = 2;
    int t3 = tensor(b, MNET_I8, 4, s2, 0.08f, 5);
    op(b, MNET_OP_ADD, t2, t2, -2, t3);
    int t4 = tensor(b, MNET_I8, 4, s3, 0.08f, 5);
    o = op(b, MNET_OP_AVERAGE_POOL_2D, t3, -2, -2, t4);
    o->filter_h = o->filter_w = 2;
    o->stride_h = o->stride_w = 2;
    o->padding = MNET_PAD_SAME;
    int axs[1] = {2};
    int ax = tensor(b, MNET_I32, 1, axs, 0, 0);
    int32_t *axd = mnet_graph_alloc(&b->g, 8);
    axd[0] = 1, axd[1] = 2;
    b->g.tensors[ax].data = axd;
    b->g.tensors[ax].nbytes = 8;
    int s5[2] = {1, 16};
    int t5 = tensor(b, MNET_I8, 2, s5, 0.03f, -7);
    op(b, MNET_OP_MEAN, t4, ax, -2, t5);
    int w6s[2] = {10, 16}, b6s[1] = {10}, s6[2] = {1, 10};
    int w6 = constant(b, MNET_I8, 2, w6s, 0, 0, -127, 127);
    per_channel(b, w6, 10, 0, 0.01f);
    int b6 = constant(b, MNET_I32, 1, b6s, 0, 0, -500, 500);
    int t6 = tensor(b, MNET_I8, 2, s6, 0.1f, 2);
    op(b, MNET_OP_FULLY_CONNECTED, t5, w6, b6, t6);
    int t7 = tensor(b, MNET_I8, 2, s6, 1.0f / 256, -128);
    op(b, MNET_OP_SOFTMAX, t6, -2, -2, t7);
    int t8 = tensor(b, MNET_U8, 2, s6, 1.0f / 256, 0);
    op(b, MNET_OP_QUANTIZE, t7, -2, -2, t8);
    b->g.input = t_in;
    b->g.output = t8;
}

/* TF1 layout: uint8 everything, per-tensor uint8 weights, v3-like ops. */
static void build_uint8(struct gb *b)
{
    gb_init(b);
    int s_in[4] = {1, 10, 9, 3}, s1[4] = {1, 5, 5, 12}, s2[4] = {1, 5, 5, 12}, sv[4] = {1, 1, 1, 12};
    int t_in = tensor(b, MNET_U8, 4, s_in, 0.0078125f, 128);
    int w1s[4] = {12, 3, 3, 3}, b1s[1] = {12};
    int w1 = constant(b, MNET_U8, 4, w1s, 0.02f, 119, 0, 255);
    int b1 = constant(b, MNET_I32, 1, b1s, 0, 0, -3000, 3000);
    int t1 = tensor(b, MNET_U8, 4, s1, 0.09f, 120);
    struct mnet_op *o = op(b, MNET_OP_CONV_2D, t_in, w1, b1, t1);
    o->stride_h = o->stride_w = 2;
    o->padding = MNET_PAD_SAME;
    int t2 = tensor(b, MNET_U8, 4, s1, 0.05f, 4);
    op(b, MNET_OP_HARD_SWISH, t1, -2, -2, t2);
    int w2s[4] = {1, 3, 3, 12};
    int w2 = constant(b, MNET_U8, 4, w2s, 0.03f, 131, 0, 255);
    int b2 = constant(b, MNET_I32, 1, b1s, 0, 0, -2000, 2000);
    int t3 = tensor(b, MNET_U8, 4, s2, 0.1f, 0);
    o = op(b, MNET_OP_DEPTHWISE_CONV_2D, t2, w2, b2, t3);
    o->padding = MNET_PAD_SAME;
    o->activation = MNET_ACT_RELU;
    int t4 = tensor(b, MNET_U8, 4, sv, 0.1f, 0);
    o = op(b, MNET_OP_AVERAGE_POOL_2D, t3, -2, -2, t4);
    o->filter_h = o->filter_w = 5;
    o->padding = MNET_PAD_VALID;
    int sc[1] = {1};
    int k = constant(b, MNET_U8, 0, sc, 0.0006536f, 0, 255, 255);
    int t5 = tensor(b, MNET_U8, 4, sv, 0.0039215f, 0);
    op(b, MNET_OP_MUL, t4, k, -2, t5);
    int t6 = tensor(b, MNET_U8, 4, s2, 0.07f, 3);
    op(b, MNET_OP_MUL, t3, t5, -2, t6); /* (1,5,5,12) x (1,1,1,12) */
    int t7 = tensor(b, MNET_U8, 4, s2, 0.12f, 100);
    op(b, MNET_OP_ADD, t6, t3, -2, t7);
    int s8[2] = {1, 300};
    int t8 = tensor(b, MNET_U8, 2, s8, 0.12f, 100);
    op(b, MNET_OP_RESHAPE, t7, -2, -2, t8);
    int t9 = tensor(b, MNET_U8, 2, s8, 1.0f / 256, 0);
    op(b, MNET_OP_LOGISTIC, t8, -2, -2, t9);
    b->g.input = t_in;
    b->g.output = t9;
}

/* ---- float graphs: MobileNetV2-style blocks (fused where the table can) ---- */

static int fconstant(struct gb *b, int rank, const int *shape, float lo, float hi)
{
    int ti = tensor(b, MNET_F32, rank, shape, 0, 0);
    struct mnet_tensor *t = &b->g.tensors[ti];
    size_t n = elems(t);
    float *d = mnet_graph_alloc(&b->g, n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        d[i] = lo + (hi - lo) * (float)(rnd() % 100000) / 100000.0f;
    t->data = d;
    t->nbytes = n * sizeof(float);
    return ti;
}

/* 1x1 / 3x3 conv or depthwise of x (1,h,w,c) to oc channels, float weights. */
static int fconv(struct gb *b, enum mnet_op_kind k, int x, int kk, int stride, int oc,
                 enum mnet_activation act)
{
    const struct mnet_tensor *t = &b->g.tensors[x];
    int h = t->shape[1], w = t->shape[2], c = t->shape[3];
    int dw = k == MNET_OP_DEPTHWISE_CONV_2D;
    int ws[4] = {dw ? 1 : oc, kk, kk, dw ? oc : c}, bs[1] = {oc};
    float r = 1.0f / sqrtf((float)(dw ? kk * kk : kk * kk * c));
    int wi = fconstant(b, 4, ws, -1.5f * r, 1.5f * r), bi = fconstant(b, 1, bs, -0.5f, 0.5f);
    int os[4] = {1, (h + stride - 1) / stride, (w + stride - 1) / stride, oc};
    int y = tensor(b, MNET_F32, 4, os, 0, 0);
    struct mnet_op *o = op(b, k, x, wi, bi, y);
    o->stride_h = o->stride_w = stride;
    o->padding = MNET_PAD_SAME;
    o->activation = act;
    return y;
}

/* input (1,45,39,3) float -> stem 3x3/2 (23x20x12) -> [dw, project 8] ->
 * [expand 36, dw /2 (12x10), project 10] -> [expand 72, dw, project 10,
 * ADD] -> [expand 40, dw, project 10, ADD]: the output is the last block's
 * (1,12,10,10) tensor, compared whole. */
static void build_float(struct gb *b)
{
    gb_init(b);
    int s_in[4] = {1, 45, 39, 3};
    int x = tensor(b, MNET_F32, 4, s_in, 0, 0);
    b->g.input = x;
    int y = fconv(b, MNET_OP_CONV_2D, x, 3, 2, 12, MNET_ACT_RELU6);
    y = fconv(b, MNET_OP_DEPTHWISE_CONV_2D, y, 3, 1, 12, MNET_ACT_RELU6);
    y = fconv(b, MNET_OP_CONV_2D, y, 1, 1, 8, MNET_ACT_NONE);
    y = fconv(b, MNET_OP_CONV_2D, y, 1, 1, 36, MNET_ACT_RELU6);
    y = fconv(b, MNET_OP_DEPTHWISE_CONV_2D, y, 3, 2, 36, MNET_ACT_RELU6);
    y = fconv(b, MNET_OP_CONV_2D, y, 1, 1, 10, MNET_ACT_NONE);
    for (int blk = 0; blk < 2; blk++) {
        int z = fconv(b, MNET_OP_CONV_2D, y, 1, 1, blk ? 40 : 72, MNET_ACT_RELU6);
        z = fconv(b, MNET_OP_DEPTHWISE_CONV_2D, z, 3, 1, blk ? 40 : 72, MNET_ACT_RELU6);
        z = fconv(b, MNET_OP_CONV_2D, z, 1, 1, 10, MNET_ACT_NONE);
        int s[4] = {1, 12, 10, 10};
        int sum = tensor(b, MNET_F32, 4, s, 0, 0);
        if (blk)
            op(b, MNET_OP_ADD, y, z, -2, sum);
        else
            op(b, MNET_OP_ADD, z, y, -2, sum);
        y = sum;
    }
    b->g.output = y;
}

static void ref_run_f32(const struct mnet_graph *g, int n, const float *input, float *output)
{
    for (int i = 0; i < g->n_tensors; i++) {
        const struct mnet_tensor *t = &g->tensors[i];
        tbuf[i] = t->data ? (void *)t->data : calloc((size_t)n * elems(t), sizeof(float));
    }
    memcpy(tbuf[g->input], input, (size_t)n * elems(&g->tensors[g->input]) * sizeof(float));
    for (int k = 0; k < g->n_ops; k++) {
        const struct mnet_op *o = &g->ops[k];
        const float *x = tbuf[o->inputs[0]];
        float *y = tbuf[o->output];
        float lo = o->activation == MNET_ACT_RELU6 ? 0 : -INFINITY;
        float hi = o->activation == MNET_ACT_RELU6 ? 6 : INFINITY;
        if (o->kind == MNET_OP_ADD) {
            size_t inner = elems(&g->tensors[o->output]);
            mnet_ref_fadd(n, inner, x, tbuf[o->inputs[1]], n, inner, lo, hi, y);
            continue;
        }
        struct mnet_conv_geom ge;
        geom_of(g, o, &ge);
        if (o->kind == MNET_OP_DEPTHWISE_CONV_2D)
            mnet_ref_fdw(&ge, n, x, tbuf[o->inputs[1]], tbuf[o->inputs[2]], lo, hi, y);
        else
            mnet_ref_fconv(&ge, n, x, tbuf[o->inputs[1]], tbuf[o->inputs[2]], lo, hi, y);
    }
    memcpy(output, tbuf[g->output], (size_t)n * elems(&g->tensors[g->output]) * sizeof(float));
    for (int i = 0; i < g->n_tensors; i++)
        if (!g->tensors[i].data)
            free(tbuf[i]);
}

/* The float graph at batch 1 and 3, threads 1 and 2, with fusion off, as
 * the plan chooses and everywhere the table can (MNET_FUSE=0, default, all):
 * within 1e-5 of the reference chain, and the same floats in all three
 * (a fused block does each output's arithmetic as the layers would). */
static void run_compare_f32(struct gb *b)
{
    const size_t in_n = elems(&b->g.tensors[b->g.input]), out_n = elems(&b->g.tensors[b->g.output]);
    const int can_fuse = mnet_kernels_select()->fblock_run != NULL;
    for (int n = 1; n <= 3; n += 2) {
        float *x = malloc(n * in_n * sizeof(float)), *want = malloc(n * out_n * sizeof(float));
        float *got[3];
        for (size_t i = 0; i < n * in_n; i++)
            x[i] = (float)(rnd() % 2001) / 1000.0f - 1.0f;
        ref_run_f32(&b->g, n, x, want);
        for (int threads = 1; threads <= 2; threads++) {
            for (int mode = 0; mode < 3; mode++) {
                setenv("MNET_FUSE", mode == 0 ? "0" : mode == 1 ? "" : "all", 1);
                struct mnet_options o = {.threads = threads, .max_batch = n};
                struct mnet_plan *p = NULL;
                char err[256] = "";
                got[mode] = malloc(n * out_n * sizeof(float));
                int r = mnet_plan_build(&b->g, &o, &p, err, sizeof err);
                CHECK(r == 0, "float graph: plan: %s", err);
                if (r)
                    continue;
                int fb = mnet_plan_io(p)->fused_blocks;
                CHECK(fb == (mode == 0 || !can_fuse ? 0 : mode == 2 ? 4 : fb),
                      "float graph mode %d: %d fused blocks", mode, fb);
                for (int m = n; m >= 1; m--) { /* every split of the batch over threads */
                    r = mnet_plan_run(p, x, m, got[mode]);
                    CHECK(r == 0, "float graph: run %d", r);
                    size_t bad = 0, first = 0;
                    for (size_t i = 0; i < m * out_n; i++)
                        if (!(fabsf(got[mode][i] - want[i]) <= 1e-5f * (fabsf(want[i]) + 1)) && !bad++)
                            first = i;
                    CHECK(bad == 0, "float graph mode %d n=%d/%d t=%d: %zu of %zu outputs off, first "
                          "[%zu] %.9g vs %.9g", mode, m, n, threads, bad, m * out_n, first,
                          got[mode][first], want[first]);
                }
                if (mode > 0)
                    CHECK(memcmp(got[mode], got[0], n * out_n * sizeof(float)) == 0,
                          "float graph mode %d n=%d t=%d: not the unfused floats", mode, n, threads);
                if (threads == 2 && n == 3 && mode == 2)
                    printf("ok   float graph (stem, 4 dw blocks, 2 residual): %zu outputs x 3 images "
                           "within 1e-5, %d blocks fused, arena %zu B\n", out_n, fb,
                           mnet_plan_io(p)->arena_bytes);
                mnet_plan_free(p);
            }
            for (int mode = 0; mode < 3; mode++)
                free(got[mode]);
        }
        free(x), free(want);
    }
    unsetenv("MNET_FUSE");
}

static int plan_rc(struct gb *b, char *err, size_t errlen)
{
    struct mnet_plan *p = NULL;
    int r = mnet_plan_build(&b->g, NULL, &p, err, errlen);
    mnet_plan_free(p);
    return r;
}

static void test_rejects(void)
{
    struct gb b;
    char err[256];
    struct {
        const char *what;
        int want;
    } cases[] = {
        {"conv output shape", -EBADMSG}, {"per-channel count", -EBADMSG},
        {"bias dtype", -EBADMSG},        {"use before definition", -EBADMSG},
        {"broadcast (1,3,3,12)", -ENOTSUP}, {"input not an image", -ENOTSUP},
        {"tensor written twice", -EBADMSG}, {"avgpool rescales", -ENOTSUP},
        {"softmax output scale", -ENOTSUP}, {"output never computed", -EBADMSG},
        {"hybrid float/int8 conv", -ENOTSUP}, {"zero stride", -EBADMSG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (i == 0 || i == 3 || i == 5 || i == 6 || i == 8 || i == 9 || i == 10 || i == 11)
            build_int8(&b);
        else
            build_uint8(&b);
        struct mnet_graph *g = &b.g;
        switch (i) {
        case 0: g->tensors[g->ops[1].output].shape[1] = 5; break;
        case 1: per_channel(&b, g->ops[0].inputs[1], 12, 3, 0.01f); break; /* conv: axis must be 0 */
        case 2: g->tensors[g->ops[0].inputs[2]].dtype = MNET_I8; break;
        case 3: { int t = g->ops[2].inputs[0]; g->ops[2].inputs[0] = g->ops[3].output; (void)t; break; }
        case 4: g->ops[5].inputs[1] = g->ops[2].inputs[1]; break; /* MUL by a (1,3,3,12) tensor */
        case 5: g->tensors[g->input].shape[3] = 4; g->tensors[g->ops[0].output].shape[3] = 4; break;
        case 6: g->ops[3].output = g->ops[2].output; break;
        case 7: g->tensors[g->ops[3].output].q.zero_point = g->tensors[g->ops[1].output].q.zero_point; break;
        case 8: ((float *)g->tensors[g->ops[7].output].q.scale)[0] = 0.01f; break;
        case 9: g->output = g->ops[2].inputs[1]; break; /* a constant */
        case 10: g->tensors[g->ops[1].inputs[0]].dtype = MNET_F32; break;
        case 11: g->ops[1].stride_w = 0; break;
        }
        err[0] = 0;
        int r = plan_rc(&b, err, sizeof err);
        CHECK(r == cases[i].want, "reject '%s': got %d (%s), want %d", cases[i].what, r, err,
              cases[i].want);
        if (r == cases[i].want)
            printf("ok   rejects %-24s %d: %s\n", cases[i].what, r, err);
        mnet_graph_free(&b.g);
    }
}

/* Random changes within what the reader guarantees (indices in range,
 * constant data consistent with its shape): the plan must refuse or run,
 * never crash or overrun the arena (run this under ASan). */
static void mutate(struct gb *b)
{
    struct mnet_graph *g = &b->g;
    int kinds = 1 + (int)(rnd() % 3);
    for (int k = 0; k < kinds; k++) {
        struct mnet_op *o = &g->ops[rnd() % (uint32_t)g->n_ops];
        struct mnet_tensor *t = &g->tensors[rnd() % (uint32_t)g->n_tensors];
        switch (rnd() % 12) {
        case 0: o->stride_h = (int)(rnd() % 4); break;
        case 1: o->dilation_w = (int)(rnd() % 3); break;
        case 2: o->padding = (enum mnet_padding)(rnd() % 2); break;
        case 3: o->activation = (enum mnet_activation)(rnd() % 4); break;
        case 4: o->filter_h = (int)(rnd() % 9); break;
        case 5: o->inputs[rnd() % (uint32_t)o->n_inputs] = (int)(rnd() % (uint32_t)g->n_tensors) - (rnd() % 8 == 0); break;
        case 6: o->output = (int)(rnd() % (uint32_t)g->n_tensors); break;
        case 7: o->kind = (enum mnet_op_kind)(rnd() % MNET_OP_COUNT); break;
        case 8:
            if (!t->data && t->rank > 0)
                t->shape[rnd() % (uint32_t)t->rank] = (int)(rnd() % 40);
            break;
        case 9:
            if (!t->data) {
                t->rank = (int)(rnd() % 5);
                for (int i = 0; i < t->rank; i++)
                    if (t->shape[i] < 1)
                        t->shape[i] = 1;
            }
            break;
        case 10:
            if (!t->data && t->q.count == 1)
                t->dtype = (enum mnet_dtype)(rnd() % 4);
            break;
        case 11:
            if (rnd() % 2)
                g->input = (int)(rnd() % (uint32_t)g->n_tensors);
            else
                g->output = (int)(rnd() % (uint32_t)g->n_tensors);
            break;
        }
    }
}

static void test_mutations(void)
{
    int built = 0, refused = 0;
    for (int it = 0; it < 3000; it++) {
        struct gb b;
        if (it % 2)
            build_int8(&b);
        else
            build_uint8(&b);
        mutate(&b);
        struct mnet_options o = {.threads = 1 + it % 2, .max_batch = 1 + it % 3,
                                 .precision = it % 5 == 0 ? MNET_PRECISION_FLOAT32 : MNET_PRECISION_NATIVE};
        struct mnet_plan *p = NULL;
        char err[256] = "";
        int r = mnet_plan_build(&b.g, &o, &p, err, sizeof err);
        if (r == 0) {
            const struct mnet_plan_io *io = mnet_plan_io(p);
            size_t in_b = (size_t)io->height * io->width * io->channels * (io->input_type == MNET_F32 ? 4 : 1);
            size_t out_b = (size_t)io->classes * (io->output_type == MNET_F32 ? 4 : 1);
            uint8_t *x = calloc(o.max_batch, in_b), *y = malloc(o.max_batch * out_b);
            for (size_t i = 0; i < o.max_batch * in_b; i++)
                x[i] = (uint8_t)rnd();
            CHECK(mnet_plan_run(p, x, o.max_batch, y) == 0, "mutated graph %d: run failed", it);
            free(x), free(y);
            built++;
        } else {
            CHECK((r == -EBADMSG || r == -ENOTSUP) && err[0], "mutated graph %d: code %d (%s)", it, r, err);
            refused++;
        }
        mnet_plan_free(p);
        mnet_graph_free(&b.g);
    }
    printf("ok   3000 mutated graphs: %d planned and ran, %d refused with a message\n", built, refused);
}

static void test_real_mutations(void)
{
    const char *shared = getenv("MNET_SHARED");
    const char *models[3] = {"models/mobilenet_v2_1.0_224_quant.tflite",
                             "models/tf2_mobilenet_v2_1.0_224_ptq.tflite",
                             "models/mobilenet_v3-small_224_1.0_uint8.tflite"};
    CHECK(shared != NULL, "MNET_SHARED is not set");
    if (!shared)
        return;
    int built = 0, refused = 0;
    for (int m = 0; m < 3; m++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", shared, models[m]);
        FILE *f = fopen(path, "rb");
        CHECK(f != NULL, "%s missing", path);
        if (!f)
            continue;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc((size_t)n);
        size_t got = fread(buf, 1, (size_t)n, f);
        fclose(f);
        for (int it = 0; it < 25 && got == (size_t)n; it++) {
            struct gb b;
            memset(&b, 0, sizeof b);
            char err[256] = "";
            if (mnet_tflite_parse(buf, got, &b.g, err, sizeof err) != 0) {
                CHECK(0, "%s: %s", path, err);
                break;
            }
            mutate(&b);
            struct mnet_options o = {.threads = 2, .max_batch = 1,
                                     .precision = it % 4 == 0 ? MNET_PRECISION_FLOAT32 : MNET_PRECISION_NATIVE};
            struct mnet_plan *p = NULL;
            int r = mnet_plan_build(&b.g, &o, &p, err, sizeof err);
            if (r == 0) {
                const struct mnet_plan_io *io = mnet_plan_io(p);
                size_t in_b = (size_t)io->height * io->width * io->channels * (io->input_type == MNET_F32 ? 4 : 1);
                size_t out_b = (size_t)io->classes * (io->output_type == MNET_F32 ? 4 : 1);
                uint8_t *x = calloc(1, in_b), *y = malloc(out_b);
                CHECK(mnet_plan_run(p, x, 1, y) == 0, "%s mutation %d: run", models[m], it);
                free(x), free(y);
                built++;
            } else {
                CHECK((r == -EBADMSG || r == -ENOTSUP) && err[0], "%s mutation %d: %d", models[m], it, r);
                refused++;
            }
            mnet_plan_free(p);
            mnet_graph_free(&b.g);
        }
        free(buf);
    }
    printf("ok   75 mutated real models: %d planned and ran, %d refused\n", built, refused);
}

int main(void)
{
    struct gb b;
    build_int8(&b);
    run_compare("int8 graph (QUANTIZE, conv s2 SAME per-channel, dw dm2, ADD, avgpool, MEAN, FC, "
                "softmax)", &b);
    mnet_graph_free(&b.g);
    build_uint8(&b);
    run_compare("uint8 graph (conv, hard-swish, dw, pool, scalar MUL, (1,1,1,C) MUL, ADD, "
                "RESHAPE, logistic)", &b);
    mnet_graph_free(&b.g);
    build_float(&b);
    run_compare_f32(&b);
    mnet_graph_free(&b.g);
    test_rejects();
    test_mutations();
    test_real_mutations();
    return check_summary();
}
