/* test_image: mnet_image_prepare against independent truth.
 *
 * - crop + resize against a naive double-precision implementation of TF's
 *   central_crop + resize formulas, on a lossless PNG decoded by libspng
 *   directly (and on a JPEG decoded by TurboJPEG directly, DCT scaling off);
 * - identity resizes of PNGs written here by libspng's encoder (grey, palette,
 *   16-bit, RGBA, interlaced) must give back the exact pixels;
 * - grey and CMYK JPEGs written here by TurboJPEG, arithmetic-coded JPEG by
 *   libjpeg; 12-bit / lossless frame headers refused with -ENOTSUP;
 * - hostile input: a JPEG/PNG header declaring 65500x65500 (-EFBIG, fast),
 *   truncation at many lengths, random bit flips, empty and non-image bytes,
 *   a progressive JPEG with ~2000 valid scans (refused fast).
 * Needs $MNET_SHARED/testdata/samples; missing data fails the test.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jpeglib.h>
#include <spng.h>
#include <turbojpeg.h>

#include "image.h"
#include "mnet.h"
#include "check.h"


/* CPU seconds of this process: the time limits below must not depend on
 * how busy the machine is. */
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static char shared[4096];

static uint8_t *sample(const char *name, size_t *len)
{
    char p[8192];
    snprintf(p, sizeof p, "%s/testdata/samples/%s", shared, name);
    uint8_t *b = check_read_file(p, len);
    CHECK(b != NULL, "cannot read %s", p);
    return b;
}

/* ---- independent reference: TF central_crop + resize, in double ---- */

struct img {
    int w, h;
    uint8_t *px; /* (h, w, 3) */
};

static double px_at(const struct img *im, int x, int y, int c)
{
    return im->px[((size_t)y * im->w + x) * 3 + c];
}

/* tf.image.central_crop: start = int((n - n * f) / 2), size = n - 2 * start */
static void ref_crop(int n, double f, int *start, int *size)
{
    *start = (int)((n - n * f) / 2);
    *size = n - 2 * *start;
}

/* Resize the (cw, ch) crop at (cx, cy) to (ow, oh), one pixel at a time. */
static void ref_resize(const struct img *im, double frac, int square, enum mnet_resize mode, int ow,
                       int oh, double *out)
{
    int cx, cw, cy, ch;
    ref_crop(im->w, frac, &cx, &cw);
    ref_crop(im->h, frac, &cy, &ch);
    if (square) { /* MLTS: side = (int)(0.875f * min(w, h)), x = w / 2 - side / 2 */
        int side = (int)((float)frac * (float)(im->w < im->h ? im->w : im->h));
        cw = ch = side;
        cx = im->w / 2 - side / 2;
        cy = im->h / 2 - side / 2;
    }
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++)
            for (int c = 0; c < 3; c++) {
                double v = 0;
                if (mode == MNET_RESIZE_AREA) {
                    /* integrate the crop over the output pixel's footprint */
                    double sx = (double)cw / ow, sy = (double)ch / oh;
                    double ax = x * sx, bx = (x + 1) * sx, ay = y * sy, by = (y + 1) * sy;
                    for (int j = (int)floor(ay); j < (int)ceil(by); j++)
                        for (int i = (int)floor(ax); i < (int)ceil(bx); i++) {
                            double wx = fmin(bx, i + 1) - fmax(ax, i);
                            double wy = fmin(by, j + 1) - fmax(ay, j);
                            int ii = i < cw ? i : cw - 1, jj = j < ch ? j : ch - 1;
                            v += wx * wy * px_at(im, cx + ii, cy + jj, c);
                        }
                    v /= sx * sy;
                } else {
                    double u, t;
                    if (mode == MNET_RESIZE_BILINEAR_HALF_PIXEL) {
                        u = (x + 0.5) * cw / ow - 0.5;
                        t = (y + 0.5) * ch / oh - 0.5;
                    } else if (mode == MNET_RESIZE_BILINEAR_TF1) {
                        u = (double)x * cw / ow;
                        t = (double)y * ch / oh;
                    } else {
                        u = ow > 1 ? (double)x * (cw - 1) / (ow - 1) : 0;
                        t = oh > 1 ? (double)y * (ch - 1) / (oh - 1) : 0;
                    }
                    int x0 = (int)floor(u), y0 = (int)floor(t);
                    double fx = u - x0, fy = t - y0;
#define CL(a, n) ((a) < 0 ? 0 : (a) >= (n) ? (n) - 1 : (a))
                    int xa = CL(x0, cw), xb = CL(x0 + 1, cw), ya = CL(y0, ch), yb = CL(y0 + 1, ch);
                    double top = px_at(im, cx + xa, cy + ya, c) * (1 - fx) +
                                 px_at(im, cx + xb, cy + ya, c) * fx;
                    double bot = px_at(im, cx + xa, cy + yb, c) * (1 - fx) +
                                 px_at(im, cx + xb, cy + yb, c) * fx;
                    v = top * (1 - fy) + bot * fy;
                }
                out[((size_t)y * ow + x) * 3 + c] = v;
            }
}

