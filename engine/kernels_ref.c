/* kernels_ref.c: naive reference kernels, straight from the definitions.
 *
 * They work on the original tensors (uint8 or int8 activations and weights,
 * each with its own zero point), loop in the most obvious order and requantize
 * with TFLite's double rounding.  Slow on purpose; the tests compare every
 * fast kernel against these, and the planner can run a whole model on them
 * (MNET_KERNELS=ref) to bisect a numerical problem. */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"

static inline int32_t ld(const void *p, size_t i, enum mnet_dtype t)
{
    return t == MNET_I8 ? (int32_t)((const int8_t *)p)[i] : (int32_t)((const uint8_t *)p)[i];
}

static inline void st(void *p, size_t i, enum mnet_dtype t, int32_t v)
{
    if (t == MNET_I8)
        ((int8_t *)p)[i] = (int8_t)v;
    else
        ((uint8_t *)p)[i] = (uint8_t)v;
}

static inline int32_t clampi(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static inline float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static inline int32_t qmin_of(enum mnet_dtype t) { return t == MNET_I8 ? -128 : 0; }
static inline int32_t qmax_of(enum mnet_dtype t) { return t == MNET_I8 ? 127 : 255; }

/* ---- convolutions ---- */

void mnet_ref_qconv(const struct mnet_ref_qconv *l, int n, const void *in, void *out)
{
    const struct mnet_conv_geom *g = &l->g;
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < g->out_h; oy++)
            for (int ox = 0; ox < g->out_w; ox++)
                for (int oc = 0; oc < g->out_c; oc++) {
                    int32_t wz = l->w_zp[l->w_zp_count > 1 ? oc : 0];
                    int32_t acc = 0;
                    for (int ky = 0; ky < g->k_h; ky++) {
                        int iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
                        if (iy < 0 || iy >= g->in_h)
                            continue;
                        for (int kx = 0; kx < g->k_w; kx++) {
                            int ix = ox * g->stride_w - g->pad_left + kx * g->dil_w;
                            if (ix < 0 || ix >= g->in_w)
                                continue;
                            for (int ic = 0; ic < g->in_c; ic++) {
                                size_t ii = (((size_t)b * g->in_h + iy) * g->in_w + ix) * g->in_c + ic;
                                size_t wi = (((size_t)oc * g->k_h + ky) * g->k_w + kx) * g->in_c + ic;
                                acc += (ld(in, ii, l->in_t) - l->in_zp) * (ld(l->w, wi, l->w_t) - wz);
                            }
                        }
                    }
                    if (l->bias)
                        acc += l->bias[oc];
                    int32_t v = l->out_zp + mnet_mbqm(acc, l->mult[oc], l->shift[oc]);
                    size_t oi = (((size_t)b * g->out_h + oy) * g->out_w + ox) * g->out_c + oc;
                    st(out, oi, l->out_t, clampi(v, l->out_min, l->out_max));
                }
}

void mnet_ref_qdw(const struct mnet_ref_qconv *l, int n, const void *in, void *out)
{
    const struct mnet_conv_geom *g = &l->g;
    int dm = g->depth_multiplier;
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < g->out_h; oy++)
            for (int ox = 0; ox < g->out_w; ox++)
                for (int ic = 0; ic < g->in_c; ic++)
                    for (int m = 0; m < dm; m++) {
                        int oc = ic * dm + m;
                        int32_t wz = l->w_zp[l->w_zp_count > 1 ? oc : 0];
                        int32_t acc = 0;
                        for (int ky = 0; ky < g->k_h; ky++) {
                            int iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
                            if (iy < 0 || iy >= g->in_h)
                                continue;
                            for (int kx = 0; kx < g->k_w; kx++) {
                                int ix = ox * g->stride_w - g->pad_left + kx * g->dil_w;
                                if (ix < 0 || ix >= g->in_w)
                                    continue;
                                size_t ii = (((size_t)b * g->in_h + iy) * g->in_w + ix) * g->in_c + ic;
                                size_t wi = ((size_t)ky * g->k_w + kx) * g->out_c + oc;
                                acc += (ld(in, ii, l->in_t) - l->in_zp) * (ld(l->w, wi, l->w_t) - wz);
                            }
                        }
                        if (l->bias)
                            acc += l->bias[oc];
                        int32_t v = l->out_zp + mnet_mbqm(acc, l->mult[oc], l->shift[oc]);
                        size_t oi = (((size_t)b * g->out_h + oy) * g->out_w + ox) * g->out_c + oc;
                        st(out, oi, l->out_t, clampi(v, l->out_min, l->out_max));
                    }
}

