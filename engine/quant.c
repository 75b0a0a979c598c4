/* quant.c: TFLite's reference integer arithmetic: multiplier derivations and
 * the gemmlowp fixed-point exp / reciprocal / logistic used by the uint8
 * softmax and logistic kernels.  Written from the published definitions. */
#include "quant.h"

#include <math.h>

#include "graph.h"

float mnet_roundf(float x)
{
    return roundf(x); /* C round(): half away from zero, like std::round */
}

void mnet_quantize_multiplier(double m, int32_t *mult, int *shift)
{
    if (m == 0.0 || !isfinite(m)) {
        *mult = 0;
        *shift = 0;
        return;
    }
    int e;
    double q = frexp(m, &e); /* m = q * 2^e, q in [0.5, 1) */
    int64_t qf = (int64_t)llround(q * (double)(1ll << 31));
    if (qf == (1ll << 31)) { /* rounding carried into the next power of two */
        qf /= 2;
        e++;
    }
    if (e < -31) { /* too small to represent: TFLite flushes to zero */
        e = 0;
        qf = 0;
    }
    *mult = (int32_t)qf;
    *shift = e;
}

int32_t mnet_input_radius(int input_integer_bits, int input_left_shift, int total_signed_bits)
{
    double max_input_rescaled = 1.0 * ((1 << input_integer_bits) - 1) *
                                (double)(1ll << (total_signed_bits - input_integer_bits)) /
                                (double)(1ll << input_left_shift);
    return (int32_t)floor(max_input_rescaled);
}

static int32_t quantize_value(float f, float scale, int32_t zp)
{
    return zp + (int32_t)mnet_roundf(f / scale);
}

void mnet_activation_range_q(int act, float scale, int32_t zp, enum mnet_dtype t, int32_t *lo,
                             int32_t *hi)
{
    int32_t qmin = t == MNET_I8 ? -128 : 0, qmax = t == MNET_I8 ? 127 : 255;
    int32_t a = qmin, b = qmax;
    switch (act) {
    case MNET_ACT_RELU:
        a = quantize_value(0.0f, scale, zp);
        break;
    case MNET_ACT_RELU6:
        a = quantize_value(0.0f, scale, zp);
        b = quantize_value(6.0f, scale, zp);
        break;
    case MNET_ACT_RELU_N1_TO_1:
        a = quantize_value(-1.0f, scale, zp);
        b = quantize_value(1.0f, scale, zp);
        break;
    default:
        break;
    }
    *lo = a > qmin ? a : qmin;
    *hi = b < qmax ? b : qmax;
}

void mnet_quant_add_params(double s_a, double s_b, double s_out, int left_shift,
                           int32_t *a_mult, int32_t *a_shift, int32_t *b_mult,
                           int32_t *b_shift, int32_t *out_mult, int32_t *out_shift)
{
    double twice_max = 2.0 * (s_a > s_b ? s_a : s_b);
    double ra = s_a / twice_max, rb = s_b / twice_max;
    double ro = twice_max / ((double)(1 << left_shift) * s_out);
    int sh;
    mnet_quantize_multiplier(ra, a_mult, &sh);
    *a_shift = sh;
    mnet_quantize_multiplier(rb, b_mult, &sh);
    *b_shift = sh;
    mnet_quantize_multiplier(ro, out_mult, &sh);
    *out_shift = sh;
}

void mnet_quant_softmax_params(double beta, double in_scale, int32_t *input_multiplier,
                               int32_t *input_left_shift, int32_t *diff_min)
{
    const int scaled_diff_integer_bits = 5;
    double real = beta * in_scale * (double)(1ll << (31 - scaled_diff_integer_bits));
    if (real > (double)(1ll << 31) - 1.0)
        real = (double)(1ll << 31) - 1.0;
    int sh;
    mnet_quantize_multiplier(real, input_multiplier, &sh);
    *input_left_shift = sh;
    *diff_min = -mnet_input_radius(scaled_diff_integer_bits, sh, 31);
}

void mnet_quant_logistic_params(double in_scale, int32_t *input_multiplier,
                                int32_t *input_left_shift, int32_t *input_range_radius)
{
    const int input_integer_bits = 4;
    double real = in_scale * (double)(1 << (31 - input_integer_bits));
    int sh;
    mnet_quantize_multiplier(real, input_multiplier, &sh);
    *input_left_shift = sh;
    *input_range_radius = mnet_input_radius(input_integer_bits, sh, 31);
}

static int16_t downscale_q31_to_q15(int32_t m)
{
    if (m >= INT32_MAX - (1 << 15))
        return INT16_MAX;
    return (int16_t)((m + (1 << 15)) >> 16);
}