static int decode_png_ref(const uint8_t *data, size_t len, struct img *im)
{
    spng_ctx *ctx = spng_ctx_new(0);
    struct spng_ihdr ihdr;
    size_t n;
    int rc = -1;
    if (spng_set_png_buffer(ctx, data, len) || spng_get_ihdr(ctx, &ihdr) ||
        spng_decoded_image_size(ctx, SPNG_FMT_RGB8, &n))
        goto out;
    im->px = malloc(n);
    if (!im->px || spng_decode_image(ctx, im->px, n, SPNG_FMT_RGB8, 0))
        goto out;
    im->w = (int)ihdr.width;
    im->h = (int)ihdr.height;
    rc = 0;
out:
    spng_ctx_free(ctx);
    return rc;
}

static int decode_jpeg_ref(const uint8_t *data, size_t len, struct img *im)
{
    tjhandle tj = tjInitDecompress();
    int w, h, ss, cs, rc = -1;
    if (tjDecompressHeader3(tj, data, len, &w, &h, &ss, &cs) == 0) {
        im->px = malloc((size_t)w * h * 3);
        if (im->px && tjDecompress2(tj, data, len, im->px, w, 0, h, TJPF_RGB, TJFLAG_ACCURATEDCT) == 0) {
            im->w = w;
            im->h = h;
            rc = 0;
        }
    }
    tjDestroy(tj);
    return rc;
}

/* Compare prepare_tuned against the reference; returns max abs difference. */
static double compare_ref(const uint8_t *data, size_t len, const struct img *im, float frac,
                          int square, enum mnet_resize mode, int dct, int ow, int oh, double *mean)
{
    struct mnet_image_options o = { .central_fraction = frac };
    struct mnet_image_tuning t = { .resize = mode, .dct_scaling = dct, .square_crop = square };
    uint8_t *got = malloc((size_t)ow * oh * 3);
    double *want = malloc(sizeof(double) * ow * oh * 3);
    char err[256] = "";
    int rc = mnet_image_prepare_tuned(data, len, &o, &t, oh, ow, got, err, sizeof err);
    CHECK(rc == 0, "prepare: %d %s", rc, err);
    double maxd = 0, sum = 0;
    if (rc == 0) {
        ref_resize(im, frac, square, mode, ow, oh, want);
        for (size_t i = 0; i < (size_t)ow * oh * 3; i++) {
            double d = fabs(got[i] - want[i]);
            sum += d;
            if (d > maxd)
                maxd = d;
        }
    }
    if (mean)
        *mean = sum / ((double)ow * oh * 3);
    free(got);
    free(want);
    return rc == 0 ? maxd : 1e9;
}

static void test_reference_png(void)
{
    size_t len;
    uint8_t *png = sample("grace_hopper.png", &len);
    struct img im = { 0 };
    if (!png)
        return;
    CHECK(decode_png_ref(png, len, &im) == 0, "libspng cannot decode grace_hopper.png");
    static const float fracs[] = { 0.875f, 1.0f, 0.5f, 0.33f };
    static const int sizes[][2] = { { 224, 224 }, { 128, 128 }, { 7, 13 }, { 1, 1 }, { 600, 333 } };
    for (int sq = 0; sq < 2; sq++)
        for (int m = 0; m <= MNET_RESIZE_AREA; m++)
            for (size_t f = 0; f < sizeof fracs / sizeof *fracs; f++)
                for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
                    double mean;
                    double d = compare_ref(png, len, &im, fracs[f], sq, (enum mnet_resize)m, 1,
                                           sizes[s][0], sizes[s][1], &mean);
                    /* float32 accumulation, then round: at most one unit off */
                    CHECK(d <= 0.5001 + 0.5, "square %d mode %d frac %g %dx%d: max diff %g", sq, m,
                          (double)fracs[f], sizes[s][0], sizes[s][1], d);
                }
    free(im.px);
    free(png);
}

