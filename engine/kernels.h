/* kernels.h: the engine's compute kernels (internal).
 *
 * THE CONTRACT (read this before writing a kernel)
 * ------------------------------------------------
 * Layout.  Every activation is NHWC, dense, batch n outermost: element
 * (b, y, x, ch) of an (n, H, W, C) tensor is at ((b*H + y)*W + x)*C + ch.
 * A fully-connected input (n, k) is the same thing with h = w = 1.
 *
 * Quantized representation.  Inside the engine every quantized activation is
 * uint8, every quantized weight is int8:
 *   - an int8 activation a (zero point z) is stored as a + 128 with zero
 *     point z + 128 (exactly equivalent: (a - z) == (a+128) - (z+128));
 *   - a uint8 weight w (zero point z) is stored as w - 128 with zero point
 *     z - 128; int8 weights are kept as they are (per-channel zp is 0).
 * So every integer dot product is u8 activation x s8 weight into an int32
 * accumulator, which is what x86 VNNI vpdpbusd and ARM udot/usdot do.
 * The plan converts at the graph edges; kernels only ever see u8/s8.
 *
 * Integer semantics (bit-exact with TFLite's reference kernels, default
 * double rounding, see quant.h):
 *   acc[oc] = bias[oc] + sum over taps (x - in_zp) * (w - w_zp)
 *             (taps that fall into the padding contribute 0, as in TFLite)
 *   out     = clamp(out_zp + mnet_mbqm(acc, mult[oc], shift[oc]), out_min, out_max)
 * with out_min/out_max already in the u8 domain and the fused activation
 * (RELU/RELU6/...) folded in, and mult[oc] in [0, 2^31): every real scale
 * is finite and positive (tflite.c rejects others; 0 is a flushed tiny
 * one); the x86 tables hand a layer outside that to the portable kernels.
 * A fast kernel may compute it any way that gives the same integers, e.g.
 * with the constant terms folded at prepare time:
 *   acc = bias_folded[oc] + sum x*w  -  w_zp * sum x
 *   bias_folded[oc] = bias[oc] - in_zp*sum(w[oc]) + K*in_zp*w_zp
 * which holds for every output position whose taps are all inside the image,
 * or when padded taps are fed the value in_zp (im2col with in_zp fill).
 * The plan fills qconv.bias_folded and qconv.w_sum for convenience.
 * mnet_mbqm_fast (quant.h) is a branch-free form of the requantization that
 * gives the same integers, meant for vectorized epilogues.
 * int32 accumulation cannot overflow for MobileNet sizes (K <= 2^14 checked by
 * the plan: 255*128*K < 2^31).
 *
 * Float semantics: out = clamp(bias[oc] + sum x*w, out_min, out_max); any
 * summation order is fine (tests allow ~1e-5 relative).
 *
 * Weights.  The plan hands each layer its weights in the ORIGINAL TFLite
 * layout (after the u8->s8 shift):
 *   conv       (out_c, k_h, k_w, in_c)
 *   depthwise  (1, k_h, k_w, out_c)      out_c = in_c * depth_multiplier
 *   fc         (out_c, in_c)             run as a 1x1 conv on (n, 1, 1, in_c)
 * Each kernel family's prepare() may repack them into whatever layout it wants
 * and stores the result in layer->packed (malloc'd, released by the table's
 * release()).  Packed formats are private to the implementation that made them;
 * nothing else may read `packed`.  prepare() runs once at load; run() must not
 * allocate.  A run() that needs scratch memory reports scratch_bytes from
 * prepare() (for max_batch images and `threads` threads) and receives a buffer
 * at least that large, 64-byte aligned, owned by the plan.
 *
 * Epilogue = bias + requantize (or float clamp) + activation clamp, fused into
 * the kernel: a conv writes its final output tensor, nothing runs after it.
 *
 * Threads.  run() gets the thread count; it uses OpenMP with
 * num_threads(threads) (or nothing when threads == 1).  Split work over
 * batch x output rows and/or output channels so 2 threads are busy at batch 1.
 * Results must not depend on the thread count.
 *
 * Dispatch.  struct mnet_kernel_ops is a table of function pointers.
 * mnet_kernels_select() picks one at load from CPU features
 * (mnet_kernels_c is the portable one; AVX-512/VNNI/AVX2/NEON tables live in
 * their own files and are added to the selection list).  A table may leave a
 * pointer NULL: the plan then uses the portable one for that family.  Each
 * implementation is tested against kernels_ref.c (bit-exact for integers).
 */
