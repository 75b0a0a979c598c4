/* image.c: JPEG/PNG decode, central crop and resize to a model's input.
 *
 * The pipeline follows TF's "Inception" evaluation preprocessing:
 *   decode -> tf.image.central_crop(fraction) -> resize to (out_h, out_w)
 * with two deliberate differences, both measured in docs/ENGINE.md:
 *   - big JPEGs are decoded at a reduced DCT scale (libjpeg-turbo scaling,
 *     1/8 .. 1) that still leaves the crop at least out_h x out_w, so a 12 MP
 *     photo costs a fraction of a full decode;
 *   - the result is rounded to RGB bytes (what uint8 models take anyway).
 *
 * Hostile input: the pixel count is checked from the header before any pixel
 * buffer exists; every size product is overflow-checked; JPEG warnings
 * (truncated data, corrupt entropy data, bogus progression) stop the decode
 * and are reported as -EBADMSG; progressive JPEGs with more than libjpeg-
 * turbo's scan limit are refused (TJFLAG_LIMITSCANS); 12-bit, lossless and
 * hierarchical JPEGs are -ENOTSUP (found by our own bounded marker walk before
 * libjpeg sees the data).  PNG limits use libspng's image and chunk limits.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spng.h>
#include <turbojpeg.h>

#include "graph.h"
#include "image.h"
#include "mnet.h"

#define DEFAULT_CENTRAL_FRACTION 0.875f

const struct mnet_image_tuning mnet_image_default_tuning = {
    .resize = MNET_RESIZE_BILINEAR_HALF_PIXEL,
    .dct_scaling = 4, /* measured: see docs/ENGINE.md, "Accuracy" */
    .square_crop = 0,
};

const char *mnet_image_format(const void *data, size_t size)
{
    static const uint8_t png_magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    const uint8_t *p = data;

    if (!p)
        return NULL;
    if (size >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        return "jpeg";
    if (size >= sizeof png_magic && memcmp(p, png_magic, sizeof png_magic) == 0)
        return "png";
    return NULL;
}

/* ---- decoded image: packed RGB, possibly at a reduced scale ---- */

struct decoded {
    uint8_t *px;        /* (h, w, 3) */
    int w, h;           /* decoded size */
    int src_w, src_h;   /* size the header declares (crop is computed in these units) */
    double scale;       /* decoded / source, exactly num/denom for DCT scaling */
};

/* TF's central_crop in source pixels:
 *   start = (int)((size - size * fraction) / 2)   (float64, truncated)
 *   len   = size - 2 * start                      (always >= 1) */
static void central_crop(int size, float fraction, int *start, int *len)
{
    double s = (double)size;
    int st = (int)((s - s * (double)fraction) / 2.0);

    *start = st;
    *len = size - 2 * st;
}

/* The crop box: TF's per-axis central crop, or (square) a centred square of
 * fraction * the shorter side, as MLTS's "Inception" preprocessor and the
 * usual "resize 256, crop 224" ImageNet evaluation do. */
static void crop_box(int w, int h, float fraction, int square, int *x, int *cw, int *y, int *ch)
{
    if (square) {
        int side = (int)(fraction * (float)(w < h ? w : h));
        if (side < 1)
            side = 1;
        *cw = *ch = side;
        *x = w / 2 - side / 2;
        *y = h / 2 - side / 2;
        return;
    }
    central_crop(w, fraction, x, cw);
    central_crop(h, fraction, y, ch);
}

/* ---- JPEG ---- */

static uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

/* Walk the markers up to the first frame header and refuse what libjpeg-turbo
 * 2.1 (8-bit build) cannot decode, so that these are -ENOTSUP rather than
 * "corrupt".  Returns 0 when the frame looks decodable or no frame header was
 * found (tjDecompressHeader3 then gives the verdict). */
static int jpeg_check_frame(const uint8_t *p, size_t n, char *err, size_t errlen)
{
    size_t i = 2; /* after SOI */

    while (i + 4 <= n) {
        if (p[i] != 0xff)
            return 0; /* garbage between markers: let libjpeg report it */
        while (i < n && p[i] == 0xff) /* fill bytes */
            i++;
        if (i >= n)
            return 0;
        uint8_t m = p[i++];
        if (m == 0x01 || (m >= 0xd0 && m <= 0xd7))
            continue; /* TEM, RSTn: no length */
        if (m == 0xd8 || m == 0xd9 || m == 0xda)
            return 0; /* SOI again, EOI, SOS: no frame header before it */
        if (i + 2 > n)
            return 0;
        size_t len = be16(p + i);
        if (len < 2 || len > n - i)
            return 0;
        if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
            int sof = m - 0xc0;
            if (len < 8)
                return 0;
            int precision = p[i + 2];
            if (sof == 3 || sof == 7 || sof == 11 || sof == 15)
                return mnet_error(err, errlen, -ENOTSUP, "lossless JPEG (SOF%d) not supported",
                                  sof);
            if (sof == 5 || sof == 6 || sof == 13 || sof == 14)
                return mnet_error(err, errlen, -ENOTSUP,
                                  "hierarchical JPEG (SOF%d) not supported", sof);
            if (precision != 8)
                return mnet_error(err, errlen, -ENOTSUP, "%d-bit JPEG not supported (8-bit only)",
                                  precision);
            return 0;
        }
        i += len;
    }
    return 0;
}

