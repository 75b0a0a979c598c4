/* plan.c: graph validation, weight preparation, arena planning, execution.
 *
 * Every graph tensor becomes a plan value.  Quantized activations run as u8
 * (an int8 tensor a is stored as a + 128, zero point + 128; see kernels.h),
 * float ones as f32.  In FLOAT32 precision every activation is f32, weights
 * are dequantized here, and QUANTIZE/DEQUANTIZE become aliases; only the raw
 * input keeps the model's dtype and is dequantized on entry.
 *
 * Arena: each value that is neither a constant nor an alias gets a slice of
 * one 64-byte aligned block sized for max_batch images; slices are reused
 * once a value is dead (first fit over values whose lifetimes overlap).
 */
#include "plan.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "quant.h"

#ifdef _OPENMP
#include <omp.h>
#endif

enum skind {
    S_QCONV, S_QDW, S_FCONV, S_FDW, S_QADD, S_QMUL, S_FADD, S_FMUL, S_QPOOL, S_FPOOL,
    S_QMEAN, S_FMEAN, S_QSOFTMAX, S_FSOFTMAX, S_QLOGISTIC, S_FLOGISTIC, S_QHSWISH,
    S_FHSWISH, S_QREQUANT, S_FCLAMP, S_QUANTIZE, S_DEQUANTIZE, S_KINDS
};

static const char *const skind_name[S_KINDS] = {
    "conv_q", "depthwise_q", "conv_f32", "depthwise_f32", "add_q", "mul_q", "add_f32",
    "mul_f32", "avgpool_q", "avgpool_f32", "mean_q", "mean_f32", "softmax_q", "softmax_f32",
    "logistic_q", "logistic_f32", "hardswish_q", "hardswish_f32", "requantize_q", "clamp_f32",
    "quantize", "dequantize"};

struct step {
    enum skind kind;
    int op;             /* graph op index */
    int in0, in1, out;  /* value (tensor) indices; in1 -1 when unused */
    const struct mnet_kernel_ops *k;
    union {
        struct mnet_qconv qc;
        struct mnet_fconv fc;
        struct {
            struct mnet_qbinary q;
            size_t inner, b_inner, b_stride;
            float lo, hi;
        } bin;
        struct {
            struct mnet_conv_geom g;
            int is_signed;
            int32_t lo, hi;
            float flo, fhi;
        } pool;
        struct {
            struct mnet_qmean_params q;
            int hw, c;
        } mean;
        struct {
            struct mnet_qsoftmax_params q;
            int32_t *exp_of_distance; /* mnet_c_qsoftmax's table */
            int depth;
            float beta;
        } sm;
        struct mnet_qlogistic_params log;
        struct mnet_qhswish_params hs;
        struct mnet_qrequant_params rq;
        struct {
            float lo, hi;
        } clamp;
        struct {
            float scale;
            int32_t zp;
            enum mnet_dtype orig;
        } cvt;
    } u;
    uint8_t *lut;       /* one-input u8 ops tabulated at build time (exact) */
    int post_clamp;     /* FLOAT32 precision: clamp the output to its quantized range */
    float post_lo, post_hi;
    struct mnet_fblock *fb; /* head of a fused block: runs steps [this, fb_last] in one kernel */
    int fb_last;
    int fused;          /* a later step of a fused block: run by its head, skipped here */
    double ms; /* profile */
};

struct pval {
    int used;            /* referenced by the plan */
    enum mnet_dtype rt;  /* runtime dtype: MNET_F32 or MNET_U8 */
    enum mnet_dtype orig;
    size_t elems;        /* per image */
    float scale;         /* quantized: scale and u8-domain zero point */
    int32_t zp;
    const void *cdata;   /* constants: prepared data (one copy for every image) */
    int root;            /* alias root */
    int def, last;       /* op indices (graph input: -1) */
    int one_image;       /* lives only inside the image-by-image steps: room for one image */
    int virt;            /* inside a fused block: never written, no arena slice */
    size_t off, bytes;   /* arena slice (roots only) */
    int placed;
};

struct plan_block {
    struct plan_block *next;
    max_align_t data[];
};

struct mnet_plan {
    struct mnet_plan_io io;
    int precision_f32;
    int threads, max_batch;
    struct pval *v;
    int nv;
    struct step *steps;
    int nsteps;
    int input, output;  /* value indices */
    enum mnet_dtype input_orig, output_orig;
    float input_scale;  /* FLOAT32 mode entry dequantization */
    int32_t input_zp;
    uint8_t *arena;     /* parts x part_bytes: one partition per thread */
    size_t arena_bytes, part_bytes;
    int parts, part_cap; /* partitions, images each holds */
    int image_steps;    /* batches run steps [0, image_steps) image by image */
    void *scratch;
    size_t scratch_bytes;
    struct plan_block *blocks;
    enum mnet_profile_clock profile;
    long profile_runs;
};

/* ---------------- helpers ---------------- */

static void *plan_alloc(struct mnet_plan *p, size_t size)
{
    if (size > ((size_t)1 << 40))
        return NULL;
    struct plan_block *b = calloc(1, sizeof(*b) + size + 64);
    if (!b)
        return NULL;
    b->next = p->blocks;
    p->blocks = b;
    /* 64-byte align the payload for the kernels */
    uintptr_t a = ((uintptr_t)b->data + 63) & ~(uintptr_t)63;
    return (void *)a;
}

struct ctx {
    const struct mnet_graph *g;
    struct mnet_plan *p;
    char *err;
    size_t errlen;
    int opi;
    const struct mnet_kernel_ops *k;
};

#define BAD(...) mnet_error(c->err, c->errlen, -EBADMSG, __VA_ARGS__)
#define UNSUP(...) mnet_error(c->err, c->errlen, -ENOTSUP, __VA_ARGS__)
#define NOMEM() mnet_error(c->err, c->errlen, -ENOMEM, "out of memory")

static size_t t_elems(const struct mnet_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= (size_t)(t->shape[i] > 0 ? t->shape[i] : 0);
    return n;
}

static int is_q(enum mnet_dtype d) { return d == MNET_U8 || d == MNET_I8; }

static int32_t u8zp(const struct mnet_tensor *t)
{
    return t->q.zero_point[0] + (t->dtype == MNET_I8 ? 128 : 0);
}

/* The product of two scales for a requantization multiplier.  uint8
 * (TF1/TOCO) models: in float, as TFLite 1.x and the NNAPI reference computed
 * it (input_scale * filter_scale in single precision, then widened); the
 * published MLTS vectors match this bit for bit, the double product misses
 * cup on v1 0.75/192 by a logit unit.  int8 (TF2) models: in double, as
 * today's TFLite does for per-channel quantization. */
static double scale_product(float a, float b, int legacy_u8)
{
    if (legacy_u8) {
        volatile float p = a * b; /* force single-precision rounding */
        return (double)p;
    }
    return (double)a * (double)b;
}

static void act_range_f(enum mnet_activation a, float *lo, float *hi)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (a == MNET_ACT_RELU)
        *lo = 0;
    else if (a == MNET_ACT_RELU6)
        *lo = 0, *hi = 6;
    else if (a == MNET_ACT_RELU_N1_TO_1)
        *lo = -1, *hi = 1;
}

/* FLOAT32 precision: a quantized tensor's grid bounds the real values it can
 * hold (TF1 models rely on it: ReLU6 is often only the [0, 6] range of the
 * fake-quant output), so the float run clamps each op's output to it. */
static void qrange_f(const struct mnet_tensor *t, float *lo, float *hi)
{
    if (!is_q(t->dtype) || t->q.count < 1)
        return;
    int32_t qmin = t->dtype == MNET_I8 ? -128 : 0, qmax = t->dtype == MNET_I8 ? 127 : 255;
    float a = (float)((double)t->q.scale[0] * (qmin - t->q.zero_point[0]));
    float b = (float)((double)t->q.scale[0] * (qmax - t->q.zero_point[0]));
    if (a > *lo)
        *lo = a;
    if (b < *hi)
        *hi = b;
}

/* u8-domain fused activation range of quantized tensor t */
static void act_range_u8(enum mnet_activation a, const struct mnet_tensor *t, int32_t *lo,
                         int32_t *hi)
{
    mnet_activation_range_q(a, t->q.scale[0], t->q.zero_point[0], t->dtype, lo, hi);
    if (t->dtype == MNET_I8)
        *lo += 128, *hi += 128;
}

/* A tensor an op reads or writes as an activation: defined dtype, batch 1,
 * per-tensor quantization when quantized. */
static int check_act(struct ctx *c, int ti, const char *what)
{
    const struct mnet_tensor *t = &c->g->tensors[ti];
    if (t->dtype == MNET_I32)
        return UNSUP("op %d (%s): %s tensor %d is int32", c->opi,
                     mnet_op_name(c->g->ops[c->opi].kind), what, ti);
    if (is_q(t->dtype) && t->q.count != 1)
        return BAD("corrupt model: op %d (%s): quantized %s tensor %d needs per-tensor "
                   "quantization", c->opi, mnet_op_name(c->g->ops[c->opi].kind), what, ti);
    if (t->rank < 1 || t->shape[0] != 1)
        if (!(t->data && t_elems(t) >= 1))
            return BAD("corrupt model: op %d (%s): %s tensor %d must have batch dimension 1",
                       c->opi, mnet_op_name(c->g->ops[c->opi].kind), what, ti);
    for (int i = 0; i < t->rank; i++)
        if (t->shape[i] < 1)
            return BAD("corrupt model: tensor %d has dimension %d <= 0", ti, t->shape[i]);
    return 0;
}

static int root(const struct mnet_plan *p, int v)
{
    while (p->v[v].root != v)
        v = p->v[v].root;
    return v;
}

/* Mark value v as read by op i (checks it is defined). */
static int use(struct ctx *c, int ti)
{
    struct mnet_plan *p = c->p;
    struct pval *v = &p->v[ti];
    if (!v->used)
        return BAD("corrupt model: op %d (%s) reads tensor %d before anything defines it", c->opi,
                   mnet_op_name(c->g->ops[c->opi].kind), ti);
    int r = root(p, ti);
    if (p->v[r].last < c->opi)
        p->v[r].last = c->opi;
    return 0;
}