#ifndef MNET_KERNELS_H
#define MNET_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#include "mnet.h"

/* Geometry of a conv / depthwise / fc / pooling layer, per image.
 * Padding: pad_top/pad_left are the padding before; whatever more the output
 * size needs goes after (TFLite SAME puts the odd row/column at the end). */
struct mnet_conv_geom {
    int in_h, in_w, in_c;
    int out_h, out_w, out_c;
    int k_h, k_w;
    int stride_h, stride_w;
    int dil_h, dil_w;
    int pad_top, pad_left;
    int depth_multiplier; /* depthwise only (out_c == in_c * depth_multiplier) */
};

/* A quantized conv, depthwise conv or fully-connected layer (u8 x s8). */
struct mnet_qconv {
    struct mnet_conv_geom g;
    const int8_t *w;            /* original layout (see above), s8 domain */
    const int32_t *bias;        /* (out_c) never NULL (zeros when the model has none) */
    const int32_t *bias_folded; /* (out_c) bias - in_zp*w_sum + K*in_zp*w_zp */
    const int32_t *w_sum;       /* (out_c) sum of w over the K taps of each output channel */
    int32_t in_zp;              /* u8 domain, 0..255 */
    int32_t w_zp;               /* s8 domain, -128..127 (0 for symmetric per-channel) */
    int32_t out_zp;             /* u8 domain */
    int32_t out_min, out_max;   /* u8 domain, fused activation included */
    const int32_t *mult;        /* (out_c) Q31 multipliers, >= 0 (per-tensor: all equal) */
    const int32_t *shift;       /* (out_c) exponents, > 0 means left shift */
    void *packed;               /* owned by the kernel family that prepared it */
    size_t scratch_bytes;       /* set by prepare(), see the contract */
    const void *pf;             /* see mnet_kernel_ops.packed_weights */
    size_t pf_bytes;
};

/* A float conv, depthwise conv or fully-connected layer. */
struct mnet_fconv {
    struct mnet_conv_geom g;
    const float *w;             /* original layout */
    const float *bias;          /* (out_c) never NULL */
    float out_min, out_max;     /* fused activation (-inf/inf when none) */
    void *packed;
    size_t scratch_bytes;
};

/* A float MobileNetV2 inverted-residual block (or a v1 depthwise + pointwise
 * pair) run as one kernel, output row by output row, so that its large
 * intermediate tensors never leave the cache:
 *   [expand 1x1 + clamp] -> depthwise + clamp -> project 1x1 + clamp
 *   [-> out = clamp(project + in, add_lo, add_hi)   (residual ADD)]
 * in is the block input (n, H, W, C_in) (the expand's, or the depthwise's when
 * there is no expand), out the block output.  Each layer was prepared by the
 * same table's fconv_prepare / fdw_prepare; the arithmetic of every output is
 * that of the layers run one after another (the plan checks against them).
 * fblock_prepare returns 0 and sets scratch_bytes (max_batch, threads as in
 * the contract) when the table runs this block fused, -ENOTSUP otherwise (the
 * plan then runs the layers unfused). */
struct mnet_fblock {
    const struct mnet_fconv *expand;  /* NULL: the depthwise reads in */
    const struct mnet_fconv *dw;
    const struct mnet_fconv *project;
    int residual;
    float add_lo, add_hi;
    size_t scratch_bytes;
};

/* Quantized elementwise ADD/MUL on u8 (TFLite's ADD/MUL parameterisation,
 * see quant.h).  b may broadcast: b_inner == c (a (1,1,1,C) tensor per image)
 * or 1 (a scalar); b_inner == 0 means same shape as a. */
