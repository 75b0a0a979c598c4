/* builder.c: MobileNet v1 / v2 graphs from the papers' layer tables, with
 * seeded random weights, for benchmarks and tests at sizes no file has.
 *
 * The graph has the shape TensorFlow's converter gives these networks:
 *   v1 (arXiv 1704.04861, Table 1): conv 3x3/2 (32) + ReLU6, 13 depthwise
 *      separable blocks (dw 3x3 + ReLU6, 1x1 + ReLU6), AVERAGE_POOL_2D VALID
 *      over the whole map, 1x1 conv to the classes (logits), RESHAPE, SOFTMAX.
 *   v2 (arXiv 1801.04381, Table 2): conv 3x3/2 (32) + ReLU6, 17 inverted
 *      residual blocks (expand 1x1 + ReLU6, dw 3x3 + ReLU6, linear project 1x1,
 *      ADD when stride 1 and channels match; the first block has no expand),
 *      conv 1x1 1280 + ReLU6, pool, logits conv, RESHAPE, SOFTMAX.
 * Width multiplier rounding follows the reference implementations:
 * int(ch * alpha) for v1, make_divisible(ch * alpha, 8) for v2 (which keeps
 * 1280 final channels for alpha <= 1).
 *
 * Numerics: MNET_F32 is float32 everywhere.  MNET_I8 is the TF2 post-training
 * layout: uint8 input (scale 1/128, zero point 128) -> QUANTIZE -> int8
 * activations (asymmetric per tensor), int8 symmetric per-channel weights,
 * int32 biases (scale in_scale * w_scale[c]), int8 softmax (1/256, -128) ->
 * QUANTIZE -> uint8 output (1/256, 0).  The float and int8 graphs built from
 * the same seed carry the same weights (the int8 ones quantized).
 *
 * Scales: each conv's weights are drawn so its pre-activation variance hits a
 * target given the (tracked, analytic) second moment of its input, i.e. a
 * He-like init that keeps activations O(1) through any depth.  The int8
 * activation ranges come from the same tracked moments.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph.h"

/* Room for v2 (17 blocks of at most 10 tensors and 4 ops) with margin. */
#define BLD_MAX_TENSORS 400
#define BLD_MAX_OPS 160

struct bld {
    struct mnet_graph *g;
    uint64_t rng;
    int int8;    /* MNET_I8 numerics */
    int failed;  /* -ENOMEM or -EINVAL once something went wrong */
};

/* An activation tensor being threaded through the network. */
struct act {
    int t;       /* tensor index */
    int h, w, c; /* (1, h, w, c) */
    double m2;   /* estimated second moment E[x^2] of its float values */
    float scale; /* int8 quantization (unused for float) */
    int32_t zp;
};