void mnet_ref_fconv(const struct mnet_conv_geom *g, int n, const float *in, const float *w,
                    const float *bias, float out_min, float out_max, float *out)
{
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < g->out_h; oy++)
            for (int ox = 0; ox < g->out_w; ox++)
                for (int oc = 0; oc < g->out_c; oc++) {
                    double acc = bias ? bias[oc] : 0.0;
                    for (int ky = 0; ky < g->k_h; ky++) {
                        int iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
                        if (iy < 0 || iy >= g->in_h)
                            continue;
                        for (int kx = 0; kx < g->k_w; kx++) {
                            int ix = ox * g->stride_w - g->pad_left + kx * g->dil_w;
                            if (ix < 0 || ix >= g->in_w)
                                continue;
                            for (int ic = 0; ic < g->in_c; ic++)
                                acc += (double)in[(((size_t)b * g->in_h + iy) * g->in_w + ix) * g->in_c + ic] *
                                       w[(((size_t)oc * g->k_h + ky) * g->k_w + kx) * g->in_c + ic];
                        }
                    }
                    out[(((size_t)b * g->out_h + oy) * g->out_w + ox) * g->out_c + oc] =
                        clampf((float)acc, out_min, out_max);
                }
}

void mnet_ref_fdw(const struct mnet_conv_geom *g, int n, const float *in, const float *w,
                  const float *bias, float out_min, float out_max, float *out)
{
    int dm = g->depth_multiplier;
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < g->out_h; oy++)
            for (int ox = 0; ox < g->out_w; ox++)
                for (int oc = 0; oc < g->out_c; oc++) {
                    int ic = oc / dm;
                    double acc = bias ? bias[oc] : 0.0;
                    for (int ky = 0; ky < g->k_h; ky++) {
                        int iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
                        if (iy < 0 || iy >= g->in_h)
                            continue;
                        for (int kx = 0; kx < g->k_w; kx++) {
                            int ix = ox * g->stride_w - g->pad_left + kx * g->dil_w;
                            if (ix < 0 || ix >= g->in_w)
                                continue;
                            acc += (double)in[(((size_t)b * g->in_h + iy) * g->in_w + ix) * g->in_c + ic] *
                                   w[((size_t)ky * g->k_w + kx) * g->out_c + oc];
                        }
                    }
                    out[(((size_t)b * g->out_h + oy) * g->out_w + ox) * g->out_c + oc] =
                        clampf((float)acc, out_min, out_max);
                }
}

/* ---- elementwise binary ---- */

static size_t bidx(int b, size_t i, int b_n, size_t inner, size_t b_inner)
{
    size_t base = b_n == 1 ? 0 : (size_t)b * b_inner;
    if (b_inner == inner)
        return base + i;
    if (b_inner == 1)
        return base;
    return base + i % b_inner; /* a (1,1,1,C) vector repeated over H*W */
}

void mnet_ref_qadd(const struct mnet_ref_qbinary *p, int n, size_t inner, const void *a,
                   const void *b, int b_n, size_t b_inner, void *out)
{
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < inner; i++) {
            int32_t x = ld(a, (size_t)k * inner + i, p->t) - p->a_zp;
            int32_t y = ld(b, bidx(k, i, b_n, inner, b_inner), p->t) - p->b_zp;
            int32_t v = p->out_zp + mnet_quant_add_raw(x, y, p->left_shift, p->a_mult, p->a_shift,
                                                       p->b_mult, p->b_shift, p->out_mult,
                                                       p->out_shift);
            st(out, (size_t)k * inner + i, p->t, clampi(v, p->out_min, p->out_max));
        }
}

void mnet_ref_qmul(const struct mnet_ref_qbinary *p, int n, size_t inner, const void *a,
                   const void *b, int b_n, size_t b_inner, void *out)
{
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < inner; i++) {
            int32_t x = ld(a, (size_t)k * inner + i, p->t) - p->a_zp;
            int32_t y = ld(b, bidx(k, i, b_n, inner, b_inner), p->t) - p->b_zp;
            int32_t v = p->out_zp + mnet_mbqm(x * y, p->out_mult, p->out_shift);
            st(out, (size_t)k * inner + i, p->t, clampi(v, p->out_min, p->out_max));
        }
}