static uint8_t *encode_png(const uint8_t *img, int w, int h, int color_type, int depth,
                           int interlace, const struct spng_plte *plte, size_t *len)
{
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    struct spng_ihdr ihdr = { .width = (uint32_t)w, .height = (uint32_t)h, .bit_depth = (uint8_t)depth,
                              .color_type = (uint8_t)color_type,
                              .interlace_method = (uint8_t)interlace };
    int ch = color_type == SPNG_COLOR_TYPE_GRAYSCALE ? 1 : color_type == SPNG_COLOR_TYPE_INDEXED ? 1
             : color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA ? 4 : 3;
    size_t bytes = (size_t)w * h * ch * (depth / 8);
    int e, err;
    spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    spng_set_ihdr(ctx, &ihdr);
    if (plte)
        spng_set_plte(ctx, (struct spng_plte *)plte);
    e = spng_encode_image(ctx, img, bytes, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
    uint8_t *out = e ? NULL : spng_get_png_buffer(ctx, len, &err);
    CHECK(out != NULL, "spng encode: %s", spng_strerror(e));
    spng_ctx_free(ctx);
    return out;
}

/* Hand-computed: a 4x4 image; central crop 0.5 keeps the middle 2x2 (start
 * int((4 - 2) / 2) = 1).  Resized to 1x1, half-pixel centres sample the middle
 * of that square (the mean of its four pixels), TF1 samples its top-left
 * pixel, area averages it. */
static void test_hand_computed(void)
{
    uint8_t img[4 * 4 * 3] = { 0 };
    static const uint8_t mid[4] = { 10, 20, 30, 41 }; /* (1,1) (2,1) (1,2) (2,2) */
    for (int k = 0; k < 4; k++)
        for (int c = 0; c < 3; c++)
            img[((1 + k / 2) * 4 + 1 + k % 2) * 3 + c] = (uint8_t)(mid[k] + c);
    size_t len;
    uint8_t *png = encode_png(img, 4, 4, SPNG_COLOR_TYPE_TRUECOLOR, 8, 0, NULL, &len);
    if (!png)
        return;
    struct mnet_image_options o = { .central_fraction = 0.5f };
    static const struct { enum mnet_resize mode; int want; } cases[] = {
        { MNET_RESIZE_BILINEAR_HALF_PIXEL, 25 }, /* (10 + 20 + 30 + 41) / 4 = 25.25 */
        { MNET_RESIZE_BILINEAR_TF1, 10 },
        { MNET_RESIZE_AREA, 25 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct mnet_image_tuning t = { .resize = cases[i].mode, .dct_scaling = 1 };
        uint8_t out[3];
        char err[256];
        int rc = mnet_image_prepare_tuned(png, len, &o, &t, 1, 1, out, err, sizeof err);
        CHECK(rc == 0 && out[0] == cases[i].want && out[1] == cases[i].want + 1 &&
              out[2] == cases[i].want + 2, "4x4 mode %d: %d -> %d %d %d", cases[i].mode, rc,
              out[0], out[1], out[2]);
    }
    free(png);
}

static void test_png_formats(void)
{
    enum { W = 37, H = 23 };
    uint8_t rgb[W * H * 3], rgba[W * H * 4], grey[W * H], idx[W * H], rgb16[W * H * 6];
    struct spng_plte plte = { .n_entries = 16 };
    for (int i = 0; i < 16; i++) {
        plte.entries[i].red = (uint8_t)(i * 16);
        plte.entries[i].green = (uint8_t)(255 - i * 16);
        plte.entries[i].blue = (uint8_t)(i * 7);
    }
    for (int i = 0; i < W * H; i++) {
        for (int c = 0; c < 3; c++) {
            rgb[3 * i + c] = (uint8_t)rnd();
            rgba[4 * i + c] = rgb[3 * i + c];
            /* spng takes SPNG_FMT_PNG samples host-endian (little here) */
            rgb16[6 * i + 2 * c + 1] = rgb[3 * i + c];
            rgb16[6 * i + 2 * c] = (uint8_t)rnd();
        }
        rgba[4 * i + 3] = (uint8_t)rnd(); /* alpha is dropped, not applied */
        grey[i] = (uint8_t)rnd();
        idx[i] = (uint8_t)(rnd() % 16);
    }
    struct mnet_image_options o = { .central_fraction = 1.0f };
    uint8_t out[W * H * 3];
    char err[256];
    struct {
        const char *name;
        const uint8_t *img;
        int ct, depth, interlace;
    } cases[] = {
        { "rgb8", rgb, SPNG_COLOR_TYPE_TRUECOLOR, 8, 0 },
        { "rgb8 interlaced", rgb, SPNG_COLOR_TYPE_TRUECOLOR, 8, 1 },
        { "rgba8", rgba, SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, 8, 0 },
        { "rgb16", rgb16, SPNG_COLOR_TYPE_TRUECOLOR, 16, 0 },
        { "grey8", grey, SPNG_COLOR_TYPE_GRAYSCALE, 8, 0 },
        { "palette", idx, SPNG_COLOR_TYPE_INDEXED, 8, 0 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        size_t len = 0;
        uint8_t *png = encode_png(cases[k].img, W, H, cases[k].ct, cases[k].depth,
                                  cases[k].interlace, cases[k].ct == SPNG_COLOR_TYPE_INDEXED ? &plte : NULL,
                                  &len);
        if (!png)
            continue;
        int rc = mnet_image_prepare(png, len, &o, H, W, out, err, sizeof err);
        CHECK(rc == 0, "%s: %d %s", cases[k].name, rc, err);
        int bad = 0;
        for (int i = 0; i < W * H && !rc; i++)
            for (int c = 0; c < 3; c++) {
                int want;
                if (cases[k].ct == SPNG_COLOR_TYPE_GRAYSCALE)
                    want = grey[i];
                else if (cases[k].ct == SPNG_COLOR_TYPE_INDEXED)
                    want = c == 0 ? plte.entries[idx[i]].red
                           : c == 1 ? plte.entries[idx[i]].green : plte.entries[idx[i]].blue;
                else
                    want = rgb[3 * i + c];
                bad += out[3 * i + c] != want;
            }
        CHECK(bad == 0, "%s: identity resize changed %d values", cases[k].name, bad);
        free(png);
    }
}

/* ---- JPEG writers ---- */

static uint8_t *tj_encode(const uint8_t *px, int w, int h, int pf, int subsamp, int flags,
                          unsigned long *len)
{
    tjhandle tj = tjInitCompress();
    uint8_t *out = NULL;
    *len = 0;
    int rc = tjCompress2(tj, px, w, 0, h, pf, &out, len, subsamp, 95, flags);
    CHECK(rc == 0, "tjCompress2: %s", tjGetErrorStr2(tj));
    tjDestroy(tj);
    return rc == 0 ? out : NULL;
}

static void test_grey_cmyk(void)
{
    enum { W = 64, H = 48 };
    uint8_t grey[W * H], rgb[W * H * 3], cmyk[W * H * 4], out[W * H * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int i = y * W + x;
            grey[i] = (uint8_t)(x * 4);
            /* smooth colours so JPEG loss stays small */
            int r = 40 + x * 3, g = 200 - y * 3, b = 100 + (x + y);
            rgb[3 * i] = (uint8_t)r;
            rgb[3 * i + 1] = (uint8_t)g;
            rgb[3 * i + 2] = (uint8_t)b;
            /* inverted (Adobe) CMYK: K' = max channel, C' = R * 255 / K' */
            int k = r > g ? (r > b ? r : b) : (g > b ? g : b);
            cmyk[4 * i] = (uint8_t)((r * 255 + k / 2) / k);
            cmyk[4 * i + 1] = (uint8_t)((g * 255 + k / 2) / k);
            cmyk[4 * i + 2] = (uint8_t)((b * 255 + k / 2) / k);
            cmyk[4 * i + 3] = (uint8_t)k;
        }
    struct mnet_image_options o = { .central_fraction = 1.0f };
    char err[256];
    unsigned long len;

    uint8_t *j = tj_encode(grey, W, H, TJPF_GRAY, TJSAMP_GRAY, 0, &len);
    if (j) {
        int rc = mnet_image_prepare(j, len, &o, H, W, out, err, sizeof err);
        CHECK(rc == 0, "grey JPEG: %d %s", rc, err);
        int maxd = 0, notgrey = 0;
        for (int i = 0; i < W * H && !rc; i++) {
            int d = abs(out[3 * i] - grey[i]);
            maxd = d > maxd ? d : maxd;
            notgrey += out[3 * i] != out[3 * i + 1] || out[3 * i] != out[3 * i + 2];
        }
        CHECK(maxd <= 6 && notgrey == 0, "grey JPEG: max diff %d, %d non-grey pixels", maxd, notgrey);
        tjFree(j);
    }

    j = tj_encode(cmyk, W, H, TJPF_CMYK, TJSAMP_444, 0, &len);
    if (j) {
        tjhandle tj = tjInitDecompress();
        int w, h, ss, cs;
        tjDecompressHeader3(tj, j, len, &w, &h, &ss, &cs);
        tjDestroy(tj);
        CHECK(cs == TJCS_YCCK || cs == TJCS_CMYK, "CMYK JPEG has colorspace %d", cs);
        int rc = mnet_image_prepare(j, len, &o, H, W, out, err, sizeof err);
        CHECK(rc == 0, "CMYK JPEG: %d %s", rc, err);
        double sum = 0;
        int maxd = 0;
        for (int i = 0; i < W * H * 3 && !rc; i++) {
            int d = abs(out[i] - rgb[i]);
            sum += d;
            maxd = d > maxd ? d : maxd;
        }
        CHECK(maxd <= 12 && sum / (W * H * 3) < 2.0, "CMYK JPEG: max diff %d mean %g", maxd,
              sum / (W * H * 3));
        tjFree(j);
    }
}

/* A JPEG written with libjpeg's own API: arithmetic coding, or a custom
 * progressive scan script. */
static uint8_t *jpeglib_encode(const uint8_t *px, int w, int h, int comps, int arith,
                               const jpeg_scan_info *scans, int nscans, unsigned long *len)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    unsigned char *out = NULL;
    *len = 0;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, &out, len);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = comps;
    ci.in_color_space = comps == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 90, TRUE);
    ci.arith_code = arith ? TRUE : FALSE;
    if (scans) {
        ci.scan_info = scans;
        ci.num_scans = nscans;
    }
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * w * comps);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return out;
}