struct mnet_qbinary {
    int32_t a_zp, b_zp, out_zp, out_min, out_max; /* u8 domain */
    int32_t a_mult, a_shift, b_mult, b_shift;       /* ADD: input rescale */
    int32_t out_mult, out_shift;
    int left_shift;                                  /* ADD: 20 */
};

struct mnet_kernel_ops {
    const char *name;
    /* conv (any kernel size; 1x1 stride 1 is the hot GEMM case) and fc */
    int (*qconv_prepare)(struct mnet_qconv *l, int max_batch, int threads);
    void (*qconv_run)(const struct mnet_qconv *l, int n, const uint8_t *in /* (n,in_h,in_w,in_c) */,
                      uint8_t *out /* (n,out_h,out_w,out_c) */, void *scratch, int threads);
    int (*qdw_prepare)(struct mnet_qconv *l, int max_batch, int threads);
    void (*qdw_run)(const struct mnet_qconv *l, int n, const uint8_t *in, uint8_t *out,
                    void *scratch, int threads);
    int (*fconv_prepare)(struct mnet_fconv *l, int max_batch, int threads);
    void (*fconv_run)(const struct mnet_fconv *l, int n, const float *in, float *out,
                      void *scratch, int threads);
    int (*fdw_prepare)(struct mnet_fconv *l, int max_batch, int threads);
    void (*fdw_run)(const struct mnet_fconv *l, int n, const float *in, float *out,
                    void *scratch, int threads);
    /* residual ADD, u8, same shapes: count elements */
    void (*qadd_run)(const struct mnet_qbinary *p, size_t count, const uint8_t *a,
                     const uint8_t *b, uint8_t *out, int threads);
    /* MUL, u8, b broadcast as in mnet_c_qmul_bcast (MobileNetV3's
     * squeeze-excite scale) */
    void (*qmul_run)(const struct mnet_qbinary *p, int n, size_t inner, const uint8_t *a,
                     const uint8_t *b, size_t b_inner, size_t b_batch_stride, uint8_t *out,
                     int threads);
    /* out[i] = lut[in[i]] as mnet_c_lut_u8 (hard-swish, logistic, requantize) */
    void (*lut_run)(const uint8_t lut[256], size_t count, const uint8_t *in, uint8_t *out,
                    int threads);
    void (*release)(void *packed); /* frees what this table's prepare() put in `packed` */
    /* optional (NULL: the plan runs the block's layers one by one) */
    int (*fblock_prepare)(struct mnet_fblock *b, int max_batch, int threads);
    void (*fblock_run)(const struct mnet_fblock *b, int n, const float *in, float *out,
                       void *scratch, int threads);
    /* optional: the bytes of a qconv pack's weights (*at: their start, in
     * the order a run reads them), 0 when there are none to prefetch.  The
     * plan gives each int8 conv step (pf, pf_bytes): the start of the next
     * one's weights, which a run may bring into L2 while it computes (at
     * batch 1 every layer's weights come from L3 once per image).  Runs
     * may ignore pf; it is never read through, only prefetched. */
    size_t (*packed_weights)(const void *packed, const void **at);
};

extern const struct mnet_kernel_ops mnet_kernels_c; /* portable C + OpenMP (kernels_c.c) */
/* Times the AVX-512 float requantization fell back to the exact one on
 * this thread (kernels_x86.c; test_simd checks that its ambiguous band is
 * reached).  Per thread: the hot path never shares a cache line. */
extern _Thread_local unsigned long mnet_rq_fallbacks;

/* The best table for this CPU; MNET_KERNELS=c|avx512|... in the environment
 * forces one (for tests and benchmarks).  Never NULL. */
const struct mnet_kernel_ops *mnet_kernels_select(void);
/* Every table this CPU can run (tests loop over them); returns the count. */
int mnet_kernels_available(const struct mnet_kernel_ops **tables, int max);

/* ---- helpers shared by the kernel implementations (kernels_c.c) ---- */
static inline size_t mnet_round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }
/* A pack as ONE zeroed, 64-byte aligned allocation: a header of `header`
 * bytes, then `data` bytes at offset `room` (a multiple of 64), so
 * release() is a plain free().  NULL when the header does not fit or data
 * is absurdly large. */
