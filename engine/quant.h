/* quant.h: TFLite's reference integer arithmetic (internal).
 *
 * The fixed-point primitives TFLite's reference kernels use, with its default
 * double rounding (SaturatingRoundingDoublingHighMul then RoundingDivideByPOT;
 * not the TFLITE_SINGLE_ROUNDING variant), and the parameter derivations of
 * the quantized ops.  Written from the published definitions; the inline ones
 * are meant for kernel epilogues.  Pure functions, thread-safe.
 */
#ifndef MNET_QUANT_H
#define MNET_QUANT_H

#include <stdint.h>

#include "mnet.h"

/* gemmlowp SaturatingRoundingDoublingHighMul: round(a*b / 2^31), with the
 * one overflowing case (INT32_MIN * INT32_MIN) saturated. */
static inline int32_t mnet_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX;
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* C division truncates, as gemmlowp's */
}

/* gemmlowp RoundingDivideByPOT: x / 2^e rounded to nearest, ties away from zero.
 * e > 31 (a softmax over ~1000 near-equal values asks for 32 and more, where
 * gemmlowp's own shift is undefined) gives the true quotient's rounding: 0. */
static inline int32_t mnet_rdivpot(int32_t x, int e)
{
    if (e > 31)
        return 0;
    int32_t mask = (int32_t)(((int64_t)1 << e) - 1);
    int32_t rem = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (rem > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier (double rounding): x * mult * 2^shift
 * with mult a Q31 fraction in [0.5, 1) and shift > 0 a left shift. */
static inline int32_t mnet_mbqm(int32_t x, int32_t mult, int shift)
{
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    return mnet_rdivpot(mnet_srdhm((int32_t)((uint32_t)x << left), mult), right);
}

/* The same integers as mnet_mbqm, branch-free, for kernel epilogues: with
 * mult > 0 (every requantization multiplier), SaturatingRoundingDoublingHighMul
 * is floor((a*b + 2^30) / 2^31) (never saturates), and RoundingDivideByPOT is
 * floor((x + 2^(e-1) - (x < 0)) / 2^e).  Tested against mnet_mbqm. */
static inline int32_t mnet_mbqm_fast(int32_t x, int32_t mult, int left, int right)
{
    int64_t ab = (int64_t)(int32_t)((uint32_t)x << left) * mult;
    int32_t h = (int32_t)((ab + ((int64_t)1 << 30)) >> 31);
    int32_t round = right > 0 ? (int32_t)((1u << right) >> 1) - (h < 0) : 0;
    return (int32_t)(((int64_t)h + round) >> right);
}

/* TFLite QuantizeMultiplier: double -> Q31 multiplier and exponent, with
 * round-half-away-from-zero of the mantissa and the 2^31 carry case.
 * m == 0 (or underflow below 2^-31) gives mult 0, shift 0. */
void mnet_quantize_multiplier(double m, int32_t *mult, int *shift);

/* CalculateInputRadius(input_integer_bits, input_left_shift, total_signed_bits=31). */
int32_t mnet_input_radius(int input_integer_bits, int input_left_shift, int total_signed_bits);

/* Fused activation range in the quantized domain of (scale, zp) for dtype
 * t (U8: 0..255, I8: -128..127), as TFLite's CalculateActivationRangeQuantized. */
void mnet_activation_range_q(int act /* enum mnet_activation */, float scale, int32_t zp,
                             enum mnet_dtype t, int32_t *lo, int32_t *hi);

/* ADD: TFLite's quantized ADD setup (left_shift 20, inputs rescaled to twice
 * the larger input scale).  Outputs multipliers/shifts (shift <= 0). */
void mnet_quant_add_params(double s_a, double s_b, double s_out, int left_shift,
                           int32_t *a_mult, int32_t *a_shift, int32_t *b_mult,
                           int32_t *b_shift, int32_t *out_mult, int32_t *out_shift);

/* The ADD element computation on zero-point-free inputs (x - zp). */
static inline int32_t mnet_quant_add_raw(int32_t a, int32_t b, int left_shift, int32_t a_mult,
                                         int32_t a_shift, int32_t b_mult, int32_t b_shift,
                                         int32_t out_mult, int32_t out_shift)
{
    int32_t sa = mnet_mbqm(a * (1 << left_shift), a_mult, a_shift);
    int32_t sb = mnet_mbqm(b * (1 << left_shift), b_mult, b_shift);
    return mnet_mbqm(sa + sb, out_mult, out_shift);
}

/* Softmax (uint8/int8, gemmlowp fixed point): PreprocessSoftmaxScaling with
 * 5 integer bits for the scaled difference, and the diff_min cut-off. */
void mnet_quant_softmax_params(double beta, double in_scale, int32_t *input_multiplier,
                               int32_t *input_left_shift, int32_t *diff_min);

/* Logistic (uint8/int8, gemmlowp fixed point, 4 integer bits on input). */
void mnet_quant_logistic_params(double in_scale, int32_t *input_multiplier,
                                int32_t *input_left_shift, int32_t *input_range_radius);

/* HARD_SWISH: reluish and output multipliers as Q15 plus exponents. */
void mnet_quant_hswish_params(float in_scale, float out_scale, int16_t *reluish_mult,
                              int32_t *reluish_exp, int16_t *out_mult, int32_t *out_exp);

/* gemmlowp fixed-point helpers used by softmax and logistic. */
int32_t mnet_fp_exp_on_negative_values(int32_t a, int integer_bits); /* raw Qk -> raw Q0 */
int32_t mnet_fp_one_over_one_plus_x_for_x_in_0_1(int32_t a);        /* raw Q0 -> raw Q0 */
int32_t mnet_fp_logistic(int32_t a, int integer_bits);              /* raw Qk -> raw Q0 */

/* Average with TFLite's rounding: uint8 kernels round half up on the
 * (non-negative) sum, int8 kernels round half away from zero. */
static inline int32_t mnet_quant_avg(int32_t sum, int32_t count, int is_signed)
{
    if (is_signed && sum < 0)
        return (sum - count / 2) / count;
    return (sum + count / 2) / count;
}

/* TFLite's round(): half away from zero (std::round). */
float mnet_roundf(float x);

#endif