/* Adobe (inverted) CMYK as libjpeg hands it over: 255 means no ink, so
 * R = C * K / 255 (the same formula libjpeg-turbo's own tools use). */
static void cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, size_t npix)
{
    for (size_t i = 0; i < npix; i++) {
        unsigned c = cmyk[4 * i], m = cmyk[4 * i + 1], y = cmyk[4 * i + 2], k = cmyk[4 * i + 3];
        rgb[3 * i + 0] = (uint8_t)((c * k + 127) / 255);
        rgb[3 * i + 1] = (uint8_t)((m * k + 127) / 255);
        rgb[3 * i + 2] = (uint8_t)((y * k + 127) / 255);
    }
}

static int decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels, float fraction,
                       int square, int out_h, int out_w, int dct_scaling, struct decoded *d,
                       char *err, size_t errlen)
{
    int rc = jpeg_check_frame(data, size, err, errlen);
    if (rc < 0)
        return rc;
    if (size > ULONG_MAX)
        return mnet_error(err, errlen, -EFBIG, "JPEG too large");

    tjhandle tj = tjInitDecompress();
    if (!tj)
        return mnet_error(err, errlen, -ENOMEM, "cannot create a JPEG decoder");

    uint8_t *buf = NULL, *cmyk = NULL;
    /* TurboJPEG 2.1 returns success and leaves the outputs unset when the
     * data ends before the frame header ("Premature end of JPEG file"), so
     * they start invalid and are checked. */
    int w = 0, h = 0, subsamp = -1, colorspace = -1;
    if (tjDecompressHeader3(tj, data, (unsigned long)size, &w, &h, &subsamp, &colorspace) != 0) {
        rc = mnet_error(err, errlen, -EBADMSG, "corrupt JPEG header: %s", tjGetErrorStr2(tj));
        goto out;
    }
    if (w <= 0 || h <= 0 || colorspace < 0) {
        rc = mnet_error(err, errlen, -EBADMSG, "truncated or corrupt JPEG header: %s",
                        tjGetErrorStr2(tj));
        goto out;
    }
    if (max_pixels && (uint64_t)w * (uint64_t)h > max_pixels) {
        rc = mnet_error(err, errlen, -EFBIG, "JPEG is %dx%d, over the limit of %llu pixels", w, h,
                        (unsigned long long)max_pixels);
        goto out;
    }

    /* Smallest DCT scale (<= 1) at which the crop is still at least
     * dct_scaling times the output, so that the resize only shrinks. */
    int crop_x, crop_w, crop_y, crop_h;
    crop_box(w, h, fraction, square, &crop_x, &crop_w, &crop_y, &crop_h);
    tjscalingfactor best = { 1, 1 };
    if (dct_scaling) {
        int nsf = 0;
        tjscalingfactor *sf = tjGetScalingFactors(&nsf);
        for (int i = 0; sf && i < nsf; i++) {
            if (sf[i].num <= 0 || sf[i].denom <= 0 || sf[i].num > sf[i].denom)
                continue;
            /* crop * num / denom >= ratio * out, in integers */
            int64_t r = dct_scaling;
            int ok = (int64_t)crop_w * sf[i].num >= r * out_w * sf[i].denom &&
                     (int64_t)crop_h * sf[i].num >= r * out_h * sf[i].denom;
            if (ok && (int64_t)sf[i].num * best.denom < (int64_t)best.num * sf[i].denom)
                best = sf[i];
        }
    }
    int sw = TJSCALED(w, best), sh = TJSCALED(h, best);
    if (sw <= 0 || sh <= 0) {
        rc = mnet_error(err, errlen, -EBADMSG, "JPEG scaled to nothing");
        goto out;
    }

    int is_cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
    int pf = is_cmyk ? TJPF_CMYK : TJPF_RGB;
    int bpp = tjPixelSize[pf];
    size_t npix, rgb_bytes, dec_bytes, pitch;
    if (__builtin_mul_overflow((size_t)sw, (size_t)sh, &npix) ||
        __builtin_mul_overflow(npix, (size_t)3, &rgb_bytes) ||
        __builtin_mul_overflow(npix, (size_t)bpp, &dec_bytes) ||
        __builtin_mul_overflow((size_t)sw, (size_t)bpp, &pitch) || pitch > INT_MAX) {
        rc = mnet_error(err, errlen, -EFBIG, "JPEG of %dx%d is too large to decode", w, h);
        goto out;
    }
    buf = malloc(rgb_bytes);
    if (is_cmyk)
        cmyk = malloc(dec_bytes);
    if (!buf || (is_cmyk && !cmyk)) {
        rc = mnet_error(err, errlen, -ENOMEM, "out of memory decoding a %dx%d JPEG", sw, sh);
        goto out;
    }
    /* STOPONWARNING: a truncated or corrupt stream is refused instead of
     * being classified with grey padding.  LIMITSCANS: progressive files with
     * an absurd number of scans are refused before they burn CPU. */
    int flags = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS | TJFLAG_ACCURATEDCT;
    if (tjDecompress2(tj, data, (unsigned long)size, is_cmyk ? cmyk : buf, sw, (int)pitch, sh, pf,
                      flags) != 0) {
        int fatal = tjGetErrorCode(tj) == TJERR_FATAL;
        rc = mnet_error(err, errlen, -EBADMSG, "%s JPEG: %s",
                        fatal ? "corrupt" : "corrupt or truncated", tjGetErrorStr2(tj));
        goto out;
    }
    if (is_cmyk)
        cmyk_to_rgb(cmyk, buf, npix);

    d->px = buf;
    buf = NULL;
    d->w = sw;
    d->h = sh;
    d->src_w = w;
    d->src_h = h;
    d->scale = (double)best.num / (double)best.denom;
    rc = 0;
out:
    free(buf);
    free(cmyk);
    tjDestroy(tj);
    return rc;
}