/* Define the op's output value. */
static int define(struct ctx *c, int ti, enum mnet_dtype rt)
{
    struct mnet_plan *p = c->p;
    const struct mnet_tensor *t = &c->g->tensors[ti];
    struct pval *v = &p->v[ti];
    if (v->used)
        return BAD("corrupt model: tensor %d is written twice (op %d)", ti, c->opi);
    int r = check_act(c, ti, "output");
    if (r)
        return r;
    v->used = 1;
    v->rt = rt;
    v->orig = t->dtype;
    v->elems = t_elems(t);
    v->root = ti;
    v->def = v->last = c->opi;
    if (is_q(t->dtype)) {
        v->scale = t->q.scale[0];
        v->zp = u8zp(t);
    }
    return 0;
}

static int alias(struct ctx *c, int out, int in)
{
    int r = define(c, out, c->p->v[in].rt);
    if (r)
        return r;
    struct pval *v = &c->p->v[out];
    if (c->p->v[in].cdata) { /* alias of a constant is that constant */
        v->cdata = c->p->v[in].cdata;
        return 0;
    }
    v->root = root(c->p, in);
    return use(c, in);
}

/* A constant operand (ADD/MUL second input, ...) prepared in the runtime
 * representation: u8 (int8 + 128) natively, or dequantized float. */
static int prepare_const(struct ctx *c, int ti, int want_f32)
{
    struct mnet_plan *p = c->p;
    const struct mnet_tensor *t = &c->g->tensors[ti];
    struct pval *v = &p->v[ti];
    if (v->used) /* prepared for an earlier op: must be the same representation */
        return (v->rt == MNET_F32) == (want_f32 || t->dtype == MNET_F32)
                   ? 0
                   : UNSUP("constant tensor %d used by float and integer ops", ti);
    size_t n = t_elems(t);
    if (t->nbytes != n * mnet_dtype_size(t->dtype))
        return BAD("corrupt model: constant tensor %d size", ti);
    if (is_q(t->dtype) && t->q.count != 1)
        return UNSUP("per-channel quantized constant tensor %d as an elementwise operand", ti);
    if (!is_q(t->dtype) && t->dtype != MNET_F32)
        return UNSUP("constant tensor %d of type %s as an operand", ti, mnet_dtype_name(t->dtype));
    v->used = 1;
    v->orig = t->dtype;
    v->elems = n;
    v->root = ti;
    v->def = -1;
    v->last = -1;
    if (want_f32 || t->dtype == MNET_F32) {
        float *d = plan_alloc(p, n * sizeof(float));
        if (!d)
            return NOMEM();
        if (t->dtype == MNET_F32)
            memcpy(d, t->data, n * sizeof(float));
        else
            mnet_ref_dequantize(n, t->data, t->dtype, t->q.scale[0], t->q.zero_point[0], d);
        v->rt = MNET_F32;
        v->cdata = d;
    } else {
        uint8_t *d = plan_alloc(p, n);
        if (!d)
            return NOMEM();
        const uint8_t *s = t->data;
        for (size_t i = 0; i < n; i++)
            d[i] = t->dtype == MNET_I8 ? (uint8_t)(s[i] ^ 0x80) : s[i];
        v->rt = MNET_U8;
        v->scale = t->q.scale[0];
        v->zp = u8zp(t);
        v->cdata = d;
    }
    return 0;
}

/* An input operand: activation (must be defined) or constant. */
static int operand(struct ctx *c, int ti, int want_f32)
{
    const struct mnet_tensor *t = &c->g->tensors[ti];
    if (t->data)
        return prepare_const(c, ti, want_f32);
    int r = check_act(c, ti, "input");
    if (r)
        return r;
    return use(c, ti);
}

static int out_size(int in, int k, int stride, int dil, enum mnet_padding pad, int *out,
                    int *pad_before)
{
    int ek = (k - 1) * dil + 1;
    if (pad == MNET_PAD_SAME) {
        *out = (in + stride - 1) / stride;
        int total = (*out - 1) * stride + ek - in;
        *pad_before = total > 0 ? total / 2 : 0;
    } else {
        if (in < ek)
            return -1;
        *out = (in - ek) / stride + 1;
        *pad_before = 0;
    }
    return 0;
}