static inline void *mnet_pack_alloc(size_t room, size_t header, size_t data)
{
    if (header > room || data > ((size_t)1 << 40))
        return NULL;
    size_t total = mnet_round_up(room + data, 64);
    void *p = aligned_alloc(64, total);
    if (p)
        memset(p, 0, total);
    return p;
}
/* A zeroed, 64-byte aligned block that free() releases; from MNET_HUGE_MIN
 * bytes on, 2 MiB aligned and rounded up to 2 MiB pages that the kernel is
 * asked to back with transparent huge pages (THP in "madvise" mode gives
 * none otherwise): the packed weights, the activation arena and the
 * scratch span 3,500+ 4 KiB pages at batch 1, more than the TLB holds, so
 * every image walked pages again (v2 fp32 batch 1: stem, first block and
 * classifier 4-8% faster). */
#define MNET_HUGE_MIN ((size_t)1 << 20)
static inline void *mnet_alloc_big(size_t size)
{
    size_t align = 64;
#ifdef MADV_HUGEPAGE
    if (size >= MNET_HUGE_MIN)
        align = (size_t)2 << 20;
#endif
    size = mnet_round_up(size, align);
    void *p = aligned_alloc(align, size);
    if (!p)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (align > 64)
        (void)madvise(p, size, MADV_HUGEPAGE); /* advice only: 4 KiB pages still work */
#endif
    memset(p, 0, size);
    return p;
}
/* 1x1, stride 1, no padding: a GEMM can read the input rows in place. */
static inline int mnet_conv_is_pointwise(const struct mnet_conv_geom *g)
{
    return g->k_h == 1 && g->k_w == 1 && g->stride_h == 1 && g->stride_w == 1 &&
           g->pad_top == 0 && g->pad_left == 0 && g->out_h == g->in_h && g->out_w == g->in_w;
}
/* Copy the k_h*k_w*in_c patch of output pixel m (flattened over n, out_h,
 * out_w) to dst (im2col); taps in the padding get fill (u8: the input zero
 * point, which keeps a folded bias exact) or 0.0f. */
void mnet_gather_patch_u8(const struct mnet_conv_geom *g, const uint8_t *in, size_t m, uint8_t fill,
                          uint8_t *dst);
void mnet_gather_patch_f32(const struct mnet_conv_geom *g, const float *in, size_t m, float *dst);
/* Output-channel chunks to split a GEMM's row tiles into, so that small-M
 * layers (7x7 maps, FC at batch 1) still keep every thread busy. */
int mnet_oc_chunks(long tiles, int nblk, int threads);
/* Task t of an M-row GEMM split into row tiles of tile_rows x chunks of its
 * nblk output-channel blocks: rows [m0, m0 + nrows), blocks [blk0, blk1). */
struct mnet_gemm_task {
    size_t m0;
    int nrows, blk0, blk1;
};
static inline struct mnet_gemm_task mnet_gemm_task_of(long t, int chunks, int nblk, size_t M,
                                                      int tile_rows)
{
    struct mnet_gemm_task k;
    int chunk = (int)(t % chunks);
    k.blk0 = (int)((long)nblk * chunk / chunks);
    k.blk1 = (int)((long)nblk * (chunk + 1) / chunks);
    k.m0 = (size_t)(t / chunks) * tile_rows;
    k.nrows = M - k.m0 < (size_t)tile_rows ? (int)(M - k.m0) : tile_rows;
    return k;
}

/* ---- the portable C kernels for the non-hot ops (kernels_c.c) ----
 * u8 domain as above.  a and out are (n, inner); b is (n, b_inner) with
 * b_inner == inner, 1 (scalar) or dividing inner (a (1,1,1,C) vector over
 * H*W); b_batch_stride is b_inner, or 0 when b is one constant for every image. */
void mnet_c_qadd_bcast(const struct mnet_qbinary *p, int n, size_t inner, const uint8_t *a,
                       const uint8_t *b, size_t b_inner, size_t b_batch_stride, uint8_t *out,
                       int threads);