/* ---- PNG ---- */

static int decode_png(const uint8_t *data, size_t size, uint64_t max_pixels, struct decoded *d,
                      char *err, size_t errlen)
{
    spng_ctx *ctx = spng_ctx_new(0);
    if (!ctx)
        return mnet_error(err, errlen, -ENOMEM, "cannot create a PNG decoder");

    uint8_t *buf = NULL;
    int rc, e;
    /* Per-side limit first (spng refuses before allocating), then the product. */
    uint32_t side = 0x7fffffffu;
    if (max_pixels && max_pixels < side)
        side = (uint32_t)max_pixels;
    /* Ancillary chunks are not used; bound what spng may buffer for them
     * (the limits do not apply to IDAT; spng wants chunk <= cache). */
    if ((e = spng_set_image_limits(ctx, side, side)) ||
        (e = spng_set_chunk_limits(ctx, 8u << 20, 16u << 20)) ||
        (e = spng_set_png_buffer(ctx, data, size))) {
        rc = mnet_error(err, errlen, -EINVAL, "PNG decoder setup: %s", spng_strerror(e));
        goto out;
    }
    struct spng_ihdr ihdr;
    if ((e = spng_get_ihdr(ctx, &ihdr))) {
        if (e == SPNG_EUSER_WIDTH || e == SPNG_EUSER_HEIGHT)
            rc = mnet_error(err, errlen, -EFBIG, "PNG side over the limit of %llu pixels",
                            (unsigned long long)max_pixels);
        else
            rc = mnet_error(err, errlen, -EBADMSG, "corrupt PNG: %s", spng_strerror(e));
        goto out;
    }
    if (ihdr.width == 0 || ihdr.height == 0 || ihdr.width > INT_MAX || ihdr.height > INT_MAX) {
        rc = mnet_error(err, errlen, -EBADMSG, "PNG with a bad size");
        goto out;
    }
    if (max_pixels && (uint64_t)ihdr.width * ihdr.height > max_pixels) {
        rc = mnet_error(err, errlen, -EFBIG, "PNG is %ux%u, over the limit of %llu pixels",
                        (unsigned)ihdr.width, (unsigned)ihdr.height,
                        (unsigned long long)max_pixels);
        goto out;
    }
    size_t len, want;
    if (__builtin_mul_overflow((size_t)ihdr.width, (size_t)ihdr.height, &want) ||
        __builtin_mul_overflow(want, (size_t)3, &want)) {
        rc = mnet_error(err, errlen, -EFBIG, "PNG too large");
        goto out;
    }
    if ((e = spng_decoded_image_size(ctx, SPNG_FMT_RGB8, &len))) {
        rc = mnet_error(err, errlen, e == SPNG_EOVERFLOW ? -EFBIG : -EBADMSG, "PNG: %s",
                        spng_strerror(e));
        goto out;
    }
    if (len != want) {
        rc = mnet_error(err, errlen, -EBADMSG, "PNG: unexpected decoded size");
        goto out;
    }
    buf = malloc(len);
    if (!buf) {
        rc = mnet_error(err, errlen, -ENOMEM, "out of memory decoding a %ux%u PNG",
                        (unsigned)ihdr.width, (unsigned)ihdr.height);
        goto out;
    }
    /* RGB8: greyscale expanded, palette looked up, 16-bit reduced to 8, alpha
     * dropped (as tf.io.decode_png(channels=3) does); no gamma applied. */
    if ((e = spng_decode_image(ctx, buf, len, SPNG_FMT_RGB8, 0))) {
        rc = mnet_error(err, errlen, -EBADMSG, "corrupt PNG: %s", spng_strerror(e));
        goto out;
    }
    d->px = buf;
    buf = NULL;
    d->w = d->src_w = (int)ihdr.width;
    d->h = d->src_h = (int)ihdr.height;
    d->scale = 1.0;
    rc = 0;
out:
    free(buf);
    spng_ctx_free(ctx);
    return rc;
}