static void test_jpeg_variants(void)
{
    enum { W = 96, H = 80 };
    uint8_t rgb[W * H * 3], out[W * H * 3];
    for (int i = 0; i < W * H; i++) {
        rgb[3 * i] = (uint8_t)(i % W * 2);
        rgb[3 * i + 1] = (uint8_t)(i / W * 3);
        rgb[3 * i + 2] = 128;
    }
    struct mnet_image_options o = { .central_fraction = 1.0f };
    char err[256];
    unsigned long len;

    /* arithmetic coding: decodable by libjpeg-turbo, must round-trip */
    uint8_t *j = jpeglib_encode(rgb, W, H, 3, 1, NULL, 0, &len);
    CHECK(j && len > 0, "libjpeg arithmetic encode failed");
    if (j) {
        int rc = mnet_image_prepare(j, len, &o, H, W, out, err, sizeof err);
        CHECK(rc == 0, "arithmetic JPEG: %d %s", rc, err);
        int maxd = 0;
        for (int i = 0; i < W * H * 3 && !rc; i++)
            maxd = abs(out[i] - rgb[i]) > maxd ? abs(out[i] - rgb[i]) : maxd;
        CHECK(maxd <= 12, "arithmetic JPEG: max diff %d", maxd);
        free(j);
    }

    /* 12-bit and lossless frame headers: patch a baseline SOF0 */
    j = tj_encode(rgb, W, H, TJPF_RGB, TJSAMP_420, 0, &len);
    if (j) {
        size_t sof = 0;
        for (size_t i = 2; i + 1 < len; i++)
            if (j[i] == 0xff && j[i + 1] == 0xc0) {
                sof = i;
                break;
            }
        CHECK(sof > 0, "no SOF0 in a baseline JPEG");
        if (sof) {
            uint8_t *p = malloc(len);
            memcpy(p, j, len);
            p[sof + 1] = 0xc1; /* extended sequential */
            p[sof + 4] = 12;   /* precision */
            int rc = mnet_image_prepare(p, len, &o, H, W, out, err, sizeof err);
            CHECK(rc == -ENOTSUP, "12-bit JPEG: %d %s", rc, err);
            memcpy(p, j, len);
            p[sof + 1] = 0xc3; /* lossless */
            rc = mnet_image_prepare(p, len, &o, H, W, out, err, sizeof err);
            CHECK(rc == -ENOTSUP, "lossless JPEG: %d %s", rc, err);
            /* 65500 x 65500 declared by a ~2 KB file: refused from the header */
            memcpy(p, j, len);
            p[sof + 5] = p[sof + 7] = 0xff;
            p[sof + 6] = p[sof + 8] = 0xdc;
            struct mnet_image_options lim = { .max_pixels = 100000000 };
            double t0 = now();
            rc = mnet_image_prepare(p, len, &lim, 224, 224, out, err, sizeof err);
            CHECK(rc == -EFBIG, "65500x65500 JPEG: %d %s", rc, err);
            CHECK(now() - t0 < 0.05, "65500x65500 JPEG took %g s", now() - t0);
            /* without a limit it is merely truncated data, and must not crash */
            t0 = now();
            rc = mnet_image_prepare(p, len, NULL, 224, 224, out, err, sizeof err);
            CHECK(rc == -EBADMSG || rc == -ENOMEM, "65500x65500 JPEG, no limit: %d %s", rc, err);
            CHECK(now() - t0 < 5, "65500x65500 JPEG, no limit took %g s", now() - t0);
            free(p);
        }
        tjFree(j);
    }

    /* PNG declaring 100000 x 100000 */
    size_t plen;
    uint8_t *png = encode_png(rgb, W, H, SPNG_COLOR_TYPE_TRUECOLOR, 8, 0, NULL, &plen);
    if (png) {
        /* IHDR data at offset 16: width, height big-endian; fix its CRC */
        uint32_t big = 100000;
        for (int k = 0; k < 2; k++)
            for (int b = 0; b < 4; b++)
                png[16 + 4 * k + b] = (uint8_t)(big >> (24 - 8 * b));
        uint32_t crc = 0xffffffffu;
        for (int i = 12; i < 12 + 4 + 13; i++) {
            crc ^= png[i];
            for (int b = 0; b < 8; b++)
                crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
        }
        crc ^= 0xffffffffu;
        for (int b = 0; b < 4; b++)
            png[29 + b] = (uint8_t)(crc >> (24 - 8 * b));
        struct mnet_image_options lim = { .max_pixels = 100000000 };
        int rc = mnet_image_prepare(png, plen, &lim, 224, 224, out, err, sizeof err);
        CHECK(rc == -EFBIG, "100000x100000 PNG: %d %s", rc, err);
        free(png);
    }
}