static struct step *new_step(struct ctx *c, enum skind kind, int in0, int in1, int out)
{
    struct step *s = &c->p->steps[c->p->nsteps++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->op = c->opi;
    s->in0 = in0;
    s->in1 = in1;
    s->out = out;
    return s;
}

/* Tabulate a one-input u8 op over all 256 inputs with the step's own
 * reference arithmetic: the table is exact by construction. */
static int make_lut(struct ctx *c, struct step *s)
{
    uint8_t x[256];
    for (int i = 0; i < 256; i++)
        x[i] = (uint8_t)i;
    s->lut = plan_alloc(c->p, 256);
    if (!s->lut)
        return NOMEM();
    s->k = c->k->lut_run ? c->k : &mnet_kernels_c;
    if (s->kind == S_QHSWISH)
        mnet_ref_qhswish(&s->u.hs, 256, x, s->lut);
    else if (s->kind == S_QLOGISTIC)
        mnet_ref_qlogistic(&s->u.log, 256, x, s->lut);
    else
        mnet_ref_qrequant(&s->u.rq, 256, x, s->lut);
    return 0;
}

static void set_post_clamp(struct step *s, const struct mnet_tensor *out)
{
    s->post_clamp = 1;
    s->post_lo = -INFINITY;
    s->post_hi = INFINITY;
    qrange_f(out, &s->post_lo, &s->post_hi);
}

/* ---------------- conv / depthwise / fully connected ---------------- */

static int plan_conv(struct ctx *c, const struct mnet_op *op)
{
    const struct mnet_graph *g = c->g;
    struct mnet_plan *p = c->p;
    const char *name = mnet_op_name(op->kind);
    int dw = op->kind == MNET_OP_DEPTHWISE_CONV_2D, fc = op->kind == MNET_OP_FULLY_CONNECTED;
    int ii = op->inputs[0], wi = op->inputs[1], bi = op->n_inputs > 2 ? op->inputs[2] : -1;
    const struct mnet_tensor *in = &g->tensors[ii], *w = &g->tensors[wi], *out = &g->tensors[op->output];
    const struct mnet_tensor *b = bi >= 0 ? &g->tensors[bi] : NULL;
    int r;

    if (in->data)
        return UNSUP("op %d (%s): constant input", c->opi, name);
    if (!w->data)
        return UNSUP("op %d (%s): weights computed at run time are not supported", c->opi, name);
    if (b && !b->data)
        return UNSUP("op %d (%s): bias computed at run time is not supported", c->opi, name);
    if ((r = check_act(c, ii, "input")) < 0)
        return r;

    struct mnet_conv_geom geom = {.dil_h = 1, .dil_w = 1, .stride_h = 1, .stride_w = 1,
                                  .depth_multiplier = 1};
    int out_c;
    if (fc) {
        if (w->rank != 2)
            return BAD("corrupt model: op %d (%s): weights must be (out, in)", c->opi, name);
        out_c = w->shape[0];
        int in_c = w->shape[1];
        if (in_c < 1 || out_c < 1 || t_elems(in) != (size_t)in_c)
            return BAD("corrupt model: op %d (%s): input has %zu elements per image, weights "
                       "expect %d", c->opi, name, t_elems(in), in_c);
        if (out->rank < 1 || t_elems(out) != (size_t)out_c)
            return BAD("corrupt model: op %d (%s): output has %zu elements, expected %d", c->opi,
                       name, t_elems(out), out_c);
        geom.in_h = geom.in_w = geom.out_h = geom.out_w = geom.k_h = geom.k_w = 1;
        geom.in_c = in_c;
        geom.out_c = out_c;
    } else {
        if (in->rank != 4 || out->rank != 4 || w->rank != 4)
            return BAD("corrupt model: op %d (%s): input, weights and output must be 4-D", c->opi,
                       name);
        if (op->stride_h < 1 || op->stride_w < 1 || op->dilation_h < 1 || op->dilation_w < 1)
            return BAD("corrupt model: op %d (%s): stride and dilation must be >= 1", c->opi, name);
        int in_c = in->shape[3];
        out_c = dw ? w->shape[3] : w->shape[0];
        if (dw) {
            if (w->shape[0] != 1 || out_c % in_c != 0)
                return BAD("corrupt model: op %d (%s): weights (1, kh, kw, %d) do not fit %d input "
                           "channels", c->opi, name, out_c, in_c);
            geom.depth_multiplier = out_c / in_c;
        } else if (w->shape[3] != in_c) {
            return BAD("corrupt model: op %d (%s): weights have %d input channels, input has %d",
                       c->opi, name, w->shape[3], in_c);
        }
        geom.in_h = in->shape[1];
        geom.in_w = in->shape[2];
        geom.in_c = in_c;
        geom.out_c = out_c;
        geom.k_h = w->shape[1];
        geom.k_w = w->shape[2];
        geom.stride_h = op->stride_h;
        geom.stride_w = op->stride_w;
        geom.dil_h = op->dilation_h;
        geom.dil_w = op->dilation_w;
        if (out_size(geom.in_h, geom.k_h, geom.stride_h, geom.dil_h, op->padding, &geom.out_h,
                     &geom.pad_top) < 0 ||
            out_size(geom.in_w, geom.k_w, geom.stride_w, geom.dil_w, op->padding, &geom.out_w,
                     &geom.pad_left) < 0)
            return BAD("corrupt model: op %d (%s): filter larger than the input", c->opi, name);
        if (out->shape[1] != geom.out_h || out->shape[2] != geom.out_w || out->shape[3] != out_c)
            return BAD("corrupt model: op %d (%s): output is (1, %d, %d, %d), padding and strides "
                       "give (1, %d, %d, %d)", c->opi, name, out->shape[1], out->shape[2],
                       out->shape[3], geom.out_h, geom.out_w, out_c);
    }
    if (b && (b->rank != 1 || b->shape[0] != out_c))
        return BAD("corrupt model: op %d (%s): bias must be (%d)", c->opi, name, out_c);
    const int K = dw ? geom.k_h * geom.k_w : geom.k_h * geom.k_w * geom.in_c;
    const size_t nw = (size_t)K * out_c;
    if (t_elems(w) != nw || w->nbytes != nw * mnet_dtype_size(w->dtype))
        return BAD("corrupt model: op %d (%s): weight size", c->opi, name);
    if (b && b->nbytes != (size_t)out_c * mnet_dtype_size(b->dtype))
        return BAD("corrupt model: op %d (%s): bias size", c->opi, name);
    if ((r = use(c, ii)) < 0)
        return r;

    int quant = is_q(in->dtype);
    if (!quant) {
        if (in->dtype != MNET_F32 || w->dtype != MNET_F32 || out->dtype != MNET_F32 ||
            (b && b->dtype != MNET_F32))
            return UNSUP("op %d (%s): float input with %s weights and %s output (hybrid models "
                         "are not supported)", c->opi, name, mnet_dtype_name(w->dtype), mnet_dtype_name(out->dtype));
    } else {
        if (w->dtype != in->dtype || out->dtype != in->dtype)
            return UNSUP("op %d (%s): %s input with %s weights and %s output", c->opi, name,
                         mnet_dtype_name(in->dtype), mnet_dtype_name(w->dtype), mnet_dtype_name(out->dtype));
        if (b && b->dtype != MNET_I32)
            return BAD("corrupt model: op %d (%s): quantized conv needs an int32 bias", c->opi, name);
        int axis = dw ? 3 : 0;
        if (w->q.count != 1 && (w->q.count != out_c || w->q.axis != axis))
            return BAD("corrupt model: op %d (%s): %d weight scales along axis %d for %d output "
                       "channels (per-channel needs axis %d)", c->opi, name, w->q.count, w->q.axis,
                       out_c, axis);
        if (w->q.count < 1 || out->q.count != 1 || in->q.count != 1)
            return BAD("corrupt model: op %d (%s): missing quantization", c->opi, name);
        if (K > 16384)
            return UNSUP("op %d (%s): %d taps per output overflow the int32 accumulator", c->opi,
                         name, K);
    }
    if ((r = define(c, op->output, p->precision_f32 || !quant ? MNET_F32 : MNET_U8)) < 0)
        return r;

    /* ---- float (a float graph, or a quantized one in FLOAT32 precision) ---- */
    if (!quant || p->precision_f32) {
        float *wf = plan_alloc(p, nw * sizeof(float)), *bf = plan_alloc(p, out_c * sizeof(float));
        if (!wf || !bf)
            return NOMEM();
        if (!quant) {
            memcpy(wf, w->data, nw * sizeof(float));
            if (b)
                memcpy(bf, b->data, out_c * sizeof(float));
        } else {
            const uint8_t *wd = w->data;
            for (size_t i = 0; i < nw; i++) {
                int ch = w->q.count == 1 ? 0 : dw ? (int)(i % out_c) : (int)(i / K);
                int32_t q = w->dtype == MNET_I8 ? (int32_t)(int8_t)wd[i] : (int32_t)wd[i];
                wf[i] = (float)((double)w->q.scale[ch] * (q - w->q.zero_point[ch]));
            }
            if (b) {
                const int32_t *bd = b->data;
                for (int i = 0; i < out_c; i++) {
                    double bs = b->q.count == out_c ? b->q.scale[i]
                                : b->q.count == 1   ? b->q.scale[0]
                                                    : (double)in->q.scale[0] *
                                                      w->q.scale[w->q.count == 1 ? 0 : i];
                    int32_t bv;
                    memcpy(&bv, bd + i, 4);
                    bf[i] = (float)(bs * bv);
                }
            }
        }
        struct step *s = new_step(c, dw ? S_FDW : S_FCONV, ii, -1, op->output);
        s->u.fc.g = geom;
        s->u.fc.w = wf;
        s->u.fc.bias = bf;
        act_range_f(op->activation, &s->u.fc.out_min, &s->u.fc.out_max);
        if (quant)
            qrange_f(out, &s->u.fc.out_min, &s->u.fc.out_max);
        s->k = c->k;
        int (*prep)(struct mnet_fconv *, int, int) = dw ? c->k->fdw_prepare : c->k->fconv_prepare;
        if (!prep || !(dw ? c->k->fdw_run : c->k->fconv_run)) {
            s->k = &mnet_kernels_c;
            prep = dw ? mnet_kernels_c.fdw_prepare : mnet_kernels_c.fconv_prepare;
        }
        if ((r = prep(&s->u.fc, p->max_batch, p->threads)) < 0)
            return mnet_error(c->err, c->errlen, r, "op %d (%s): weight preparation failed", c->opi, name);
        if (s->u.fc.scratch_bytes > p->scratch_bytes)
            p->scratch_bytes = s->u.fc.scratch_bytes;
        return 0;
    }

    /* ---- quantized: u8 activations x s8 weights ---- */
    int8_t *ws = plan_alloc(p, nw);
    int32_t *bias = plan_alloc(p, out_c * sizeof(int32_t)), *bfold = plan_alloc(p, out_c * sizeof(int32_t)),
            *wsum = plan_alloc(p, out_c * sizeof(int32_t)), *mult = plan_alloc(p, out_c * sizeof(int32_t)),
            *shift = plan_alloc(p, out_c * sizeof(int32_t));
    if (!ws || !bias || !bfold || !wsum || !mult || !shift)
        return NOMEM();
    int32_t wzp = w->q.zero_point[0];
    for (int i = 1; i < w->q.count; i++)
        if (w->q.zero_point[i] != wzp)
            return UNSUP("op %d (%s): per-channel weight zero points that differ", c->opi, name);
    const uint8_t *wd = w->data;
    int32_t wzp_s8 = w->dtype == MNET_U8 ? wzp - 128 : wzp;
    for (size_t i = 0; i < nw; i++)
        ws[i] = (int8_t)(w->dtype == MNET_U8 ? (int)wd[i] - 128 : (int)(int8_t)wd[i]);
    int32_t in_zp = u8zp(in);
    for (int oc = 0; oc < out_c; oc++) {
        int32_t bv = 0;
        if (b)
            memcpy(&bv, (const int32_t *)b->data + oc, 4);
        int64_t sum = 0;
        for (int k = 0; k < K; k++)
            sum += dw ? ws[(size_t)k * out_c + oc] : ws[(size_t)oc * K + k];
        int64_t fold = (int64_t)bv - (int64_t)in_zp * sum + (int64_t)K * in_zp * wzp_s8;
        if (bv > (1 << 30) || bv < -(1 << 30) || fold > (1 << 30) || fold < -(1 << 30))
            return UNSUP("op %d (%s): bias out of the supported accumulator range", c->opi, name);
        bias[oc] = bv;
        wsum[oc] = (int32_t)sum;
        bfold[oc] = (int32_t)fold;
        double real = scale_product(in->q.scale[0], w->q.scale[w->q.count == 1 ? 0 : oc],
                                    w->dtype == MNET_U8) /
                      (double)out->q.scale[0];
        if (!isfinite(real) || real <= 0 || real > (double)(1 << 30))
            return BAD("corrupt model: op %d (%s): requantization multiplier %g", c->opi, name, real);
        int sh;
        mnet_quantize_multiplier(real, &mult[oc], &sh);
        shift[oc] = sh;
    }
    struct step *s = new_step(c, dw ? S_QDW : S_QCONV, ii, -1, op->output);
    struct mnet_qconv *l = &s->u.qc;
    l->g = geom;
    l->w = ws;
    l->bias = bias;
    l->bias_folded = bfold;
    l->w_sum = wsum;
    l->in_zp = in_zp;
    l->w_zp = wzp_s8;
    l->out_zp = u8zp(out);
    act_range_u8(op->activation, out, &l->out_min, &l->out_max);
    l->mult = mult;
    l->shift = shift;
    s->k = c->k;
    int (*prep)(struct mnet_qconv *, int, int) = dw ? c->k->qdw_prepare : c->k->qconv_prepare;
    if (!prep || !(dw ? c->k->qdw_run : c->k->qconv_run)) {
        s->k = &mnet_kernels_c;
        prep = dw ? mnet_kernels_c.qdw_prepare : mnet_kernels_c.qconv_prepare;
    }
    if ((r = prep(l, p->max_batch, p->threads)) < 0)
        return mnet_error(c->err, c->errlen, r, "op %d (%s): weight preparation failed", c->opi, name);
    if (l->scratch_bytes > p->scratch_bytes)
        p->scratch_bytes = l->scratch_bytes;
    return 0;
}

/* ---------------- elementwise binary ---------------- */

static int same_shape(const struct mnet_tensor *a, const struct mnet_tensor *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

static int plan_binary(struct ctx *c, const struct mnet_op *op)
{
    const struct mnet_graph *g = c->g;
    struct mnet_plan *p = c->p;
    const char *name = mnet_op_name(op->kind);
    int ai = op->inputs[0], bi = op->inputs[1];
    const struct mnet_tensor *out = &g->tensors[op->output];
    int r;
    /* a is the full-size operand, b the same size or broadcast */
    if (!same_shape(&g->tensors[ai], out) || g->tensors[ai].data) {
        int t = ai;
        ai = bi;
        bi = t;
    }
    const struct mnet_tensor *a = &g->tensors[ai], *b = &g->tensors[bi];
    if (!same_shape(a, out) || a->data)
        return UNSUP("op %d (%s): operand shapes do not match the output (only same shape, "
                     "(1,1,1,C) and scalar broadcasts are supported)", c->opi, name);
    size_t inner = t_elems(out), b_inner = t_elems(b);
    int lastdim = out->rank ? out->shape[out->rank - 1] : 1;
    if (!(same_shape(a, b) || b_inner == 1 ||
          (b_inner == (size_t)lastdim && b->rank >= 1 && b->shape[b->rank - 1] == lastdim)))
        return UNSUP("op %d (%s): broadcast of a %d-D operand with %zu elements to %zu is not "
                     "supported", c->opi, name, b->rank, b_inner, inner);
    if (b->rank > out->rank)
        return BAD("corrupt model: op %d (%s): operand rank above the output's", c->opi, name);
    if (a->dtype != out->dtype || b->dtype != out->dtype)
        return UNSUP("op %d (%s): mixed operand types %s, %s -> %s", c->opi, name,
                     mnet_dtype_name(a->dtype), mnet_dtype_name(b->dtype), mnet_dtype_name(out->dtype));
    int quant = is_q(out->dtype);
    if (quant && (a->q.count != 1 || b->q.count != 1 || out->q.count != 1))
        return BAD("corrupt model: op %d (%s): quantized operands need per-tensor quantization",
                   c->opi, name);
    int f32 = !quant || p->precision_f32;
    if ((r = operand(c, ai, f32)) < 0 || (r = operand(c, bi, f32)) < 0)
        return r;
    if ((r = define(c, op->output, f32 ? MNET_F32 : MNET_U8)) < 0)
        return r;
    int mul = op->kind == MNET_OP_MUL;
    struct step *s = new_step(c, f32 ? (mul ? S_FMUL : S_FADD) : (mul ? S_QMUL : S_QADD), ai, bi,
                              op->output);
    s->k = (mul ? c->k->qmul_run != NULL : c->k->qadd_run != NULL) ? c->k : &mnet_kernels_c;
    s->u.bin.inner = inner;
    s->u.bin.b_inner = b_inner;
    s->u.bin.b_stride = p->v[bi].cdata ? 0 : b_inner;
    act_range_f(op->activation, &s->u.bin.lo, &s->u.bin.hi);
    if (quant)
        qrange_f(out, &s->u.bin.lo, &s->u.bin.hi);
    if (!f32) {
        struct mnet_qbinary *q = &s->u.bin.q;
        q->a_zp = u8zp(a);
        q->b_zp = u8zp(b);
        q->out_zp = u8zp(out);
        act_range_u8(op->activation, out, &q->out_min, &q->out_max);
        if (mul) {
            double real = scale_product(a->q.scale[0], b->q.scale[0], out->dtype == MNET_U8) /
                          (double)out->q.scale[0];
            int sh;
            mnet_quantize_multiplier(real, &q->out_mult, &sh);
            q->out_shift = sh;
        } else {
            q->left_shift = 20;
            mnet_quant_add_params(a->q.scale[0], b->q.scale[0], out->q.scale[0], 20, &q->a_mult,
                                  &q->a_shift, &q->b_mult, &q->b_shift, &q->out_mult, &q->out_shift);
            if (q->a_shift > 0 || q->b_shift > 0 || q->out_shift > 0)
                return UNSUP("op %d (%s): output scale too small for TFLite's ADD", c->opi, name);
        }
    }
    return 0;
}

/* ---------------- the rest ---------------- */

static int plan_unary_shape(struct ctx *c, const struct mnet_op *op, int need_same_shape)
{
    const struct mnet_tensor *in = &c->g->tensors[op->inputs[0]], *out = &c->g->tensors[op->output];
    if (in->data)
        return UNSUP("op %d (%s): constant input", c->opi, mnet_op_name(op->kind));
    int r = check_act(c, op->inputs[0], "input");
    if (r)
        return r;
    if (need_same_shape ? !same_shape(in, out) : t_elems(in) != t_elems(out))
        return BAD("corrupt model: op %d (%s): output shape does not match the input", c->opi,
                   mnet_op_name(op->kind));
    return use(c, op->inputs[0]);
}

static int plan_other(struct ctx *c, const struct mnet_op *op)
{
    const struct mnet_graph *g = c->g;
    struct mnet_plan *p = c->p;
    const char *name = mnet_op_name(op->kind);
    int ii = op->inputs[0], oi = op->output;
    const struct mnet_tensor *in = &g->tensors[ii], *out = &g->tensors[oi];
    int quant = is_q(in->dtype), f32 = !quant || p->precision_f32;
    int r;

    switch (op->kind) {
    case MNET_OP_RESHAPE:
    case MNET_OP_SQUEEZE:
        if ((r = plan_unary_shape(c, op, 0)) < 0)
            return r;
        if (in->dtype != out->dtype ||
            (quant && (in->q.scale[0] != out->q.scale[0] || in->q.zero_point[0] != out->q.zero_point[0])))
            return UNSUP("op %d (%s): changes type or quantization", c->opi, name);
        return alias(c, oi, ii);

    case MNET_OP_QUANTIZE:
    case MNET_OP_DEQUANTIZE: {
        if ((r = plan_unary_shape(c, op, 0)) < 0)
            return r;
        int deq = op->kind == MNET_OP_DEQUANTIZE;
        if (deq ? !(is_q(in->dtype) && out->dtype == MNET_F32)
                : !((in->dtype == MNET_F32 || is_q(in->dtype)) && is_q(out->dtype)))
            return UNSUP("op %d (%s): %s -> %s", c->opi, name, mnet_dtype_name(in->dtype), mnet_dtype_name(out->dtype));
        if (p->precision_f32)
            return alias(c, oi, ii); /* real values are unchanged */
        struct mnet_qrequant_params rq = {.in_t = MNET_U8, .out_t = MNET_U8, .out_max = 255};
        if (!deq && in->dtype != MNET_F32) {
            rq.in_zp = u8zp(in);
            rq.out_zp = u8zp(out);
            int sh;
            mnet_quantize_multiplier((double)in->q.scale[0] / (double)out->q.scale[0], &rq.mult, &sh);
            rq.shift = sh;
            /* uint8 -> int8 with the same scale and zero points 128 apart
             * (TF2 models' input) is the identity in the u8 domain */
            uint8_t x[256], y[256];
            for (int i = 0; i < 256; i++)
                x[i] = (uint8_t)i;
            mnet_ref_qrequant(&rq, 256, x, y);
            if (memcmp(x, y, 256) == 0)
                return alias(c, oi, ii);
        }
        if ((r = define(c, oi, deq ? MNET_F32 : MNET_U8)) < 0)
            return r;
        if (deq) {
            struct step *s = new_step(c, S_DEQUANTIZE, ii, -1, oi);
            s->u.cvt.scale = in->q.scale[0];
            s->u.cvt.zp = u8zp(in);
        } else if (in->dtype == MNET_F32) {
            struct step *s = new_step(c, S_QUANTIZE, ii, -1, oi);
            s->u.cvt.scale = out->q.scale[0];
            s->u.cvt.zp = out->q.zero_point[0];
            s->u.cvt.orig = out->dtype;
        } else {
            struct step *s = new_step(c, S_QREQUANT, ii, -1, oi);
            s->u.rq = rq;
            return make_lut(c, s);
        }
        return 0;
    }

    case MNET_OP_RELU:
    case MNET_OP_RELU6: {
        if ((r = plan_unary_shape(c, op, 1)) < 0)
            return r;
        if (in->dtype != out->dtype)
            return UNSUP("op %d (%s): changes type", c->opi, name);
        enum mnet_activation a = op->kind == MNET_OP_RELU ? MNET_ACT_RELU : MNET_ACT_RELU6;
        if ((r = define(c, oi, f32 ? MNET_F32 : MNET_U8)) < 0)
            return r;
        if (f32) {
            struct step *s = new_step(c, S_FCLAMP, ii, -1, oi);
            act_range_f(a, &s->u.clamp.lo, &s->u.clamp.hi);
            qrange_f(out, &s->u.clamp.lo, &s->u.clamp.hi);
        } else {
            struct step *s = new_step(c, S_QREQUANT, ii, -1, oi);
            struct mnet_qrequant_params *q = &s->u.rq;
            q->in_t = q->out_t = MNET_U8;
            q->in_zp = u8zp(in);
            q->out_zp = u8zp(out);
            int sh;
            mnet_quantize_multiplier((double)in->q.scale[0] / (double)out->q.scale[0], &q->mult, &sh);
            q->shift = sh;
            act_range_u8(a, out, &q->out_min, &q->out_max);
            return make_lut(c, s);
        }
        return 0;
    }

    case MNET_OP_AVERAGE_POOL_2D: {
        if (in->data)
            return UNSUP("op %d (%s): constant input", c->opi, name);
        if ((r = check_act(c, ii, "input")) < 0 || (r = use(c, ii)) < 0)
            return r;
        if (in->rank != 4 || out->rank != 4 || in->dtype != out->dtype)
            return BAD("corrupt model: op %d (%s): input and output must be 4-D of one type", c->opi, name);
        if (op->filter_h < 1 || op->filter_w < 1 || op->stride_h < 1 || op->stride_w < 1)
            return BAD("corrupt model: op %d (%s): filter and stride must be >= 1", c->opi, name);
        struct mnet_conv_geom geom = {.in_h = in->shape[1], .in_w = in->shape[2], .in_c = in->shape[3],
                                      .out_c = in->shape[3], .k_h = op->filter_h, .k_w = op->filter_w,
                                      .stride_h = op->stride_h, .stride_w = op->stride_w,
                                      .dil_h = 1, .dil_w = 1, .depth_multiplier = 1};
        if (out_size(geom.in_h, geom.k_h, geom.stride_h, 1, op->padding, &geom.out_h, &geom.pad_top) < 0 ||
            out_size(geom.in_w, geom.k_w, geom.stride_w, 1, op->padding, &geom.out_w, &geom.pad_left) < 0)
            return BAD("corrupt model: op %d (%s): filter larger than the input", c->opi, name);
        if (out->shape[1] != geom.out_h || out->shape[2] != geom.out_w || out->shape[3] != geom.in_c)
            return BAD("corrupt model: op %d (%s): output is (1, %d, %d, %d), expected (1, %d, %d, %d)",
                       c->opi, name, out->shape[1], out->shape[2], out->shape[3], geom.out_h,
                       geom.out_w, geom.in_c);
        if (quant && !f32 &&
            (in->q.scale[0] != out->q.scale[0] || in->q.zero_point[0] != out->q.zero_point[0]))
            return UNSUP("op %d (%s): input and output quantization differ", c->opi, name);
        if ((r = define(c, oi, f32 ? MNET_F32 : MNET_U8)) < 0)
            return r;
        struct step *s = new_step(c, f32 ? S_FPOOL : S_QPOOL, ii, -1, oi);
        s->u.pool.g = geom;
        s->u.pool.is_signed = in->dtype == MNET_I8;
        act_range_f(op->activation, &s->u.pool.flo, &s->u.pool.fhi);
        qrange_f(out, &s->u.pool.flo, &s->u.pool.fhi);
        if (!f32)
            act_range_u8(op->activation, out, &s->u.pool.lo, &s->u.pool.hi);
        return 0;
    }

    case MNET_OP_MEAN: {
        const struct mnet_tensor *ax = &g->tensors[op->inputs[1]];
        if (in->data)
            return UNSUP("op %d (%s): constant input", c->opi, name);
        if (!ax->data || ax->dtype != MNET_I32 || t_elems(ax) != 2 || ax->nbytes != 8)
            return UNSUP("op %d (%s): only a constant reduction over axes 1 and 2", c->opi, name);
        int32_t axes[2];
        memcpy(axes, ax->data, 8);
        for (int i = 0; i < 2; i++)
            if (axes[i] < 0)
                axes[i] += 4;
        if (in->rank != 4 || !((axes[0] == 1 && axes[1] == 2) || (axes[0] == 2 && axes[1] == 1)))
            return UNSUP("op %d (%s): only the mean over H and W of a 4-D tensor", c->opi, name);
        if (t_elems(out) != (size_t)in->shape[3] || out->dtype != in->dtype)
            return BAD("corrupt model: op %d (%s): output must have the input's %d channels", c->opi,
                       name, in->shape[3]);
        if ((r = check_act(c, ii, "input")) < 0 || (r = use(c, ii)) < 0)
            return r;
        if ((r = define(c, oi, f32 ? MNET_F32 : MNET_U8)) < 0)
            return r;
        struct step *s = new_step(c, f32 ? S_FMEAN : S_QMEAN, ii, -1, oi);
        if (f32 && quant)
            set_post_clamp(s, out);
        s->u.mean.hw = in->shape[1] * in->shape[2];
        s->u.mean.c = in->shape[3];
        if (!f32) {
            s->u.mean.q.t = MNET_U8;
            s->u.mean.q.in_zp = u8zp(in);
            s->u.mean.q.out_zp = u8zp(out);
            s->u.mean.q.in_scale = in->q.scale[0];
            s->u.mean.q.out_scale = out->q.scale[0];
            s->u.mean.q.uint8_algo = in->dtype == MNET_U8;
        }
        return 0;
    }

    case MNET_OP_SOFTMAX:
    case MNET_OP_LOGISTIC: {
        if ((r = plan_unary_shape(c, op, 1)) < 0)
            return r;
        if (in->dtype != out->dtype)
            return UNSUP("op %d (%s): changes type", c->opi, name);
        if (quant && !f32 &&
            (out->q.scale[0] != 1.0f / 256 || out->q.zero_point[0] != (out->dtype == MNET_I8 ? -128 : 0)))
            return UNSUP("op %d (%s): quantized output must have scale 1/256 and zero point %d",
                         c->opi, name, out->dtype == MNET_I8 ? -128 : 0);
        if ((r = define(c, oi, f32 ? MNET_F32 : MNET_U8)) < 0)
            return r;
        int sm = op->kind == MNET_OP_SOFTMAX;
        struct step *s = new_step(c, sm ? (f32 ? S_FSOFTMAX : S_QSOFTMAX) : (f32 ? S_FLOGISTIC : S_QLOGISTIC),
                                  ii, -1, oi);
        if (sm) {
            s->u.sm.depth = in->rank ? in->shape[in->rank - 1] : 1;
            s->u.sm.beta = op->beta;
            if (!f32) {
                struct mnet_qsoftmax_params *q = &s->u.sm.q;
                q->in_t = q->out_t = MNET_U8;
                q->out_zp = 0;
                mnet_quant_softmax_params(op->beta, in->q.scale[0], &q->input_multiplier,
                                          &q->input_left_shift, &q->diff_min);
                s->u.sm.exp_of_distance = plan_alloc(p, 256 * sizeof(int32_t));
                if (!s->u.sm.exp_of_distance)
                    return NOMEM();
                mnet_c_qsoftmax_table(q, s->u.sm.exp_of_distance);
            }
        } else if (!f32) {
            s->u.log.t = MNET_U8;
            s->u.log.in_zp = u8zp(in);
            mnet_quant_logistic_params(in->q.scale[0], &s->u.log.input_multiplier,
                                       &s->u.log.input_left_shift, &s->u.log.input_range_radius);
            return make_lut(c, s);
        }
        return 0;
    }

    case MNET_OP_HARD_SWISH: {
        if ((r = plan_unary_shape(c, op, 1)) < 0)
            return r;
        if (in->dtype != out->dtype)
            return UNSUP("op %d (%s): changes type", c->opi, name);
        if ((r = define(c, oi, f32 ? MNET_F32 : MNET_U8)) < 0)
            return r;
        struct step *s = new_step(c, f32 ? S_FHSWISH : S_QHSWISH, ii, -1, oi);
        if (f32 && quant)
            set_post_clamp(s, out);
        if (!f32) {
            struct mnet_qhswish_params *q = &s->u.hs;
            q->t = MNET_U8;
            q->in_zp = u8zp(in);
            q->out_zp = u8zp(out);
            mnet_quant_hswish_params(in->q.scale[0], out->q.scale[0], &q->reluish_mult,
                                     &q->reluish_exp, &q->out_mult, &q->out_exp);
            if (q->out_exp > 0)
                return UNSUP("op %d (%s): output scale too small", c->opi, name);
            return make_lut(c, s);
        }
        return 0;
    }
    default:
        return UNSUP("op %d: unsupported op %s", c->opi, name);
    }
}

/* ---------------- fused blocks ---------------- */

/* A fused block keeps its intermediate tensors (the depthwise input and
 * output, written and read back once each when run layer by layer) out of
 * memory.  With an expand it reads its pointwise weights again for every
 * pair of output rows (the x86 kernel's ring holds the input rows of two),
 * so it pays while the first outweighs the second: MobileNetV2 1.0/224's
 * blocks at 112x112, 56x56 and 28x28 (4.8 MB of expanded tensor against
 * 0.45 MB of weight reads in the first), not the later ones, whose weights
 * are larger than their maps (14x14x576: 0.9 MB of activations, 3 MB of
 * weight reads); it must win by a quarter.  Without an expand (v1's pairs)
 * the kernel's bands of at least 196 pixels read the weights no more often
 * than the unfused GEMM does, so those always pay: v1 at batch 8, 1 thread,
 * each of its ten later pairs 1-7% faster than depthwise + pointwise
 * unfused. */
static int fuse_pays(const struct step *e, const struct step *d, const struct step *pj)
{
    if (!e)
        return 1;
    const struct mnet_conv_geom *gd = &d->u.fc.g, *gp = &pj->u.fc.g;
    double acts = (double)gd->in_h * gd->in_w * gd->in_c + (double)gd->out_h * gd->out_w * gd->out_c;
    double wts = (double)gp->in_c * gp->out_c + (double)e->u.fc.g.in_c * e->u.fc.g.out_c;
    return 1.25 * ((gd->out_h + 1) / 2) * wts <= acts;
}

/* Float depthwise -> pointwise chains (MobileNetV2's expand 1x1 -> depthwise
 * -> project 1x1 [-> residual ADD], v1's depthwise -> pointwise) become one
 * step when the kernel table has fblock_run and fuse_pays: the intermediate
 * tensors then live only in per-thread scratch rows and get no arena slice.
 * A chain fuses only when each intermediate value has exactly one reader
 * (the next step) and the steps are consecutive.  MNET_FUSE=0 in the
 * environment turns fusion off, MNET_FUSE=all fuses every chain the table
 * can run (for tests and comparisons). */
static int fuse_blocks(struct mnet_plan *p)
{
    const char *env = getenv("MNET_FUSE");
    if (env && strcmp(env, "0") == 0)
        return 0;
    const int all = env && strcmp(env, "all") == 0;
    int *uses = calloc((size_t)p->nv, sizeof(int));
    if (!uses)
        return -ENOMEM;
    for (int i = 0; i < p->nsteps; i++) {
        uses[root(p, p->steps[i].in0)]++;
        if (p->steps[i].in1 >= 0)
            uses[root(p, p->steps[i].in1)]++;
    }
    uses[root(p, p->output)]++;
    for (int i = 1; i + 1 < p->nsteps; i++) {
        struct step *d = &p->steps[i], *e = &p->steps[i - 1], *pj = &p->steps[i + 1], *a = NULL;
        const struct mnet_kernel_ops *k = d->k;
        if (d->kind != S_FDW || !k->fblock_prepare || !k->fblock_run)
            continue;
        if (e->kind != S_FCONV || e->k != k || e->fb || e->fused ||
            root(p, e->out) != root(p, d->in0) || uses[root(p, d->in0)] != 1 ||
            !mnet_conv_is_pointwise(&e->u.fc.g))
            e = NULL;
        if (pj->kind != S_FCONV || pj->k != k || root(p, pj->in0) != root(p, d->out) ||
            uses[root(p, d->out)] != 1 || !mnet_conv_is_pointwise(&pj->u.fc.g))
            continue;
        if (!all && !fuse_pays(e, d, pj))
            continue;
        const int in_v = root(p, e ? e->in0 : d->in0);
        if (i + 2 < p->nsteps) {
            struct step *x = &p->steps[i + 2];
            int r0 = root(p, x->in0), r1 = x->in1 >= 0 ? root(p, x->in1) : -1, po = root(p, pj->out);
            if (x->kind == S_FADD && x->u.bin.b_inner == x->u.bin.inner && x->u.bin.b_stride &&
                !x->post_clamp && uses[po] == 1 && ((r0 == po && r1 == in_v) || (r1 == po && r0 == in_v)))
                a = x;
        }
        struct mnet_fblock *fb = plan_alloc(p, sizeof *fb);
        if (!fb) {
            free(uses);
            return -ENOMEM;
        }
        fb->expand = e ? &e->u.fc : NULL;
        fb->dw = &d->u.fc;
        fb->project = &pj->u.fc;
        fb->residual = a != NULL;
        if (a) {
            fb->add_lo = a->u.bin.lo;
            fb->add_hi = a->u.bin.hi;
        }
        if (k->fblock_prepare(fb, p->max_batch, p->threads) != 0)
            continue;
        struct step *head = e ? e : d, *last = a ? a : pj;
        head->fb = fb;
        head->fb_last = (int)(last - p->steps);
        for (struct step *s = head + 1; s <= last; s++)
            s->fused = 1;
        for (struct step *s = head; s < last; s++)
            p->v[root(p, s->out)].virt = 1;
        /* the kernel reads the block input while it writes the output: their
         * lifetimes must overlap over the whole block */
        struct pval *vin = &p->v[in_v], *vout = &p->v[root(p, last->out)];
        if (vin->last < last->op)
            vin->last = last->op;
        if (vout->def > head->op)
            vout->def = head->op;
        if (fb->scratch_bytes > p->scratch_bytes)
            p->scratch_bytes = fb->scratch_bytes;
        p->io.fused_blocks++;
        i = (int)(last - p->steps);
    }
    free(uses);
    return 0;
}

/* At batch 1 every layer's packed weights come from L3 once per image (the
 * int8 v2 model's ~3.5 MB against a 2 MiB L2), and a GEMM's first panel
 * (the whole classifier: 1.28 MB) is read before any prefetch of its own.
 * So each int8 conv step gets the start of the next one's weights to bring
 * into L2 while it computes (the depthwise steps between, whose weights are
 * small, are skipped over); at most PF_MAX bytes, and with the running
 * layer's own at most PF_L2, so that its weights streaming through L2
 * after them do not evict them.  Only weights of PF_MIN or more: in v2
 * the 7x7x160->960 expand prefetching 960->320's 307 KB took 0.003 ms
 * longer and the 960->320 was no faster; the classifier's 1.28 MB take
 * 0.02 ms off it for about 0.005 on the 7x7x320->1280 before it.  (The
 * float GEMMs measured slower with it: see kernels_x86.c.)  MNET_PREFETCH=0
 * in the environment turns it off (for comparisons). */
#define PF_MAX ((size_t)1 << 20)
#define PF_L2 ((size_t)3 << 19)
#define PF_MIN ((size_t)512 << 10)

static size_t step_weights(const struct step *s, const void **at)
{
    return s->k->packed_weights ? s->k->packed_weights(s->u.qc.packed, at) : 0;
}

static void plan_prefetch(struct mnet_plan *p)
{
    const char *env = getenv("MNET_PREFETCH");
    if (env && strcmp(env, "0") == 0)
        return;
    for (int i = 0; i < p->nsteps; i++) {
        struct step *s = &p->steps[i];
        if (s->kind != S_QCONV)
            continue;
        for (int j = i + 1; j < p->nsteps; j++) {
            const struct step *t = &p->steps[j];
            if (t->kind != S_QCONV)
                continue;
            const void *at = NULL, *own_at;
            size_t bytes = step_weights(t, &at), own = step_weights(s, &own_at);
            size_t room = own < PF_L2 ? PF_L2 - own : 0;
            room = room < PF_MAX ? room : PF_MAX;
            bytes = bytes < room ? bytes : room;
            if (bytes >= PF_MIN) {
                s->u.qc.pf = at;
                s->u.qc.pf_bytes = bytes;
            }
            break;
        }
    }
}

/* ---------------- arena ---------------- */

static size_t esize(enum mnet_dtype rt) { return rt == MNET_F32 ? 4 : 1; }

/* Steps before the first conv whose weights outweigh its activations (input
 * and output of one image): see run_part. */
static int count_image_steps(const struct mnet_plan *p)
{
    for (int i = 0; i < p->nsteps; i++) {
        const struct step *s = &p->steps[i];
        const struct mnet_conv_geom *g;
        size_t wsize;
        if (s->kind == S_QCONV || s->kind == S_QDW)
            g = &s->u.qc.g, wsize = 1;
        else if (s->kind == S_FCONV || s->kind == S_FDW)
            g = &s->u.fc.g, wsize = 4;
        else
            continue;
        size_t taps = (size_t)g->k_h * g->k_w * (s->kind == S_QDW || s->kind == S_FDW ? 1 : g->in_c);
        size_t weights = taps * g->out_c * wsize;
        size_t acts = p->v[s->in0].elems * esize(p->v[s->in0].rt) +
                      p->v[s->out].elems * esize(p->v[s->out].rt);
        if (weights > acts) {
            while (i < p->nsteps && p->steps[i].fused) /* a fused block runs whole */
                i++;
            return i;
        }
    }
    return p->nsteps;
}

/* Batches run the first image_steps steps image by image (run_part).  A
 * value made and consumed inside them needs room for one image only; one
 * that crosses into the batched steps (or the graph input they start from)
 * holds every image and lives through all of them, since image 0 writes it
 * first and the batched steps read it last. */
static void plan_image_steps(struct mnet_plan *p)
{
    p->image_steps = count_image_steps(p);
    if (p->image_steps == 0)
        return;
    /* the first op of the batched steps; the graph output counts as one */
    const int boundary = p->image_steps < p->nsteps ? p->steps[p->image_steps].op
                                                    : p->v[root(p, p->output)].last;
    for (int i = 0; i < p->nv; i++) {
        struct pval *v = &p->v[i];
        if (!v->used || v->cdata || v->root != i || v->def >= boundary)
            continue;
        if (v->def >= 0 && v->last < boundary) {
            v->one_image = 1;
        } else {
            v->def = -1;
            v->last = v->last > boundary ? v->last : boundary;
        }
    }
}

/* The arena holds one partition per thread, each laid out for part_cap
 * images, so that threads can run whole networks on their own images at
 * once (mnet_plan_run).  A partition fits its share of a full batch, and
 * partition 0 also a batch smaller than the thread count. */
static int assign_arena(struct mnet_plan *p)
{
    const int T = p->threads;
    p->parts = T > 1 && p->max_batch >= T ? T : 1;
    p->part_cap = (p->max_batch + p->parts - 1) / p->parts;
    if (p->parts > 1 && p->part_cap < T - 1)
        p->part_cap = T - 1;
    size_t top = 0;
    for (int i = 0; i < p->nv; i++) {
        struct pval *v = &p->v[i];
        if (!v->used || v->cdata || v->root != i || v->virt)
            continue;
        v->bytes = (v->elems * esize(v->rt) * (size_t)(v->one_image ? 1 : p->part_cap) + 63) / 64 * 64;
        /* first fit among placed values whose lifetimes overlap this one */
        size_t off = 0;
        for (;;) {
            int moved = 0;
            for (int j = 0; j < p->nv; j++) {
                struct pval *u = &p->v[j];
                if (!u->placed || u->last < v->def || v->last < u->def)
                    continue;
                if (off < u->off + u->bytes && u->off < off + v->bytes) {
                    off = u->off + u->bytes;
                    moved = 1;
                }
            }
            if (!moved)
                break;
        }
        v->off = off;
        v->placed = 1;
        if (off + v->bytes > top)
            top = off + v->bytes;
    }
    p->part_bytes = top;
    p->arena_bytes = top * (size_t)p->parts;
    if (p->arena_bytes) {
        p->arena = mnet_alloc_big(p->arena_bytes);
        if (!p->arena)
            return -ENOMEM;
    }
    return 0;
}

/* ---------------- build ---------------- */

void mnet_plan_free(struct mnet_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nsteps; i++) {
        struct step *s = &p->steps[i];
        if ((s->kind == S_QCONV || s->kind == S_QDW) && s->k && s->u.qc.packed)
            s->k->release(s->u.qc.packed);
        if ((s->kind == S_FCONV || s->kind == S_FDW) && s->k && s->u.fc.packed)
            s->k->release(s->u.fc.packed);
    }
    struct plan_block *b = p->blocks;
    while (b) {
        struct plan_block *n = b->next;
        free(b);
        b = n;
    }
    free(p->steps);
    free(p->v);
    free(p->arena);
    free(p->scratch);
    free(p);
}

const struct mnet_plan_io *mnet_plan_io(const struct mnet_plan *p) { return &p->io; }

/* The op that really produces the output, looking through reshapes and type
 * conversions (the tf2 model ends SOFTMAX -> QUANTIZE). */
static int output_is_softmax(const struct mnet_graph *g)
{
    int t = g->output;
    for (int guard = 0; guard < g->n_ops; guard++) {
        int producer = -1;
        for (int i = 0; i < g->n_ops; i++)
            if (g->ops[i].output == t)
                producer = i;
        if (producer < 0)
            return 0;
        enum mnet_op_kind k = g->ops[producer].kind;
        if (k == MNET_OP_SOFTMAX)
            return 1;
        if (k != MNET_OP_RESHAPE && k != MNET_OP_SQUEEZE && k != MNET_OP_QUANTIZE &&
            k != MNET_OP_DEQUANTIZE)
            return 0;
        t = g->ops[producer].inputs[0];
    }
    return 0;
}

int mnet_plan_build(const struct mnet_graph *g, const struct mnet_options *opt,
                    struct mnet_plan **out, char *err, size_t errlen)
{
    struct mnet_options o = {0};
    if (opt)
        o = *opt;
    if (!g || !out || o.threads < 0 || o.max_batch < 0 || o.max_batch > 4096 || o.threads > 1024 ||
        (o.precision != MNET_PRECISION_NATIVE && o.precision != MNET_PRECISION_FLOAT32))
        return mnet_error(err, errlen, -EINVAL, "bad plan options");
    if (g->n_tensors < 1 || g->n_ops < 1 || !g->tensors || !g->ops || g->input < 0 ||
        g->input >= g->n_tensors || g->output < 0 || g->output >= g->n_tensors)
        return mnet_error(err, errlen, -EBADMSG, "corrupt model: empty graph or bad input/output");