/* ---- crop + resize ---- */

/* One output coordinate is a weighted sum of n taps (source indices); an
 * output with fewer taps has the rest at weight 0, so that every output has
 * the same count and the passes below are plain loops. */
struct taps {
    int n;
    int *idx; /* (out, n) */
    float *w; /* (out, n) */
};

static void taps_free(struct taps *t)
{
    free(t->idx);
    free(t->w);
}

static int clampi(long v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : (int)v; }

/* Taps along one axis.  The crop window is [x0, x0 + len) in decoded pixel
 * edge coordinates (pixel j spans [j, j + 1)); lo..hi are the decoded pixels
 * that window touches (taps are clamped to them, like resizing the cropped
 * tensor).  When the decode is not scaled, x0 and len are integers and this is
 * exactly TF's resize of the cropped tensor. */
static int make_taps(enum mnet_resize mode, int out, double x0, double len, int lo, int hi,
                     struct taps *t)
{
    /* an area output overlaps at most ceil(len / out) + 1 pixels */
    if (mode == MNET_RESIZE_AREA && len / out > INT_MAX - 3)
        return -ENOMEM;
    int n = mode == MNET_RESIZE_AREA ? (int)ceil(len / out) + 2 : 2;
    t->n = n;
    t->idx = malloc((size_t)out * n * sizeof *t->idx);
    t->w = malloc((size_t)out * n * sizeof *t->w);
    if (!t->idx || !t->w)
        return -ENOMEM;