void mnet_c_qmul_bcast(const struct mnet_qbinary *p, int n, size_t inner, const uint8_t *a,
                       const uint8_t *b, size_t b_inner, size_t b_batch_stride, uint8_t *out,
                       int threads);
/* out[i] = lut[in[i]] (elementwise ops of one u8 input, tabulated exactly). */
void mnet_c_lut_u8(const uint8_t lut[256], size_t count, const uint8_t *in, uint8_t *out,
                   int threads);
/* Float average pool and same-shape ADD: the reference's arithmetic in the
 * same order (identical results), channels innermost so they vectorize. */
void mnet_c_favgpool(const struct mnet_conv_geom *g, int n, float out_min, float out_max,
                     const float *in, float *out, int threads);
void mnet_c_fadd(size_t count, const float *a, const float *b, float out_min, float out_max,
                 float *out, int threads);
/* Average pool on u8 (geometry as mnet_ref_qavgpool); is_signed selects the
 * int8 rounding of the average for tensors that are int8 in the model. */
void mnet_c_qavgpool(const struct mnet_conv_geom *g, int n, int is_signed, int32_t out_min,
                     int32_t out_max, const uint8_t *in, uint8_t *out, int threads);
/* Softmax on u8 rows with the parameters of mnet_ref_qsoftmax (in_t and out_t
 * MNET_U8), the same integers.  The exponential depends only on a value's
 * distance d from its row's maximum: mnet_c_qsoftmax_table tabulates it once
 * for d = 0..255 (-1 where TFLite leaves the value out). */
struct mnet_qsoftmax_params; /* below, with the reference kernels */
void mnet_c_qsoftmax_table(const struct mnet_qsoftmax_params *p, int32_t exp_of_distance[256]);
void mnet_c_qsoftmax(const struct mnet_qsoftmax_params *p, const int32_t exp_of_distance[256],
                     size_t rows, int depth, const uint8_t *in, uint8_t *out);

/* ---- naive reference kernels (kernels_ref.c) ----
 * Straight from the definitions, on the ORIGINAL tensors: activations and
 * weights in their own dtype (MNET_U8 or MNET_I8) with their own zero points.
 * Slow and obviously right; tests compare every fast kernel with these. */
struct mnet_ref_qconv {
    struct mnet_conv_geom g;
    enum mnet_dtype in_t, w_t, out_t; /* MNET_U8 or MNET_I8 */
    const void *w;                    /* original layout and dtype */
    const int32_t *bias;              /* (out_c) or NULL */
    int32_t in_zp;
    const int32_t *w_zp;              /* w_zp_count entries: 1 or out_c */
    int w_zp_count;
    const int32_t *mult, *shift;      /* (out_c) */
    int32_t out_zp, out_min, out_max; /* out_t domain */
};

void mnet_ref_qconv(const struct mnet_ref_qconv *l, int n, const void *in, void *out);
void mnet_ref_qdw(const struct mnet_ref_qconv *l, int n, const void *in, void *out);
void mnet_ref_fconv(const struct mnet_conv_geom *g, int n, const float *in, const float *w,
                    const float *bias, float out_min, float out_max, float *out);
void mnet_ref_fdw(const struct mnet_conv_geom *g, int n, const float *in, const float *w,
                  const float *bias, float out_min, float out_max, float *out);

/* Elementwise binary op with TFLite's quantized ADD/MUL arithmetic on
 * original dtypes.  a is (n, inner); b is (n, b_inner) broadcast along a's
 * inner dimension: b_inner == inner (same shape), == 1 (scalar per image),
 * or divides inner (a (1,1,1,C) vector repeated over H*W). b_n == 1 means b
 * is the same for every image. */
struct mnet_ref_qbinary {
    enum mnet_dtype t;                 /* dtype of a, b and out (U8 or I8) */
    int32_t a_zp, b_zp, out_zp, out_min, out_max;
    int32_t a_mult, a_shift, b_mult, b_shift, out_mult, out_shift;
    int left_shift;
};
void mnet_ref_qadd(const struct mnet_ref_qbinary *p, int n, size_t inner, const void *a,
                   const void *b, int b_n, size_t b_inner, void *out);