    struct mnet_plan *p = calloc(1, sizeof(*p));
    if (!p)
        return mnet_error(err, errlen, -ENOMEM, "out of memory");
    p->max_batch = o.max_batch ? o.max_batch : 1;
    p->threads = o.threads;
    if (!p->threads) {
#ifdef _OPENMP
        p->threads = omp_get_num_procs();
#else
        p->threads = 1;
#endif
    }
    p->precision_f32 = o.precision == MNET_PRECISION_FLOAT32;
    p->nv = g->n_tensors;
    p->v = calloc((size_t)p->nv, sizeof(*p->v));
    p->steps = calloc((size_t)g->n_ops, sizeof(*p->steps));
    struct ctx cx = {.g = g, .p = p, .err = err, .errlen = errlen, .opi = -1,
                     .k = mnet_kernels_select()};
    struct ctx *c = &cx;
    int r = 0;
    if (!p->v || !p->steps) {
        r = NOMEM();
        goto fail;
    }

    /* the graph input: (1, H, W, 3) */
    const struct mnet_tensor *tin = &g->tensors[g->input];
    if (tin->data || tin->rank != 4 || tin->shape[0] != 1 || tin->shape[3] != 3 ||
        tin->shape[1] < 1 || tin->shape[2] < 1 || tin->shape[1] > 8192 || tin->shape[2] > 8192) {
        r = mnet_error(err, errlen, -ENOTSUP, "model input must be an image (1, H, W, 3)");
        goto fail;
    }
    if (!(tin->dtype == MNET_F32 || (is_q(tin->dtype) && tin->q.count == 1))) {
        r = mnet_error(err, errlen, -ENOTSUP, "model input must be float32 or quantized 8-bit");
        goto fail;
    }
    {
        struct pval *v = &p->v[g->input];
        v->used = 1;
        v->orig = tin->dtype;
        v->rt = p->precision_f32 || tin->dtype == MNET_F32 ? MNET_F32 : MNET_U8;
        v->elems = t_elems(tin);
        v->root = g->input;
        v->def = v->last = -1;
        if (is_q(tin->dtype)) {
            v->scale = tin->q.scale[0];
            v->zp = u8zp(tin);
        }
    }
    for (int i = 0; i < g->n_ops; i++) {
        const struct mnet_op *op = &g->ops[i];
        cx.opi = i;
        int need = op->kind == MNET_OP_MEAN || op->kind == MNET_OP_ADD || op->kind == MNET_OP_MUL ? 2
                   : op->kind == MNET_OP_CONV_2D || op->kind == MNET_OP_DEPTHWISE_CONV_2D ||
                           op->kind == MNET_OP_FULLY_CONNECTED ? 2 : 1;
        if (op->n_inputs < need || op->n_inputs > MNET_OP_MAX_INPUTS || op->output < 0 ||
            op->output >= g->n_tensors) {
            r = mnet_error(err, errlen, -EBADMSG, "corrupt model: op %d (%s): bad operands", i,
                           mnet_op_name(op->kind));
            goto fail;
        }
        for (int k = 0; k < op->n_inputs; k++)
            if (op->inputs[k] < -1 || op->inputs[k] >= g->n_tensors ||
                (op->inputs[k] == -1 && k < need)) {
                r = mnet_error(err, errlen, -EBADMSG, "corrupt model: op %d (%s): input %d out of range",
                               i, mnet_op_name(op->kind), k);
                goto fail;
            }
        switch (op->kind) {
        case MNET_OP_CONV_2D:
        case MNET_OP_DEPTHWISE_CONV_2D:
        case MNET_OP_FULLY_CONNECTED:
            r = plan_conv(c, op);
            break;
        case MNET_OP_ADD:
        case MNET_OP_MUL:
            r = plan_binary(c, op);
            break;
        default:
            r = plan_other(c, op);
            break;
        }
        if (r < 0)
            goto fail;
    }

