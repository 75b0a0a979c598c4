/* image.h: internal knobs of the image preprocessing (engine/image.c).
 *
 * mnet_image_prepare (mnet.h) is the public entry point and always uses the
 * defaults below.  mnet_image_prepare_tuned exists so that mnet-eval and the
 * tests can measure preprocessing variants (resize filter, DCT scaling) against
 * the labelled photos; the numbers are in docs/ENGINE.md ("Accuracy").
 *
 * Thread-safety: both functions keep no state between calls and are safe from
 * any number of threads.  Errors as mnet_image_prepare.
 */
#ifndef MNET_IMAGE_H
#define MNET_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "mnet.h"

enum mnet_resize {
    /* tf.image.resize(method="bilinear") in TF2 == resize_bilinear with
     * half_pixel_centers=True: sample at (x + 0.5) * in / out - 0.5. */
    MNET_RESIZE_BILINEAR_HALF_PIXEL,
    /* TF1 tf.image.resize_bilinear defaults (align_corners=False,
     * half_pixel_centers=False): sample at x * in / out.  This is what the
     * "Inception" preprocessing of the TF1 slim models ran. */
    MNET_RESIZE_BILINEAR_TF1,
    /* align_corners=True: sample at x * (in - 1) / (out - 1). */
    MNET_RESIZE_BILINEAR_ALIGN_CORNERS,
    /* tf.image.resize_area: box filter, each output pixel the mean of the
     * source area it covers. */
    MNET_RESIZE_AREA,
};

struct mnet_image_tuning {
    enum mnet_resize resize;
    int dct_scaling;  /* 0: decode JPEGs at full size; N >= 1: at the smallest DCT
                       * scale (1/8 .. 1) leaving the crop >= N x the output */
    int square_crop;  /* 0: tf.image.central_crop (fraction of each side);
                       * 1: centred square of fraction * the shorter side
                       *    (aspect kept; MLTS's "Inception" preprocessor) */
};

/* The defaults mnet_image_prepare uses. */
extern const struct mnet_image_tuning mnet_image_default_tuning;

/* mnet_image_prepare with explicit tuning (NULL = the defaults). */
int mnet_image_prepare_tuned(const void *data, size_t size, const struct mnet_image_options *opt,
                             const struct mnet_image_tuning *tuning, int out_h, int out_w,
                             uint8_t *rgb, char *err, size_t errlen);

/* Largest out_h / out_w accepted (a model input is at most this big). */
#define MNET_IMAGE_MAX_SIDE 4096

#endif