static void test_many_scans(void)
{
    /* Every AC coefficient of every component in its own band, each band sent
     * as a first scan at Al=10 then refined down to Al=0: a valid progressive
     * script of 3 * 64 * 11 = 2112 scans.  Without a scan limit each scan is
     * a pass over the whole coefficient buffer. */
    enum { W = 512, H = 512, AL = 10 };
    static jpeg_scan_info scans[3 * 64 * (AL + 1)];
    int n = 0;
    for (int al = AL; al >= 0; al--) /* DC, interleaved */
        scans[n++] = (jpeg_scan_info){ 3, { 0, 1, 2, 0 }, 0, 0, al == AL ? 0 : al + 1, al };
    for (int c = 0; c < 3; c++)
        for (int k = 1; k < 64; k++)
            for (int al = AL; al >= 0; al--)
                scans[n++] = (jpeg_scan_info){ 1, { c, 0, 0, 0 }, k, k, al == AL ? 0 : al + 1, al };
    uint8_t *rgb = malloc((size_t)W * H * 3), *out = malloc(224 * 224 * 3);
    for (int i = 0; i < W * H * 3; i++)
        rgb[i] = (uint8_t)rnd();
    unsigned long len;
    uint8_t *j = jpeglib_encode(rgb, W, H, 3, 0, scans, n, &len);
    CHECK(j != NULL, "cannot write a %d-scan JPEG", n);
    if (j) {
        char err[256];
        double t0 = now();
        int rc = mnet_image_prepare(j, len, NULL, 224, 224, out, err, sizeof err);
        double dt = now() - t0;
        CHECK(rc == -EBADMSG, "%d-scan JPEG: %d %s", n, rc, err);
        CHECK(dt < 0.5, "%d-scan JPEG took %g s to refuse", n, dt);
        printf("# %d-scan progressive JPEG (%lu bytes): %d in %.3f s (%s)\n", n, len, rc, dt, err);
        /* for scale: what plain TurboJPEG (no scan limit) spends on it */
        tjhandle tj = tjInitDecompress();
        uint8_t *full = malloc((size_t)W * H * 3);
        t0 = now();
        int prc = tjDecompress2(tj, j, len, full, W, 0, H, TJPF_RGB, 0);
        printf("# the same file without TJFLAG_LIMITSCANS: rc %d in %.3f s\n", prc, now() - t0);
        free(full);
        tjDestroy(tj);
        free(j);
    }
    free(rgb);
    free(out);
}