    double scale = len / out;
    for (int i = 0; i < out; i++) {
        int *idx = t->idx + (size_t)i * n;
        float *w = t->w + (size_t)i * n;
        int k = 0;
        if (mode == MNET_RESIZE_AREA) {
            double a = x0 + i * scale, b = x0 + (i + 1) * scale; /* decoded edges */
            long j0 = (long)floor(a), j1 = (long)ceil(b);
            for (long j = j0; j < j1 && k < n; j++) {
                double ov = fmin(b, (double)j + 1) - fmax(a, (double)j);
                if (ov <= 0)
                    continue;
                idx[k] = clampi(j, lo, hi);
                w[k++] = (float)(ov / scale);
            }
            if (k == 0) { /* degenerate: nearest pixel */
                idx[k] = clampi((long)floor(a), lo, hi);
                w[k++] = 1.0f;
            }
        } else {
            double u; /* crop-relative sample position in pixel-index space */
            if (mode == MNET_RESIZE_BILINEAR_HALF_PIXEL)
                u = (i + 0.5) * scale - 0.5;
            else if (mode == MNET_RESIZE_BILINEAR_TF1)
                u = i * scale;
            else
                u = out > 1 ? i * (len - 1) / (out - 1) : 0.0;
            u += x0;
            double f = floor(u);
            double frac = u - f;
            idx[k] = clampi((long)f, lo, hi);
            w[k++] = (float)(1.0 - frac);
            idx[k] = clampi((long)f + 1, lo, hi);
            w[k++] = (float)frac;
        }
        for (; k < n; k++) { /* adding 0 * pixel changes no sum */
            idx[k] = lo;
            w[k] = 0.0f;
        }
    }
    return 0;
}

/* Resizes straight into rgb; fails (out of memory) only before writing to it. */
static int crop_resize(const struct decoded *d, float fraction, int square, enum mnet_resize mode,
                       int out_h, int out_w, uint8_t *rgb)
{
    int cx, cw, cy, ch;
    crop_box(d->src_w, d->src_h, fraction, square, &cx, &cw, &cy, &ch);

    /* The window in decoded coordinates, and the decoded pixels it touches. */
    double x0 = cx * d->scale, xl = cw * d->scale;
    double y0 = cy * d->scale, yl = ch * d->scale;
    int xlo = clampi((long)floor(x0), 0, d->w - 1);
    int xhi = clampi((long)ceil(x0 + xl) - 1, xlo, d->w - 1);
    int ylo = clampi((long)floor(y0), 0, d->h - 1);
    int yhi = clampi((long)ceil(y0 + yl) - 1, ylo, d->h - 1);

    struct taps tx = { 0 }, ty = { 0 };
    int *hoff = NULL;
    float *hw = NULL, *row = NULL, *acc = NULL;
    int rc = -ENOMEM;
    if (make_taps(mode, out_w, x0, xl, xlo, xhi, &tx) ||
        make_taps(mode, out_h, y0, yl, ylo, yhi, &ty))
        goto out;
    /* The horizontal taps per output value e = 3 * ox + c, tap-major, so that
     * the horizontal pass is a plain loop over arrays that the compiler
     * vectorizes (reading the row as a gather), as it does the vertical one. */
    int nt = tx.n;
    size_t ne = (size_t)out_w * 3, nrow = (size_t)(xhi - xlo + 1) * 3;
    hoff = malloc((size_t)nt * ne * sizeof *hoff); /* (nt, out_w, 3) */
    hw = malloc((size_t)nt * ne * sizeof *hw);     /* (nt, out_w, 3) */
    row = malloc(nrow * sizeof *row);              /* (touched columns, 3) */
    acc = malloc(ne * sizeof *acc);                /* (out_w, 3) */
    if (!hoff || !hw || !row || !acc)
        goto out;
    for (int s = 0; s < nt; s++)
        for (int ox = 0; ox < out_w; ox++)
            for (int c = 0; c < 3; c++) {
                size_t e = (size_t)s * ne + (size_t)ox * 3 + c;
                hoff[e] = (tx.idx[(size_t)ox * nt + s] - xlo) * 3 + c;
                hw[e] = tx.w[(size_t)ox * nt + s];
            }
    /* One output row at a time: vertical pass over the touched columns, then
     * horizontal; every sum adds its taps in order from 0. */
    for (int oy = 0; oy < out_h; oy++) {
        memset(row, 0, nrow * sizeof *row);
        for (int k = 0; k < ty.n; k++) {
            float wk = ty.w[(size_t)oy * ty.n + k];
            if (wk == 0.0f)
                continue;
            const uint8_t *src = d->px + ((size_t)ty.idx[(size_t)oy * ty.n + k] * d->w + xlo) * 3;
            for (size_t i = 0; i < nrow; i++)
                row[i] += wk * src[i];
        }
        memset(acc, 0, ne * sizeof *acc);
        for (int s = 0; s < nt; s++) {
            const int *off = hoff + (size_t)s * ne;
            const float *w = hw + (size_t)s * ne;
            for (size_t e = 0; e < ne; e++)
                acc[e] += w[e] * row[off[e]];
        }
        uint8_t *dst = rgb + (size_t)oy * ne;
        for (size_t e = 0; e < ne; e++) {
            /* round half up and saturate; a pixel's weights sum to about 1, so
             * the value is near 0..255 and its int conversion defined */
            int q = (int)(acc[e] + 0.5f);
            q = q < 0 ? 0 : q;
            dst[e] = (uint8_t)(q > 255 ? 255 : q);
        }
    }
    rc = 0;
out:
    taps_free(&tx);
    taps_free(&ty);
    free(hoff);
    free(hw);
    free(row);
    free(acc);
    return rc;
}