/* splitmix64: small, seedable, good enough for weights. */
static uint64_t bld_next(struct bld *b)
{
    uint64_t z = (b->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static double bld_uniform(struct bld *b)
{
    return (double)(bld_next(b) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

static void *bld_alloc(struct bld *b, size_t size)
{
    if (b->failed)
        return NULL;
    void *p = mnet_graph_alloc(b->g, size);
    if (!p)
        b->failed = -ENOMEM;
    return p;
}

/* "what/suffix", owned by the graph. */
static const char *bld_name(struct bld *b, const char *what, const char *suffix)
{
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%s/%s", what, suffix);
    char *s = bld_alloc(b, strlen(tmp) + 1);
    if (!s)
        return "";
    memcpy(s, tmp, strlen(tmp) + 1);
    return s;
}

static int bld_tensor(struct bld *b, enum mnet_dtype dt, int rank, const int *shape, const char *name)
{
    struct mnet_graph *g = b->g;
    if (b->failed)
        return 0;
    if (g->n_tensors >= BLD_MAX_TENSORS) {
        b->failed = -EINVAL;
        return 0;
    }
    struct mnet_tensor *t = &g->tensors[g->n_tensors];
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank; i++)
        t->shape[i] = shape[i];
    t->name = name ? name : "";
    return g->n_tensors++;
}

static struct mnet_op *bld_op(struct bld *b, enum mnet_op_kind kind, int n_in, int in0, int in1,
                              int in2, int out)
{
    struct mnet_graph *g = b->g;
    if (b->failed)
        return NULL;
    if (g->n_ops >= BLD_MAX_OPS) {
        b->failed = -EINVAL;
        return NULL;
    }
    struct mnet_op *op = &g->ops[g->n_ops++];
    op->kind = kind;
    op->n_inputs = n_in;
    op->inputs[0] = in0;
    op->inputs[1] = in1;
    op->inputs[2] = in2;
    op->output = out;
    op->stride_h = op->stride_w = 1;
    op->dilation_h = op->dilation_w = 1;
    op->beta = 1.0f;
    return op;
}

static void bld_set_quant(struct bld *b, int t, float scale, int32_t zp)
{
    float *s = bld_alloc(b, sizeof *s);
    int32_t *z = bld_alloc(b, sizeof *z);
    if (!s || !z)
        return;
    *s = scale;
    *z = zp;
    struct mnet_tensor *tt = &b->g->tensors[t];
    tt->q.count = 1;
    tt->q.axis = 0;
    tt->q.scale = s;
    tt->q.zero_point = z;
}

/* int8 asymmetric quantization covering [lo, hi] (lo <= 0 <= hi), as TFLite
 * derives it from a calibrated range. */
static void bld_range_i8(float lo, float hi, float *scale, int32_t *zp)
{
    float s = (hi - lo) / 255.0f;
    long z = lrintf(-128.0f - lo / s);
    if (z < -128)
        z = -128;
    if (z > 127)
        z = 127;
    *scale = s;
    *zp = (int32_t)z;
}

/* New activation tensor (1, h, w, c); for int8 its range is [lo, hi]. */
static struct act bld_act(struct bld *b, int h, int w, int c, double m2, float lo, float hi,
                          const char *name)
{
    struct act a = { 0 };
    int shape[4] = { 1, h, w, c };
    a.t = bld_tensor(b, b->int8 ? MNET_I8 : MNET_F32, 4, shape, name);
    a.h = h;
    a.w = w;
    a.c = c;
    a.m2 = m2;
    if (b->int8) {
        bld_range_i8(lo, hi, &a.scale, &a.zp);
        bld_set_quant(b, a.t, a.scale, a.zp);
    }
    return a;
}

/* TF "SAME": output ceil(in / stride). */
static int bld_same(int in, int stride)
{
    return (in + stride - 1) / stride;
}

/* Convolution (CONV_2D when dw == 0: k x k over all input channels to out_c;
 * DEPTHWISE_CONV_2D when dw != 0: k x k per channel, multiplier 1), SAME
 * padding.  target_var is the wanted variance of the pre-activation output.
 * ReLU6 outputs get the range [0, 6]; linear ones about +-5 sigma (slightly
 * asymmetric so the zero point is not 0). */
static struct act bld_conv(struct bld *b, const struct act *in, int dw, int out_c, int k, int stride,
                           enum mnet_activation actv, double target_var, const char *what)
{
    struct act out = { 0 };
    if (b->failed)
        return out;
    if (dw)
        out_c = in->c;
    int cin = dw ? 1 : in->c;        /* input channels each output sees */
    int oh = bld_same(in->h, stride), ow = bld_same(in->w, stride);
    size_t per_out = (size_t)k * k * cin;
    size_t n_w = per_out * (size_t)out_c;
    double fan_in = (double)per_out;
    double var_w = target_var / (fan_in * (in->m2 > 1e-6 ? in->m2 : 1e-6));
    double amp = sqrt(3.0 * var_w);  /* uniform [-amp, amp] has variance var_w */
    double bias_amp = 0.1 * sqrt(target_var);

    /* Weights: CONV_2D (O, KH, KW, I); DEPTHWISE (1, KH, KW, C). */
    int wshape[4];
    if (dw) {
        wshape[0] = 1; wshape[1] = k; wshape[2] = k; wshape[3] = out_c;
    } else {
        wshape[0] = out_c; wshape[1] = k; wshape[2] = k; wshape[3] = cin;
    }
    int bshape[1] = { out_c };
    int wt = bld_tensor(b, b->int8 ? MNET_I8 : MNET_F32, 4, wshape, bld_name(b, what, "weights"));
    int bt = bld_tensor(b, b->int8 ? MNET_I32 : MNET_F32, 1, bshape, bld_name(b, what, "bias"));
    if (b->failed)
        return out;

    float *wf = bld_alloc(b, n_w * sizeof *wf);
    float *bf = bld_alloc(b, (size_t)out_c * sizeof *bf);
    if (!wf || !bf)
        return out;
    for (size_t i = 0; i < n_w; i++)
        wf[i] = (float)(amp * bld_uniform(b));
    for (int c = 0; c < out_c; c++)
        bf[c] = (float)(bias_amp * bld_uniform(b));

    double sigma = sqrt(target_var + bias_amp * bias_amp / 3.0);
    double m2_out = actv == MNET_ACT_RELU6 ? 0.5 * target_var : sigma * sigma;
    float lo = actv == MNET_ACT_RELU6 ? 0.0f : (float)(-5.0 * sigma);
    float hi = actv == MNET_ACT_RELU6 ? 6.0f : (float)(4.6 * sigma);
    out = bld_act(b, oh, ow, out_c, m2_out, lo, hi, bld_name(b, what, "output"));
    if (b->failed)
        return out;

    struct mnet_tensor *W = &b->g->tensors[wt], *B = &b->g->tensors[bt];
    if (!b->int8) {
        W->data = wf;
        W->nbytes = n_w * sizeof *wf;
        B->data = bf;
        B->nbytes = (size_t)out_c * sizeof *bf;
    } else {
        int8_t *wq = bld_alloc(b, n_w);
        int32_t *bq = bld_alloc(b, (size_t)out_c * sizeof *bq);
        float *ws = bld_alloc(b, (size_t)out_c * sizeof *ws);
        int32_t *wz = bld_alloc(b, (size_t)out_c * sizeof *wz);
        float *bs = bld_alloc(b, (size_t)out_c * sizeof *bs);
        int32_t *bz = bld_alloc(b, (size_t)out_c * sizeof *bz);
        if (b->failed)
            return out;
        /* Per output channel symmetric [-127, 127]: channel o's weights are
         * wf[o * per_out ...] for CONV_2D, wf[j * out_c + o] for depthwise. */
        for (int o = 0; o < out_c; o++) {
            float mx = 0.0f;
            for (size_t j = 0; j < per_out; j++) {
                float v = fabsf(dw ? wf[j * out_c + o] : wf[o * per_out + j]);
                mx = v > mx ? v : mx;
            }
            ws[o] = mx > 0.0f ? mx / 127.0f : 1e-8f;
            for (size_t j = 0; j < per_out; j++) {
                size_t idx = dw ? j * out_c + o : o * per_out + j;
                long q = lrintf(wf[idx] / ws[o]);
                wq[idx] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
            }
            bs[o] = in->scale * ws[o];
            bq[o] = (int32_t)lrint((double)bf[o] / bs[o]);
        }
        W->data = wq;
        W->nbytes = n_w;
        W->q.count = out_c;
        W->q.axis = dw ? 3 : 0;
        W->q.scale = ws;
        W->q.zero_point = wz;
        B->data = bq;
        B->nbytes = (size_t)out_c * sizeof *bq;
        B->q.count = out_c;
        B->q.axis = 0;
        B->q.scale = bs;
        B->q.zero_point = bz;
    }
    struct mnet_op *op = bld_op(b, dw ? MNET_OP_DEPTHWISE_CONV_2D : MNET_OP_CONV_2D, 3, in->t, wt,
                                bt, out.t);
    if (!op)
        return out;
    op->padding = MNET_PAD_SAME;
    op->stride_h = op->stride_w = stride;
    op->depth_multiplier = dw ? 1 : 0;
    op->activation = actv;
    return out;
}

static struct act bld_add(struct bld *b, const struct act *x, const struct act *y, const char *what)
{
    double m2 = x->m2 + y->m2;
    double sigma = sqrt(m2);
    struct act out = bld_act(b, x->h, x->w, x->c, m2, (float)(-5.0 * sigma), (float)(4.6 * sigma),
                             bld_name(b, what, "add"));
    bld_op(b, MNET_OP_ADD, 2, x->t, y->t, -1, out.t);
    return out;
}

/* make_divisible(v, 8) of the TF reference: round to the nearest multiple of
 * 8, at least 8, and never more than 10% below v. */
static int bld_divisible(double v)
{
    int nv = (int)(v + 4.0) / 8 * 8;
    if (nv < 8)
        nv = 8;
    if (nv < 0.9 * v)
        nv += 8;
    return nv;
}

/* Stem: the input tensor (float, or uint8 + QUANTIZE to int8). */
static struct act bld_input(struct bld *b, int res)
{
    int shape[4] = { 1, res, res, 3 };
    struct act in = { 0 };
    in.h = in.w = res;
    in.c = 3;
    in.m2 = 1.0 / 3.0; /* pixels map to [-1, 1], about uniform */
    if (!b->int8) {
        in.t = bld_tensor(b, MNET_F32, 4, shape, "input");
        b->g->input = in.t;
        return in;
    }
    int raw = bld_tensor(b, MNET_U8, 4, shape, "input");
    bld_set_quant(b, raw, 1.0f / 128.0f, 128);
    b->g->input = raw;
    in.t = bld_tensor(b, MNET_I8, 4, shape, "input_int8");
    in.scale = 1.0f / 128.0f;
    in.zp = 0;
    bld_set_quant(b, in.t, in.scale, in.zp);
    bld_op(b, MNET_OP_QUANTIZE, 1, raw, -1, -1, in.t);
    return in;
}

/* Head: pool over the whole map, logits conv, RESHAPE (1, classes), SOFTMAX
 * (and QUANTIZE to uint8 for int8). */
static void bld_head(struct bld *b, const struct act *x, int classes)
{
    /* The average of ReLU6 outputs: mostly the (positive) mean, below m2. */
    struct act p = { 0 };
    int shape[4] = { 1, 1, 1, x->c };
    p.t = bld_tensor(b, b->int8 ? MNET_I8 : MNET_F32, 4, shape, "pool/output");
    p.h = p.w = 1;
    p.c = x->c;
    p.m2 = 0.4 * x->m2;
    p.scale = x->scale; /* TFLite's int8 pooling keeps the input quantization */
    p.zp = x->zp;
    if (b->int8)
        bld_set_quant(b, p.t, p.scale, p.zp);
    struct mnet_op *op = bld_op(b, MNET_OP_AVERAGE_POOL_2D, 1, x->t, -1, -1, p.t);
    if (op) {
        op->padding = MNET_PAD_VALID;
        op->stride_h = op->stride_w = 2;
        op->filter_h = x->h;
        op->filter_w = x->w;
    }
    struct act lg = bld_conv(b, &p, 0, classes, 1, 1, MNET_ACT_NONE, 16.0, "logits");
    if (b->failed)
        return;

    int sshape[1] = { 2 };
    int st = bld_tensor(b, MNET_I32, 1, sshape, "reshape/shape");
    int32_t *sd = bld_alloc(b, 2 * sizeof *sd);
    int rshape[2] = { 1, classes };
    int r = bld_tensor(b, b->int8 ? MNET_I8 : MNET_F32, 2, rshape, "reshape/output");
    if (b->failed)
        return;
    sd[0] = 1;
    sd[1] = classes;
    b->g->tensors[st].data = sd;
    b->g->tensors[st].nbytes = 2 * sizeof *sd;
    if (b->int8)
        bld_set_quant(b, r, lg.scale, lg.zp);
    bld_op(b, MNET_OP_RESHAPE, 2, lg.t, st, -1, r);

    int sm = bld_tensor(b, b->int8 ? MNET_I8 : MNET_F32, 2, rshape, "softmax");
    if (b->int8)
        bld_set_quant(b, sm, 1.0f / 256.0f, -128);
    bld_op(b, MNET_OP_SOFTMAX, 1, r, -1, -1, sm);
    b->g->output = sm;
    if (b->int8) {
        int o = bld_tensor(b, MNET_U8, 2, rshape, "output");
        bld_set_quant(b, o, 1.0f / 256.0f, 0);
        bld_op(b, MNET_OP_QUANTIZE, 1, sm, -1, -1, o);
        b->g->output = o;
    }
}

static void bld_v1(struct bld *b, float alpha, int res, int classes)
{
    /* Table 1: (depthwise stride, pointwise output channels) of the 13 blocks. */
    static const int blocks[13][2] = {
        { 1, 64 }, { 2, 128 }, { 1, 128 }, { 2, 256 }, { 1, 256 }, { 2, 512 }, { 1, 512 },
        { 1, 512 }, { 1, 512 }, { 1, 512 }, { 1, 512 }, { 2, 1024 }, { 1, 1024 },
    };
    char nm[64];
    struct act x = bld_input(b, res);
    x = bld_conv(b, &x, 0, (int)(32 * alpha), 3, 2, MNET_ACT_RELU6, 1.0, "Conv2d_0");
    for (int i = 0; i < 13 && !b->failed; i++) {
        snprintf(nm, sizeof nm, "Conv2d_%d_depthwise", i + 1);
        x = bld_conv(b, &x, 1, 0, 3, blocks[i][0], MNET_ACT_RELU6, 1.0, nm);
        snprintf(nm, sizeof nm, "Conv2d_%d_pointwise", i + 1);
        x = bld_conv(b, &x, 0, (int)(blocks[i][1] * alpha), 1, 1, MNET_ACT_RELU6, 1.0, nm);
    }
    bld_head(b, &x, classes);
}

static void bld_v2(struct bld *b, float alpha, int res, int classes)
{
    /* Table 2: expansion t, channels c, repeats n, first stride s. */
    static const int stages[7][4] = {
        { 1, 16, 1, 1 }, { 6, 24, 2, 2 }, { 6, 32, 3, 2 }, { 6, 64, 4, 2 },
        { 6, 96, 3, 1 }, { 6, 160, 3, 2 }, { 6, 320, 1, 1 },
    };
    char nm[64];
    struct act x = bld_input(b, res);
    x = bld_conv(b, &x, 0, bld_divisible(32 * alpha), 3, 2, MNET_ACT_RELU6, 1.0, "Conv");
    int blk = 0;
    for (int s = 0; s < 7; s++) {
        int t = stages[s][0], c = bld_divisible(stages[s][1] * alpha);
        for (int r = 0; r < stages[s][2] && !b->failed; r++, blk++) {
            int stride = r == 0 ? stages[s][3] : 1;
            int residual = stride == 1 && x.c == c;
            struct act y = x;
            if (t != 1) {
                snprintf(nm, sizeof nm, "expanded_conv_%d/expand", blk);
                y = bld_conv(b, &y, 0, x.c * t, 1, 1, MNET_ACT_RELU6, 1.0, nm);
            }
            snprintf(nm, sizeof nm, "expanded_conv_%d/depthwise", blk);
            y = bld_conv(b, &y, 1, 0, 3, stride, MNET_ACT_RELU6, 1.0, nm);
            /* A residual branch adds half the stream's energy so the sum grows
             * slowly within a stage; others reset to unit variance. */
            snprintf(nm, sizeof nm, "expanded_conv_%d/project", blk);
            double tv = residual ? 0.5 * x.m2 : 1.0;
            y = bld_conv(b, &y, 0, c, 1, 1, MNET_ACT_NONE, tv, nm);
            if (residual) {
                snprintf(nm, sizeof nm, "expanded_conv_%d", blk);
                y = bld_add(b, &x, &y, nm);
            }
            x = y;
        }
    }
    int last = alpha > 1.0f ? bld_divisible(1280 * alpha) : 1280;
    x = bld_conv(b, &x, 0, last, 1, 1, MNET_ACT_RELU6, 1.0, "Conv_1");
    bld_head(b, &x, classes);
}

int mnet_build_graph(const struct mnet_build_spec *spec, struct mnet_graph *g, char *err,
                     size_t errlen)
{
    if (!spec || !g)
        return mnet_error(err, errlen, -EINVAL, "build: NULL argument");
    if (spec->version != 1 && spec->version != 2)
        return mnet_error(err, errlen, -EINVAL, "build: version %d (want 1 or 2)", spec->version);
    if (!(spec->alpha >= 0.05f && spec->alpha <= 4.0f))
        return mnet_error(err, errlen, -EINVAL, "build: alpha %g outside [0.05, 4]",
                          (double)spec->alpha);
    if (spec->resolution < 32 || spec->resolution > 2048)
        return mnet_error(err, errlen, -EINVAL, "build: resolution %d outside [32, 2048]",
                          spec->resolution);
    if (spec->classes < 1 || spec->classes > 1000000)
        return mnet_error(err, errlen, -EINVAL, "build: classes %d outside [1, 1000000]",
                          spec->classes);
    if (spec->numerics != MNET_F32 && spec->numerics != MNET_I8)
        return mnet_error(err, errlen, -ENOTSUP, "build: numerics must be float32 or int8");
    if (spec->version == 1 && (int)(32 * spec->alpha) < 1)
        return mnet_error(err, errlen, -EINVAL, "build: alpha %g leaves no channels",
                          (double)spec->alpha);

    struct mnet_graph tmp;
    memset(&tmp, 0, sizeof tmp);
    struct bld b = { .g = &tmp, .rng = spec->seed, .int8 = spec->numerics == MNET_I8 };
    tmp.tensors = bld_alloc(&b, BLD_MAX_TENSORS * sizeof *tmp.tensors);
    tmp.ops = bld_alloc(&b, BLD_MAX_OPS * sizeof *tmp.ops);
    if (!b.failed) {
        snprintf(tmp.arch, sizeof tmp.arch, "mobilenet_v%d", spec->version);
        if (spec->version == 1)
            bld_v1(&b, spec->alpha, spec->resolution, spec->classes);
        else
            bld_v2(&b, spec->alpha, spec->resolution, spec->classes);
    }
    if (b.failed) {
        mnet_graph_free(&tmp);
        return mnet_error(err, errlen, b.failed, b.failed == -ENOMEM ? "build: out of memory"
                                                                     : "build: graph too large");
    }
    *g = tmp;
    return 0;
}