/* ---- samples ---- */

static void test_samples(void)
{
    static const char *names[] = { "cat_720p.jpg", "grace_hopper.jpg", "grace_hopper.png",
                                    "hot_dog.jpg", "owl.jpg", "parrot.jpg", "pets.jpg" };
    uint8_t *out = malloc(224 * 224 * 3);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        size_t len;
        uint8_t *b = sample(names[i], &len);
        if (!b)
            continue;
        char err[256];
        int rc = mnet_image_prepare(b, len, NULL, 224, 224, out, err, sizeof err);
        CHECK(rc == 0, "%s: %d %s", names[i], rc, err);
        const char *fmt = mnet_image_format(b, len);
        CHECK(fmt && !strcmp(fmt, strstr(names[i], ".png") ? "png" : "jpeg"), "%s: format %s",
              names[i], fmt ? fmt : "NULL");
        free(b);
    }
    free(out);
}

static void test_jpeg_vs_png(void)
{
    size_t jl, pl;
    uint8_t *j = sample("grace_hopper.jpg", &jl), *p = sample("grace_hopper.png", &pl);
    if (!j || !p)
        goto out;
    uint8_t a[224 * 224 * 3], b[224 * 224 * 3];
    char err[256];
    int rc1 = mnet_image_prepare(j, jl, NULL, 224, 224, a, err, sizeof err);
    int rc2 = mnet_image_prepare(p, pl, NULL, 224, 224, b, err, sizeof err);
    CHECK(rc1 == 0 && rc2 == 0, "grace_hopper: %d %d", rc1, rc2);
    double sum = 0;
    for (int i = 0; i < 224 * 224 * 3; i++)
        sum += abs(a[i] - b[i]);
    double mad = sum / (224 * 224 * 3);
    printf("# grace_hopper JPEG vs PNG at 224x224: mean abs diff %.3f\n", mad);
    CHECK(mad < 3.0, "grace_hopper JPEG vs PNG mean abs diff %g", mad);
out:
    free(j);
    free(p);
}

/* DCT-scaled decode of a big JPEG against the full-size decode + reference resize. */
static void test_reference_jpeg(void)
{
    size_t len;
    uint8_t *j = sample("cat_720p.jpg", &len);
    struct img im = { 0 };
    if (!j)
        return;
    CHECK(decode_jpeg_ref(j, len, &im) == 0, "TurboJPEG cannot decode cat_720p.jpg");
    for (int m = 0; m <= MNET_RESIZE_AREA; m++) {
        double mean;
        double d = compare_ref(j, len, &im, 0.875f, 0, (enum mnet_resize)m, 0, 224, 224, &mean);
        CHECK(d <= 1.0001, "cat_720p mode %d, full decode: max diff %g", m, d);
        d = compare_ref(j, len, &im, 0.875f, 1, (enum mnet_resize)m, 0, 224, 224, &mean);
        CHECK(d <= 1.0001, "cat_720p mode %d square, full decode: max diff %g", m, d);
        d = compare_ref(j, len, &im, 0.875f, 0, (enum mnet_resize)m, 1, 224, 224, &mean);
        printf("# cat_720p %dx%d mode %d: DCT-scaled vs reference mean abs diff %.3f (max %g)\n",
               im.w, im.h, m, mean, d);
        CHECK(mean < 4.0, "cat_720p mode %d, DCT-scaled: mean diff %g", m, mean);
    }
    free(im.px);
    free(j);
}

/* The exact bytes, pinned: FNV-1a 64 of grace_hopper.png prepared at 0.875 in
 * every mode, both crops, at 224x224, 7x13 and 600x333, as computed at commit
 * 0a46703 (before the resize loops were restructured for speed).  PNG: the
 * decode is exact, so a change here is a change in crop or resize arithmetic
 * (the reference tests above allow rounding differences; this does not). */