void mnet_ref_fadd(int n, size_t inner, const float *a, const float *b, int b_n, size_t b_inner,
                   float out_min, float out_max, float *out)
{
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < inner; i++)
            out[(size_t)k * inner + i] = clampf(a[(size_t)k * inner + i] + b[bidx(k, i, b_n, inner, b_inner)],
                                                out_min, out_max);
}

void mnet_ref_fmul(int n, size_t inner, const float *a, const float *b, int b_n, size_t b_inner,
                   float out_min, float out_max, float *out)
{
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < inner; i++)
            out[(size_t)k * inner + i] = clampf(a[(size_t)k * inner + i] * b[bidx(k, i, b_n, inner, b_inner)],
                                                out_min, out_max);
}

/* ---- pooling and reductions ---- */

void mnet_ref_qavgpool(const struct mnet_conv_geom *g, int n, enum mnet_dtype t,
                       int32_t out_min, int32_t out_max, const void *in, void *out)
{
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < g->out_h; oy++)
            for (int ox = 0; ox < g->out_w; ox++)
                for (int c = 0; c < g->in_c; c++) {
                    int32_t sum = 0, cnt = 0;
                    for (int ky = 0; ky < g->k_h; ky++) {
                        int iy = oy * g->stride_h - g->pad_top + ky;
                        if (iy < 0 || iy >= g->in_h)
                            continue;
                        for (int kx = 0; kx < g->k_w; kx++) {
                            int ix = ox * g->stride_w - g->pad_left + kx;
                            if (ix < 0 || ix >= g->in_w)
                                continue;
                            sum += ld(in, (((size_t)b * g->in_h + iy) * g->in_w + ix) * g->in_c + c, t);
                            cnt++;
                        }
                    }
                    int32_t v = cnt ? mnet_quant_avg(sum, cnt, t == MNET_I8) : 0;
                    st(out, (((size_t)b * g->out_h + oy) * g->out_w + ox) * g->in_c + c, t,
                       clampi(v, out_min, out_max));
                }
}

void mnet_ref_favgpool(const struct mnet_conv_geom *g, int n, float out_min, float out_max,
                       const float *in, float *out)
{
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < g->out_h; oy++)
            for (int ox = 0; ox < g->out_w; ox++)
                for (int c = 0; c < g->in_c; c++) {
                    float sum = 0;
                    int cnt = 0;
                    for (int ky = 0; ky < g->k_h; ky++) {
                        int iy = oy * g->stride_h - g->pad_top + ky;
                        if (iy < 0 || iy >= g->in_h)
                            continue;
                        for (int kx = 0; kx < g->k_w; kx++) {
                            int ix = ox * g->stride_w - g->pad_left + kx;
                            if (ix < 0 || ix >= g->in_w)
                                continue;
                            sum += in[(((size_t)b * g->in_h + iy) * g->in_w + ix) * g->in_c + c];
                            cnt++;
                        }
                    }
                    out[(((size_t)b * g->out_h + oy) * g->out_w + ox) * g->in_c + c] =
                        clampf(cnt ? sum / (float)cnt : 0.0f, out_min, out_max);
                }
}

void mnet_ref_qmean(const struct mnet_qmean_params *p, int n, int hw, int c, const void *in,
                    void *out)
{
    int32_t mult;
    int shift;
    if (p->uint8_algo) {
        /* float arithmetic on purpose, as TFLite's uint8 kernel */
        float temp = (float)p->in_zp * p->in_scale / p->out_scale;
        temp = temp > 0 ? temp + 0.5f : temp - 0.5f;
        int32_t bias = p->out_zp - (int32_t)temp;
        float real = p->in_scale / ((float)hw * p->out_scale);
        mnet_quantize_multiplier((double)real, &mult, &shift);
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++) {
                int32_t acc = 0;
                for (int i = 0; i < hw; i++)
                    acc += ld(in, ((size_t)b * hw + i) * c + ch, p->t);
                acc = mnet_mbqm(acc, mult, shift) + bias;
                st(out, (size_t)b * c + ch, p->t, clampi(acc, qmin_of(p->t), qmax_of(p->t)));
            }
        return;
    }
    mnet_quantize_multiplier((double)p->in_scale / (double)p->out_scale, &mult, &shift);
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++) {
            int32_t acc = 0;
            for (int i = 0; i < hw; i++)
                acc += ld(in, ((size_t)b * hw + i) * c + ch, p->t) - p->in_zp;
            acc = mnet_mbqm(acc, mult, shift);
            acc = acc > 0 ? (acc + hw / 2) / hw : (acc - hw / 2) / hw;
            acc += p->out_zp;
            st(out, (size_t)b * c + ch, p->t, clampi(acc, qmin_of(p->t), qmax_of(p->t)));
        }
}