void mnet_ref_qmul(const struct mnet_ref_qbinary *p, int n, size_t inner, const void *a,
                   const void *b, int b_n, size_t b_inner, void *out);
void mnet_ref_fadd(int n, size_t inner, const float *a, const float *b, int b_n, size_t b_inner,
                   float out_min, float out_max, float *out);
void mnet_ref_fmul(int n, size_t inner, const float *a, const float *b, int b_n, size_t b_inner,
                   float out_min, float out_max, float *out);

/* Average pool (n, in_h, in_w, c) -> (n, out_h, out_w, c); g->k_h/k_w are the
 * filter, padded taps are not counted (TFLite).  Quantized: input and output
 * share scale and zero point (TFLite requires it); t selects TFLite's uint8 or
 * int8 rounding of the average. */
void mnet_ref_qavgpool(const struct mnet_conv_geom *g, int n, enum mnet_dtype t,
                       int32_t out_min, int32_t out_max, const void *in, void *out);
void mnet_ref_favgpool(const struct mnet_conv_geom *g, int n, float out_min, float out_max,
                       const float *in, float *out);

/* MEAN over H and W: (n, h, w, c) -> (n, c).  uint8_algo selects TFLite's
 * uint8 reference Mean (float bias, one multiplier for scale/count); else
 * the int8 one (rescale the zero-point-free sum, then divide with rounding). */
struct mnet_qmean_params {
    enum mnet_dtype t;
    int32_t in_zp, out_zp;
    float in_scale, out_scale;
    int uint8_algo;
};
void mnet_ref_qmean(const struct mnet_qmean_params *p, int n, int hw, int c, const void *in,
                    void *out);
void mnet_ref_fmean(int n, int hw, int c, const float *in, float *out);

/* Softmax over the last dimension, rows x depth. */
struct mnet_qsoftmax_params {
    enum mnet_dtype in_t, out_t;
    int32_t input_multiplier, input_left_shift, diff_min;
    int32_t out_zp; /* TFLite: 0 for uint8, -128 for int8 (scale 1/256) */
};
void mnet_ref_qsoftmax(const struct mnet_qsoftmax_params *p, size_t rows, int depth,
                       const void *in, void *out);
void mnet_ref_fsoftmax(size_t rows, int depth, float beta, const float *in, float *out);

/* LOGISTIC and HARD_SWISH, count elements. */
struct mnet_qlogistic_params {
    enum mnet_dtype t;
    int32_t in_zp, input_range_radius, input_multiplier, input_left_shift;
};
void mnet_ref_qlogistic(const struct mnet_qlogistic_params *p, size_t count, const void *in,
                        void *out);
void mnet_ref_flogistic(size_t count, const float *in, float *out);

struct mnet_qhswish_params {
    enum mnet_dtype t;
    int32_t in_zp, out_zp;
    int16_t reluish_mult, out_mult;   /* Q15 */
    int32_t reluish_exp, out_exp;
};
void mnet_ref_qhswish(const struct mnet_qhswish_params *p, size_t count, const void *in,
                      void *out);
void mnet_ref_fhswish(size_t count, const float *in, float *out);

/* Requantize (QUANTIZE between integer types, standalone RELU/RELU6):
 * out = clamp(out_zp + mbqm(x - in_zp, mult, shift), out_min, out_max). */
struct mnet_qrequant_params {
    enum mnet_dtype in_t, out_t;
    int32_t in_zp, out_zp, mult, shift, out_min, out_max;
};
void mnet_ref_qrequant(const struct mnet_qrequant_params *p, size_t count, const void *in,
                       void *out);
/* QUANTIZE float -> int: round(x / scale) + zp, clamped; DEQUANTIZE. */
void mnet_ref_quantize(size_t count, const float *in, float scale, int32_t zp,
                       enum mnet_dtype t, void *out);
void mnet_ref_dequantize(size_t count, const void *in, enum mnet_dtype t, float scale,
                         int32_t zp, float *out);
void mnet_ref_fclamp(size_t count, const float *in, float lo, float hi, float *out);

#endif