static void test_pinned_bytes(void)
{
    static const int sizes[3][2] = { { 224, 224 }, { 7, 13 }, { 600, 333 } }; /* (h, w) */
    static const uint64_t want[4][2][3] = { /* [mode][square][size] */
        { { 0x4e34b9604febfb44ull, 0x2d71f14692a7e77cull, 0x48a5407cf44c96dfull },
          { 0x1c83b2988fd107b9ull, 0xdc4e07774e6862b2ull, 0xa430a5e60574c72bull } },
        { { 0x2e8155bd1f30530eull, 0x6c32214f5c97676cull, 0x4e199c901980b6dbull },
          { 0x5631f57ed1602c82ull, 0x3ab89c8866c2b435ull, 0x05681eda0acb7424ull } },
        { { 0x32b7ee14c96b1003ull, 0x9a20116b3497eb75ull, 0xb2da5b61ec603d8eull },
          { 0x39c15dcfea54a264ull, 0xf65c537df1fcc6bfull, 0x15f7c2d1feb91bddull } },
        { { 0x2417ac8ac4e41e4eull, 0xff17f68768588f13ull, 0x934f3029518200d2ull },
          { 0x1c83b2988fd107b9ull, 0xba1aca191cfe9980ull, 0x7c94a7deecacc53eull } },
    };
    size_t len;
    uint8_t *p = sample("grace_hopper.png", &len);
    uint8_t *out = malloc(600 * 333 * 3);
    if (!p || !out)
        goto out;
    for (int m = 0; m < 4; m++)
        for (int sq = 0; sq < 2; sq++)
            for (int z = 0; z < 3; z++) {
                struct mnet_image_options o = { .central_fraction = 0.875f };
                struct mnet_image_tuning t = { .resize = (enum mnet_resize)m, .dct_scaling = 4,
                                               .square_crop = sq };
                int h = sizes[z][0], w = sizes[z][1];
                char err[256] = "";
                int rc = mnet_image_prepare_tuned(p, len, &o, &t, h, w, out, err, sizeof err);
                uint64_t x = 0xcbf29ce484222325ull;
                for (size_t i = 0; rc == 0 && i < (size_t)h * w * 3; i++)
                    x = (x ^ out[i]) * 0x100000001b3ull;
                CHECK(rc == 0 && x == want[m][sq][z],
                      "grace_hopper.png mode %d square %d %dx%d: rc %d, bytes %016llx, want %016llx",
                      m, sq, h, w, rc, (unsigned long long)x, (unsigned long long)want[m][sq][z]);
            }
out:
    free(p);
    free(out);
}

/* ---- hostile input ---- */

/* MNET_TEST_SCALE (e.g. 0.2 under sanitizers) scales the iteration counts. */
static double scale = 1.0;

static int acceptable(int rc) { return rc == 0 || rc == -EBADMSG || rc == -ENOTSUP || rc == -EFBIG; }

static void test_truncation_and_flips(const char *name, int must_fail_truncated)
{
    size_t len;
    uint8_t *b = sample(name, &len);
    if (!b)
        return;
    uint8_t *out = malloc(64 * 64 * 3), *copy = malloc(len);
    char err[256];
    struct mnet_image_options o = { .max_pixels = 50000000 };
    int ok_trunc = 0, bad = 0;
    size_t step = 1 + (size_t)(len / (600 * scale));
    for (size_t l = 0; l < len; l += l < 512 * scale ? 1 : step) {
        memset(out, 0xab, 64 * 64 * 3);
        int rc = mnet_image_prepare(b, l, &o, 64, 64, out, err, sizeof err);
        if (rc == 0)
            ok_trunc++;
        else {
            int untouched = 1;
            for (int i = 0; i < 64 * 64 * 3; i++)
                untouched &= out[i] == 0xab;
            if (!untouched)
                bad++;
        }
        if (!acceptable(rc) || (rc && rc != -EBADMSG && l > 16))
            CHECK(0, "%s truncated at %zu: %d %s", name, l, rc, err);
    }
    CHECK(bad == 0, "%s: output written on %d failures", name, bad);
    if (must_fail_truncated)
        CHECK(ok_trunc == 0, "%s: %d truncations decoded", name, ok_trunc);
    int flips = 0, ok = 0;
    int iters = (int)(600 * scale);
    for (int it = 0; it < iters; it++) {
        memcpy(copy, b, len);
        int nf = 1 + (int)(rnd() % 8);
        for (int f = 0; f < nf; f++) {
            size_t pos = rnd() % (len < 2048 ? len : (rnd() & 1 ? 2048 : len));
            copy[pos] ^= (uint8_t)(1u << (rnd() % 8));
        }
        int rc = mnet_image_prepare(copy, len, &o, 64, 64, out, err, sizeof err);
        CHECK(acceptable(rc), "%s bit flips #%d: %d %s", name, it, rc, err);
        ok += rc == 0;
        flips++;
    }
    printf("# %s: %zu bytes, truncations decoded %d, %d/%d bit-flipped copies decoded\n", name,
           len, ok_trunc, ok, flips);
    free(out);
    free(copy);
    free(b);
}