void mnet_ref_fmean(int n, int hw, int c, const float *in, float *out)
{
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++) {
            float sum = 0;
            for (int i = 0; i < hw; i++)
                sum += in[((size_t)b * hw + i) * c + ch];
            out[(size_t)b * c + ch] = sum / (float)hw;
        }
}

/* ---- softmax (gemmlowp fixed point, as TFLite's reference uint8/int8) ---- */

static int count_leading_zeros_u32(uint32_t x)
{
    return x ? __builtin_clz(x) : 32;
}

void mnet_ref_qsoftmax(const struct mnet_qsoftmax_params *p, size_t rows, int depth,
                       const void *in, void *out)
{
    const int scaled_diff_integer_bits = 5, accumulation_integer_bits = 12;
    for (size_t r = 0; r < rows; r++) {
        size_t base = r * (size_t)depth;
        int32_t max_in_row = qmin_of(p->in_t);
        for (int c = 0; c < depth; c++) {
            int32_t v = ld(in, base + c, p->in_t);
            if (v > max_in_row)
                max_in_row = v;
        }
        int32_t sum_of_exps = 0; /* Q12 */
        for (int c = 0; c < depth; c++) {
            int32_t diff = ld(in, base + c, p->in_t) - max_in_row;
            if (diff >= p->diff_min) {
                int32_t scaled = mnet_srdhm(diff * (1 << p->input_left_shift), p->input_multiplier);
                int32_t e = mnet_fp_exp_on_negative_values(scaled, scaled_diff_integer_bits);
                sum_of_exps += mnet_rdivpot(e, accumulation_integer_bits); /* Rescale Q0 -> Q12 */
            }
        }
        int headroom_plus_one = count_leading_zeros_u32((uint32_t)sum_of_exps);
        int num_bits_over_unit = accumulation_integer_bits - headroom_plus_one;
        int32_t shifted_sum_minus_one =
            (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31));
        int32_t shifted_scale = mnet_fp_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
        int exponent = num_bits_over_unit + 31 - 8;
        for (int c = 0; c < depth; c++) {
            int32_t diff = ld(in, base + c, p->in_t) - max_in_row;
            int32_t v = 0;
            if (diff >= p->diff_min) {
                int32_t scaled = mnet_srdhm(diff * (1 << p->input_left_shift), p->input_multiplier);
                int32_t e = mnet_fp_exp_on_negative_values(scaled, scaled_diff_integer_bits);
                v = mnet_rdivpot(mnet_srdhm(shifted_scale, e), exponent);
                if (v > 255)
                    v = 255;
                if (v < 0)
                    v = 0;
            }
            /* v in 0..255 on the 1/256 grid; shift to the output type's zero point */
            st(out, base + c, p->out_t, clampi(v + p->out_zp, qmin_of(p->out_t), qmax_of(p->out_t)));
        }
    }
}

void mnet_ref_fsoftmax(size_t rows, int depth, float beta, const float *in, float *out)
{
    for (size_t r = 0; r < rows; r++) {
        const float *x = in + r * (size_t)depth;
        float *y = out + r * (size_t)depth;
        float max = x[0];
        for (int c = 1; c < depth; c++)
            if (x[c] > max)
                max = x[c];
        float sum = 0;
        for (int c = 0; c < depth; c++) {
            y[c] = expf((x[c] - max) * beta);
            sum += y[c];
        }
        for (int c = 0; c < depth; c++)
            y[c] /= sum;
    }
}

/* ---- logistic, hard-swish ---- */

void mnet_ref_qlogistic(const struct mnet_qlogistic_params *p, size_t count, const void *in,
                        void *out)
{
    /* the uint8 algorithm; int8 is the same on values shifted by 128 (output
     * scale 1/256, zero point 0 for uint8 / -128 for int8) */
    int32_t off = p->t == MNET_I8 ? -128 : 0;
    for (size_t i = 0; i < count; i++) {
        int32_t centered = ld(in, i, p->t) - p->in_zp;
        int32_t v;
        if (centered <= -p->input_range_radius) {
            v = 0;
        } else if (centered >= p->input_range_radius) {
            v = 255;
        } else {
            int32_t rescaled = mnet_srdhm(centered * (1 << p->input_left_shift), p->input_multiplier);
            v = mnet_rdivpot(mnet_fp_logistic(rescaled, 4), 23);
            if (v == 256)
                v = 255;
        }
        st(out, i, p->t, v + off);
    }
}