int mnet_image_prepare_tuned(const void *data, size_t size, const struct mnet_image_options *opt,
                             const struct mnet_image_tuning *tuning, int out_h, int out_w,
                             uint8_t *rgb, char *err, size_t errlen)
{
    if (!tuning)
        tuning = &mnet_image_default_tuning;
    if ((!data && size) || !rgb || out_h <= 0 || out_w <= 0 || out_h > MNET_IMAGE_MAX_SIDE ||
        out_w > MNET_IMAGE_MAX_SIDE)
        return mnet_error(err, errlen, -EINVAL, "bad image arguments");
    if ((unsigned)tuning->resize > MNET_RESIZE_AREA)
        return mnet_error(err, errlen, -EINVAL, "bad resize mode");

    float fraction = opt ? opt->central_fraction : 0.0f;
    uint64_t max_pixels = opt ? opt->max_pixels : 0;
    if (fraction == 0.0f)
        fraction = DEFAULT_CENTRAL_FRACTION;
    if (!(fraction > 0.0f && fraction <= 1.0f)) /* also NaN */
        return mnet_error(err, errlen, -EINVAL, "central crop fraction must be in (0, 1]");

    const char *fmt = mnet_image_format(data, size);
    if (!fmt)
        return mnet_error(err, errlen, -ENOTSUP, size ? "not a JPEG or PNG image" : "empty image");

    struct decoded d = { 0 };
    int rc;
    if (fmt[0] == 'j')
        rc = decode_jpeg(data, size, max_pixels, fraction, tuning->square_crop, out_h, out_w,
                         tuning->dct_scaling, &d,
                         err, errlen);
    else
        rc = decode_png(data, size, max_pixels, &d, err, errlen);
    if (rc < 0)
        return rc;

    /* rgb stays untouched on failure: crop_resize fails before writing it */
    rc = crop_resize(&d, fraction, tuning->square_crop, tuning->resize, out_h, out_w, rgb);
    free(d.px);
    if (rc < 0)
        return mnet_error(err, errlen, rc, "out of memory resizing");
    return 0;
}

int mnet_image_prepare(const void *data, size_t size, const struct mnet_image_options *opt,
                       int out_h, int out_w, uint8_t *rgb, char *err, size_t errlen)
{
    return mnet_image_prepare_tuned(data, size, opt, NULL, out_h, out_w, rgb, err, errlen);
}