void mnet_quant_hswish_params(float in_scale, float out_scale, int16_t *reluish_mult,
                              int32_t *reluish_exp, int16_t *out_mult, int32_t *out_exp)
{
    /* float arithmetic on purpose: TFLite computes these in float */
    const float hires_input_scale = (1.0f / 128.0f) * in_scale;
    const float reluish_scale = 3.0f / 32768.0f;
    const float output_multiplier = hires_input_scale / out_scale;
    const float reluish_multiplier = hires_input_scale / reluish_scale;
    int32_t m;
    int e;
    mnet_quantize_multiplier((double)output_multiplier, &m, &e);
    *out_mult = downscale_q31_to_q15(m);
    *out_exp = e;
    mnet_quantize_multiplier((double)reluish_multiplier, &m, &e);
    *reluish_mult = downscale_q31_to_q15(m);
    *reluish_exp = e;
}

/* ---- gemmlowp fixed point (scalar int32) ----
 * A value with k integer bits has raw = real * 2^(31-k). */

static int32_t sat_rounding_mul_pot(int32_t x, int exponent)
{
    if (exponent == 0)
        return x;
    if (exponent < 0)
        return mnet_rdivpot(x, -exponent);
    int32_t threshold = (int32_t)((1ll << (31 - exponent)) - 1);
    if (x > threshold)
        return INT32_MAX;
    if (x < -threshold)
        return INT32_MIN;
    return (int32_t)((uint32_t)x << exponent);
}

static int32_t rounding_half_sum(int32_t a, int32_t b)
{
    int64_t sum = (int64_t)a + b;
    int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/* exp(x) for x in [-1/4, 0), Q0 in and out: Taylor around -1/8. */
static int32_t exp_on_interval_neg_quarter_0(int32_t a)
{
    const int32_t constant_term = 1895147668;  /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    int32_t x = a + (1 << 28);                  /* a + 1/8 */
    int32_t x2 = mnet_srdhm(x, x);
    int32_t x3 = mnet_srdhm(x2, x);
    int32_t x4 = mnet_srdhm(x2, x2);
    int32_t x4_over_4 = sat_rounding_mul_pot(x4, -2);
    int32_t poly = sat_rounding_mul_pot(mnet_srdhm(x4_over_4 + x3, constant_1_over_3) + x2, -1);
    return constant_term + mnet_srdhm(constant_term, x + poly);
}

int32_t mnet_fp_exp_on_negative_values(int32_t a, int integer_bits)
{
    const int frac_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (frac_bits - 2);
    const int32_t mask = one_quarter - 1;
    int32_t a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter;
    int32_t result =
        exp_on_interval_neg_quarter_0(sat_rounding_mul_pot(a_mod_quarter_minus_one_quarter,
                                                           integer_bits));
    int32_t remainder = a_mod_quarter_minus_one_quarter - a;
    /* exp(-2^e) multipliers, e = -2..4, Q0 */
    static const int32_t mults[7] = {1672461947, 1302514674, 790015084, 290630308,
                                     39332535,   720401,     242};
    for (int i = 0; i < 7; i++) {
        int exponent = i - 2;
        if (integer_bits > exponent) {
            int shift_amount = frac_bits + exponent;
            if (remainder & ((int32_t)1 << shift_amount))
                result = mnet_srdhm(result, mults[i]);
        }
    }
    if (integer_bits > 5) {
        int32_t clamp = -((int32_t)1 << (36 - integer_bits)); /* -32.0 */
        if (a < clamp)
            result = 0;
    }
    if (a == 0)
        result = INT32_MAX; /* One() in Q0 */
    return result;
}

int32_t mnet_fp_one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    /* Newton-Raphson on the half denominator; x is Q2 (2 integer bits). */
    int32_t half_denominator = rounding_half_sum(a, INT32_MAX);
    const int32_t c48_17 = 1515870810, cneg32_17 = -1010580540;
    const int32_t one_q2 = (int32_t)1 << 29;
    int32_t x = c48_17 + mnet_srdhm(half_denominator, cneg32_17); /* Q0*Q2 -> Q2 */
    for (int i = 0; i < 3; i++) {
        int32_t hdx = mnet_srdhm(half_denominator, x);         /* Q2 */
        int32_t one_minus = one_q2 - hdx;                       /* Q2 */
        int32_t prod = mnet_srdhm(x, one_minus);                /* Q4 */
        x = x + sat_rounding_mul_pot(prod, 2);                  /* Rescale Q4 -> Q2 */
    }
    /* ExactMulByPot<-1>: Q2 -> Q1 same raw, then Rescale Q1 -> Q0 */
    return sat_rounding_mul_pot(x, 1);
}

int32_t mnet_fp_logistic(int32_t a, int integer_bits)
{
    if (a == 0)
        return 1 << 30; /* 0.5 */
    int32_t abs_a = a > 0 ? a : -a;
    int32_t pos = mnet_fp_one_over_one_plus_x_for_x_in_0_1(
        mnet_fp_exp_on_negative_values(-abs_a, integer_bits));
    return a > 0 ? pos : INT32_MAX - pos;
}