void mnet_ref_flogistic(size_t count, const float *in, float *out)
{
    for (size_t i = 0; i < count; i++)
        out[i] = 1.0f / (1.0f + expf(-in[i]));
}

static int16_t sat_left_shift16(int16_t v, int amount)
{
    int64_t r = (int64_t)v * (1 << amount);
    if (r > INT16_MAX)
        r = INT16_MAX;
    if (r < INT16_MIN)
        r = INT16_MIN;
    return (int16_t)r;
}

static int16_t srdhm16(int16_t a, int16_t b)
{
    if (a == INT16_MIN && b == INT16_MIN)
        return INT16_MAX;
    int32_t ab = (int32_t)a * b;
    int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
    return (int16_t)((ab + nudge) / (1 << 15));
}

static int16_t sdhm16(int16_t a, int16_t b) /* truncating, like SQDMULH */
{
    if (a == INT16_MIN && b == INT16_MIN)
        return INT16_MAX;
    return (int16_t)(((int32_t)a * b) / (1 << 15));
}

static int16_t rdivpot16(int16_t x, int e)
{
    int16_t mask = (int16_t)((1 << e) - 1);
    int16_t rem = (int16_t)(x & mask);
    int16_t threshold = (int16_t)((mask >> 1) + (x < 0 ? 1 : 0));
    return (int16_t)((x >> e) + (rem > threshold ? 1 : 0));
}

void mnet_ref_qhswish(const struct mnet_qhswish_params *p, size_t count, const void *in,
                      void *out)
{
    for (size_t i = 0; i < count; i++) {
        int16_t x = (int16_t)(ld(in, i, p->t) - p->in_zp);
        int16_t hires = (int16_t)(x * (1 << 7));
        int16_t preshift_out = srdhm16(hires, p->out_mult);
        int16_t reluish = hires;
        if (p->reluish_exp > 0)
            reluish = sat_left_shift16(reluish, p->reluish_exp - 1);
        reluish = srdhm16(reluish, p->reluish_mult);
        if (p->reluish_exp > 0)
            reluish = sat_left_shift16(reluish, 1);
        if (p->reluish_exp < 0)
            reluish = rdivpot16(reluish, -p->reluish_exp);
        reluish = (int16_t)((reluish + (1 << 15)) >> 1);
        int16_t pre = sdhm16(reluish, preshift_out);
        int32_t v = rdivpot16(pre, -p->out_exp) + p->out_zp;
        st(out, i, p->t, clampi(v, qmin_of(p->t), qmax_of(p->t)));
    }
}

void mnet_ref_fhswish(size_t count, const float *in, float *out)
{
    for (size_t i = 0; i < count; i++) {
        float x = in[i];
        out[i] = x * clampf(x + 3.0f, 0.0f, 6.0f) / 6.0f;
    }
}

/* ---- conversions ---- */

void mnet_ref_qrequant(const struct mnet_qrequant_params *p, size_t count, const void *in,
                       void *out)
{
    for (size_t i = 0; i < count; i++) {
        int32_t v = p->out_zp + mnet_mbqm(ld(in, i, p->in_t) - p->in_zp, p->mult, p->shift);
        st(out, i, p->out_t, clampi(v, p->out_min, p->out_max));
    }
}

void mnet_ref_quantize(size_t count, const float *in, float scale, int32_t zp,
                       enum mnet_dtype t, void *out)
{
    for (size_t i = 0; i < count; i++) {
        float q = mnet_roundf(in[i] / scale);
        int32_t v;
        if (!(q > -1e9f))
            v = qmin_of(t);
        else if (q > 1e9f)
            v = qmax_of(t);
        else
            v = (int32_t)q + zp;
        st(out, i, t, clampi(v, qmin_of(t), qmax_of(t)));
    }
}

void mnet_ref_dequantize(size_t count, const void *in, enum mnet_dtype t, float scale,
                         int32_t zp, float *out)
{
    for (size_t i = 0; i < count; i++)
        out[i] = (float)((double)scale * (double)(ld(in, i, t) - zp));
}

void mnet_ref_fclamp(size_t count, const float *in, float lo, float hi, float *out)
{
    for (size_t i = 0; i < count; i++)
        out[i] = clampf(in[i], lo, hi);
}