static void test_args(void)
{
    uint8_t out[16 * 16 * 3];
    char err[256];
    static const uint8_t text[] = "GIF89a this is not a picture";
    CHECK(mnet_image_prepare(NULL, 0, NULL, 16, 16, out, err, sizeof err) == -ENOTSUP, "NULL, 0");
    CHECK(mnet_image_prepare(text, 0, NULL, 16, 16, out, err, sizeof err) == -ENOTSUP, "empty");
    CHECK(mnet_image_prepare(text, sizeof text, NULL, 16, 16, out, err, sizeof err) == -ENOTSUP,
          "text");
    CHECK(mnet_image_prepare((const uint8_t[]){ 0xff, 0xd8 }, 2, NULL, 16, 16, out, err, sizeof err) ==
          -ENOTSUP, "2-byte SOI");
    CHECK(mnet_image_prepare((const uint8_t[]){ 0xff, 0xd8, 0xff }, 3, NULL, 16, 16, out, err,
                             sizeof err) == -EBADMSG, "3-byte JPEG");
    CHECK(mnet_image_format(NULL, 10) == NULL, "format NULL");
    CHECK(mnet_image_format(text, sizeof text) == NULL, "format text");
    size_t len;
    uint8_t *b = sample("grace_hopper.png", &len);
    if (b) {
        struct mnet_image_options bad1 = { .central_fraction = 1.5f };
        struct mnet_image_options bad2 = { .central_fraction = NAN };
        struct mnet_image_options bad3 = { .central_fraction = -0.5f };
        CHECK(mnet_image_prepare(b, len, &bad1, 16, 16, out, err, sizeof err) == -EINVAL, "crop 1.5");
        CHECK(mnet_image_prepare(b, len, &bad2, 16, 16, out, err, sizeof err) == -EINVAL, "crop NaN");
        CHECK(mnet_image_prepare(b, len, &bad3, 16, 16, out, err, sizeof err) == -EINVAL, "crop -0.5");
        CHECK(mnet_image_prepare(b, len, NULL, 0, 16, out, err, sizeof err) == -EINVAL, "out_h 0");
        CHECK(mnet_image_prepare(b, len, NULL, 16, -1, out, err, sizeof err) == -EINVAL, "out_w -1");
        CHECK(mnet_image_prepare(b, len, NULL, 16, 16, NULL, err, sizeof err) == -EINVAL, "rgb NULL");
        struct mnet_image_options small = { .max_pixels = 1000 };
        CHECK(mnet_image_prepare(b, len, &small, 16, 16, out, err, sizeof err) == -EFBIG,
              "PNG over max_pixels");
        CHECK(mnet_image_prepare(b, len, NULL, 16, 16, out, NULL, 0) == 0, "err NULL");
        char tiny[4];
        CHECK(mnet_image_prepare(b, len, &small, 16, 16, out, tiny, sizeof tiny) == -EFBIG &&
              strlen(tiny) == 3, "short err buffer");
        free(b);
    }
}

int main(void)
{
    const char *s = getenv("MNET_SHARED");
    snprintf(shared, sizeof shared, "%s", s && *s ? s : "../shared");
    const char *sc = getenv("MNET_TEST_SCALE");
    if (sc && atof(sc) > 0)
        scale = atof(sc);

    double t0;
    t0 = now();
    test_args();
    printf("# %-48s %.2f s\n", "test_args();", now() - t0);
    t0 = now();
    test_samples();
    printf("# %-48s %.2f s\n", "test_samples();", now() - t0);
    t0 = now();
    test_jpeg_vs_png();
    printf("# %-48s %.2f s\n", "test_jpeg_vs_png();", now() - t0);
    t0 = now();
    test_reference_png();
    printf("# %-48s %.2f s\n", "test_reference_png();", now() - t0);
    t0 = now();
    test_reference_jpeg();
    printf("# %-48s %.2f s\n", "test_reference_jpeg();", now() - t0);
    t0 = now();
    test_pinned_bytes();
    printf("# %-48s %.2f s\n", "test_pinned_bytes();", now() - t0);
    t0 = now();
    test_hand_computed();
    printf("# %-48s %.2f s\n", "test_hand_computed();", now() - t0);
    t0 = now();
    test_png_formats();
    printf("# %-48s %.2f s\n", "test_png_formats();", now() - t0);
    t0 = now();
    test_grey_cmyk();
    printf("# %-48s %.2f s\n", "test_grey_cmyk();", now() - t0);
    t0 = now();
    test_jpeg_variants();
    printf("# %-48s %.2f s\n", "test_jpeg_variants();", now() - t0);
    t0 = now();
    test_many_scans();
    printf("# %-48s %.2f s\n", "test_many_scans();", now() - t0);
    t0 = now();
    test_truncation_and_flips("grace_hopper.jpg", 1);
    printf("# %-48s %.2f s\n", "test_truncation_and_flips(\"grace_hopper.jpg\", 1);", now() - t0);
    t0 = now();
    test_truncation_and_flips("grace_hopper.png", 1);
    printf("# %-48s %.2f s\n", "test_truncation_and_flips(\"grace_hopper.png\", 1);", now() - t0);
    t0 = now();
    test_truncation_and_flips("parrot.jpg", 1);
    printf("# %-48s %.2f s\n", "test_truncation_and_flips(\"parrot.jpg\", 1);", now() - t0);
    return check_summary();
}