    /* the graph output */
    {
        const struct mnet_tensor *to = &g->tensors[g->output];
        struct pval *v = &p->v[g->output];
        if (!v->used || v->cdata || g->output == g->input) {
            r = mnet_error(err, errlen, -EBADMSG, "corrupt model: no op computes the graph output");
            goto fail;
        }
        if (to->rank < 1 || to->shape[0] != 1 || v->elems < 1 || v->elems > (1u << 24)) {
            r = mnet_error(err, errlen, -ENOTSUP, "model output must be (1, classes)");
            goto fail;
        }
        p->v[root(p, g->output)].last = g->n_ops;
        p->input = g->input;
        p->output = g->output;
        p->input_orig = tin->dtype;
        p->output_orig = to->dtype;
        struct mnet_plan_io *io = &p->io;
        io->height = tin->shape[1];
        io->width = tin->shape[2];
        io->channels = 3;
        io->input_type = tin->dtype;
        io->input_scale = is_q(tin->dtype) ? tin->q.scale[0] : 0.0f;
        io->input_zero_point = is_q(tin->dtype) ? tin->q.zero_point[0] : 0;
        io->classes = (int)v->elems;
        if (p->precision_f32 || to->dtype == MNET_F32) {
            io->output_type = MNET_F32;
        } else {
            io->output_type = to->dtype;
            io->output_scale = to->q.scale[0];
            io->output_zero_point = to->q.zero_point[0];
        }
        io->output_is_softmax = output_is_softmax(g);
        io->numerics = MNET_F32;
        if (!p->precision_f32)
            for (int i = 0; i < g->n_ops; i++)
                if (g->ops[i].kind == MNET_OP_CONV_2D && is_q(g->tensors[g->ops[i].inputs[1]].dtype)) {
                    io->numerics = g->tensors[g->ops[i].inputs[1]].dtype;
                    break;
                }
        for (int i = 0; i < g->n_tensors; i++)
            if (g->tensors[i].data)
                io->weights_bytes += g->tensors[i].nbytes;
        io->threads = p->threads;
        io->max_batch = p->max_batch;
    }
    if ((r = fuse_blocks(p)) < 0) {
        r = mnet_error(err, errlen, -ENOMEM, "out of memory");
        goto fail;
    }
    plan_prefetch(p);
    plan_image_steps(p);
    if ((r = assign_arena(p)) < 0) {
        r = mnet_error(err, errlen, -ENOMEM, "out of memory for the activation arena");
        goto fail;
    }
    /* One scratch slice per partition: their kernels run at once. */
    p->scratch_bytes = (p->scratch_bytes + 63) / 64 * 64;
    size_t scratch_total = p->scratch_bytes * (size_t)p->parts;
    if (scratch_total) {
        p->scratch = mnet_alloc_big(scratch_total);
        if (!p->scratch) {
            r = mnet_error(err, errlen, -ENOMEM, "out of memory");
            goto fail;
        }
    }
    p->io.arena_bytes = p->arena_bytes + scratch_total;
    *out = p;
    return 0;
fail:
    mnet_plan_free(p);
    return r;
}

/* ---------------- run ---------------- */

/* Value vi in arena partition part from image b0 on (constants: one copy
 * for every image). */
static void *vptr(const struct mnet_plan *p, int vi, int part, int b0)
{
    const struct pval *v = &p->v[vi], *r = &p->v[root(p, vi)];
    if (v->cdata)
        return (void *)v->cdata;
    return p->arena + (size_t)part * p->part_bytes + r->off +
           (r->one_image ? 0 : (size_t)b0 * v->elems * esize(v->rt));
}

static double now_ms(enum mnet_profile_clock clock)
{
    struct timespec ts;
    clock_gettime(clock == MNET_PROFILE_CPU ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One step on images b0 .. b0+n-1 of arena partition part, with T threads. */
static void run_step(const struct mnet_plan *p, const struct step *s, int part, int b0, int n, int T)
{
    void *in = vptr(p, s->in0, part, b0), *out = vptr(p, s->out, part, b0);
    void *in1 = s->in1 >= 0 ? vptr(p, s->in1, part, b0) : NULL;
    void *scratch = (uint8_t *)p->scratch + (size_t)part * p->scratch_bytes;
    size_t cnt = (size_t)n * p->v[s->out].elems;
    if (s->fused)
        return;
    if (s->fb) {
        s->k->fblock_run(s->fb, n, in, vptr(p, p->steps[s->fb_last].out, part, b0), scratch, T);
        return;
    }
    if (s->lut) {
        s->k->lut_run(s->lut, cnt, in, out, T);
        return;
    }
    switch (s->kind) {
    case S_QCONV:
        s->k->qconv_run(&s->u.qc, n, in, out, scratch, T);
        break;
    case S_QDW:
        s->k->qdw_run(&s->u.qc, n, in, out, scratch, T);
        break;
    case S_FCONV:
        s->k->fconv_run(&s->u.fc, n, in, out, scratch, T);
        break;
    case S_FDW:
        s->k->fdw_run(&s->u.fc, n, in, out, scratch, T);
        break;
    case S_QADD:
        if (s->u.bin.b_inner == s->u.bin.inner && s->u.bin.b_stride && p->v[s->in1].cdata == NULL)
            s->k->qadd_run(&s->u.bin.q, cnt, in, in1, out, T);
        else
            mnet_c_qadd_bcast(&s->u.bin.q, n, s->u.bin.inner, in, in1, s->u.bin.b_inner,
                              s->u.bin.b_stride, out, T);
        break;
    case S_QMUL:
        s->k->qmul_run(&s->u.bin.q, n, s->u.bin.inner, in, in1, s->u.bin.b_inner, s->u.bin.b_stride,
                       out, T);
        break;
    case S_FADD:
        if (s->u.bin.b_inner == s->u.bin.inner && s->u.bin.b_stride)
            mnet_c_fadd(cnt, in, in1, s->u.bin.lo, s->u.bin.hi, out, T);
        else
            mnet_ref_fadd(n, s->u.bin.inner, in, in1, s->u.bin.b_stride ? n : 1, s->u.bin.b_inner,
                          s->u.bin.lo, s->u.bin.hi, out);
        break;
    case S_FMUL:
        mnet_ref_fmul(n, s->u.bin.inner, in, in1, s->u.bin.b_stride ? n : 1, s->u.bin.b_inner,
                      s->u.bin.lo, s->u.bin.hi, out);
        break;
    case S_QPOOL:
        mnet_c_qavgpool(&s->u.pool.g, n, s->u.pool.is_signed, s->u.pool.lo, s->u.pool.hi, in, out, T);
        break;
    case S_FPOOL:
        mnet_c_favgpool(&s->u.pool.g, n, s->u.pool.flo, s->u.pool.fhi, in, out, T);
        break;
    case S_QMEAN:
        mnet_ref_qmean(&s->u.mean.q, n, s->u.mean.hw, s->u.mean.c, in, out);
        break;
    case S_FMEAN:
        mnet_ref_fmean(n, s->u.mean.hw, s->u.mean.c, in, out);
        break;
    case S_QSOFTMAX:
        mnet_c_qsoftmax(&s->u.sm.q, s->u.sm.exp_of_distance, cnt / (size_t)s->u.sm.depth,
                        s->u.sm.depth, in, out);
        break;
    case S_FSOFTMAX:
        mnet_ref_fsoftmax(cnt / (size_t)s->u.sm.depth, s->u.sm.depth, s->u.sm.beta, in, out);
        break;
    case S_QLOGISTIC:
        mnet_ref_qlogistic(&s->u.log, cnt, in, out);
        break;
    case S_FLOGISTIC:
        mnet_ref_flogistic(cnt, in, out);
        break;
    case S_QHSWISH:
        mnet_ref_qhswish(&s->u.hs, cnt, in, out);
        break;
    case S_FHSWISH:
        mnet_ref_fhswish(cnt, in, out);
        break;
    case S_QREQUANT:
        mnet_ref_qrequant(&s->u.rq, cnt, in, out);
        break;
    case S_FCLAMP:
        mnet_ref_fclamp(cnt, in, s->u.clamp.lo, s->u.clamp.hi, out);
        break;
    case S_QUANTIZE: {
        mnet_ref_quantize(cnt, in, s->u.cvt.scale, s->u.cvt.zp, s->u.cvt.orig, out);
        if (s->u.cvt.orig == MNET_I8)
            for (size_t i = 0; i < cnt; i++)
                ((uint8_t *)out)[i] ^= 0x80;
        break;
    }
    case S_DEQUANTIZE:
        mnet_ref_dequantize(cnt, in, MNET_U8, s->u.cvt.scale, s->u.cvt.zp, out);
        break;
    case S_KINDS:
        break;
    }
    if (s->post_clamp)
        mnet_ref_fclamp(cnt, out, s->post_lo, s->post_hi, out);
}

/* Steps [from, to) on images b0 .. b0+n-1 of partition part. */
static void run_steps(struct mnet_plan *p, int part, int b0, int n, int T, int from, int to,
                      enum mnet_profile_clock profile)
{
    for (int i = from; i < to; i++) {
        struct step *s = &p->steps[i];
        if (profile) {
            double t0 = now_ms(profile);
            run_step(p, s, part, b0, n, T);
            s->ms += now_ms(profile) - t0;
        } else {
            run_step(p, s, part, b0, n, T);
        }
    }
}

/* Images b0 .. b0+n-1 of the caller's batch through arena partition part
 * with T threads; profile: add each step's time. */
static void run_part(struct mnet_plan *p, int part, const void *input, int b0, int n, int T,
                     void *output, enum mnet_profile_clock profile)
{
    /* entry: the raw input into its arena slot */
    const struct pval *vi = &p->v[p->input];
    size_t cnt = (size_t)n * vi->elems;
    void *dst = vptr(p, p->input, part, 0);
    if (vi->rt == MNET_F32 && p->input_orig != MNET_F32) {
        mnet_ref_dequantize(cnt, (const uint8_t *)input + (size_t)b0 * vi->elems, p->input_orig,
                            p->io.input_scale, p->io.input_zero_point, dst);
    } else if (p->input_orig == MNET_I8) {
        const uint8_t *src = (const uint8_t *)input + (size_t)b0 * vi->elems;
        for (size_t i = 0; i < cnt; i++)
            ((uint8_t *)dst)[i] = src[i] ^ 0x80;
    } else {
        size_t es = esize(vi->rt);
        memcpy(dst, (const uint8_t *)input + (size_t)b0 * vi->elems * es, cnt * es);
    }
    /* The early steps, whose activations outweigh their weights, run image
     * by image so each image's tensors stay in cache (and take room for one
     * image); the rest batched, so their weights are read once per batch. */
    int first = n > 1 ? p->image_steps : 0;
    for (int b = 0; b < n && first; b++)
        run_steps(p, part, b, 1, T, 0, first, profile);
    run_steps(p, part, 0, n, T, first, p->nsteps, profile);
    /* exit: the output value in the io dtype */
    const struct pval *vo = &p->v[p->output];
    cnt = (size_t)n * vo->elems;
    const uint8_t *src = vptr(p, p->output, part, 0);
    if (vo->rt == MNET_F32) {
        memcpy((float *)output + (size_t)b0 * vo->elems, src, cnt * sizeof(float));
    } else {
        uint8_t *o = (uint8_t *)output + (size_t)b0 * vo->elems;
        uint8_t flip = p->output_orig == MNET_I8 ? 0x80 : 0;
        for (size_t i = 0; i < cnt; i++)
            o[i] = src[i] ^ flip;
    }
}

/* With at least as many images as threads, each thread runs the whole
 * network on its own share of the batch in its own arena partition: no
 * barrier per layer, and each image's activations stay in one core's
 * cache.  Smaller batches run layer by layer with every thread. */
int mnet_plan_run(struct mnet_plan *p, const void *input, int n, void *output)
{
    if (!p || !input || !output || n < 1 || n > p->max_batch)
        return -EINVAL;
    const int T = p->parts;
    if (T > 1 && n >= T) {
#pragma omp parallel for num_threads(T) schedule(static, 1)
        for (int t = 0; t < T; t++) {
            int each = n / T, extra = n % T;
            int b0 = t * each + (t < extra ? t : extra);
            run_part(p, t, input, b0, each + (t < extra), 1, output, t == 0 ? p->profile : MNET_PROFILE_OFF);
        }
    } else {
        run_part(p, 0, input, 0, n, p->threads, output, p->profile);
    }
    if (p->profile)
        p->profile_runs++;
    return 0;
}

/* ---------------- profile ---------------- */

void mnet_plan_set_profile(struct mnet_plan *p, enum mnet_profile_clock clock)
{
    if (!p)
        return;
    p->profile = clock;
    p->profile_runs = 0;
    for (int i = 0; i < p->nsteps; i++)
        p->steps[i].ms = 0;
}

/* Multiply-accumulates per image of a step (0 for the cheap ops). */
static double step_macs(const struct step *s)
{
    if (s->kind == S_QCONV || s->kind == S_QDW || s->kind == S_FCONV || s->kind == S_FDW) {
        const struct mnet_conv_geom *g = s->kind == S_QCONV || s->kind == S_QDW ? &s->u.qc.g : &s->u.fc.g;
        double taps = (double)g->k_h * g->k_w * (s->kind == S_QDW || s->kind == S_FDW ? 1 : g->in_c);
        return (double)g->out_h * g->out_w * g->out_c * taps;
    }
    return 0;
}

void mnet_plan_print_profile(const struct mnet_plan *p, FILE *f, int json, int iters, int threads)
{
    if (!p || !f)
        return;
    long runs = p->profile_runs ? p->profile_runs : (iters > 0 ? iters : 1);
    double total = 0;
    for (int i = 0; i < p->nsteps; i++)
        total += p->steps[i].ms;
    if (json)
        fputc('[', f);
    for (int i = 0; i < p->nsteps; i++) {
        const struct step *s = &p->steps[i];
        double ms = s->ms / runs;
        double macs = step_macs(s);
        char shape[96] = "";
        const char *kind = skind_name[s->kind];
        if (s->fb) { /* the block's time and work on its head's line */
            for (int j = i + 1; j <= s->fb_last; j++)
                macs += step_macs(&p->steps[j]);
            kind = "block_f32";
        } else if (s->fused) { /* counted on the head's line */
            kind = "(in block)";
            macs = 0;
        }
        if (step_macs(s) > 0) {
            const struct mnet_conv_geom *g = s->kind == S_QCONV || s->kind == S_QDW ? &s->u.qc.g : &s->u.fc.g;
            snprintf(shape, sizeof shape, "%dx%dx%d->%dx%dx%d k%dx%d s%d", g->in_h, g->in_w, g->in_c,
                     g->out_h, g->out_w, g->out_c, g->k_h, g->k_w, g->stride_h);
        }
        if (json)
            fprintf(f, "%s{\"step\":%d,\"op\":%d,\"kind\":\"%s\",\"shape\":\"%s\",\"ms\":%.4f,"
                       "\"macs_per_image\":%.0f}",
                    i ? "," : "", i, s->op, kind, shape, ms, macs);
        else
            fprintf(f, "%3d op %3d %-14s %-34s %8.3f ms %5.1f%%  %8.2f MMAC/image\n", i, s->op,
                    kind, shape, ms, total > 0 ? 100.0 * s->ms / total : 0.0, macs / 1e6);
    }
    if (json)
        fputc(']', f);
    else
        fprintf(f, "total %.3f ms per run (%d threads, kernels %s, %s clock)\n", total / runs, threads,
                mnet_kernels_select()->name, p->profile == MNET_PROFILE_CPU ? "thread CPU" : "wall");
}
