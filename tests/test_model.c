/* test_model.c: every model in $MNET_SHARED/models loads natively and in
 * FLOAT32 precision and classifies a synthetic image into finite
 * probabilities that sum to 1; on the exact-vector inputs (banana, cup) the
 * TF2 int8 model and the float32 mode of v2 quant agree with v2 quant native
 * on top-1.  Also: the API's argument checks and mnet_top_k's ordering. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mnet.h"
#include "check.h"


static const char *shared;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void synthetic(uint8_t *rgb, int h, int w, int seed)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 255 / (w > 1 ? w - 1 : 1));
            p[1] = (uint8_t)(y * 255 / (h > 1 ? h - 1 : 1));
            p[2] = (uint8_t)(((x / 16 + y / 16 + seed) & 1) ? 200 : 40);
        }
}

static int argmax(const float *s, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (s[i] > s[best])
            best = i;
    return best;
}

static void check_scores(const char *what, const float *s, int n)
{
    double sum = 0;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(s[i]) || s[i] < 0.0f || s[i] > 1.0f)
            bad++;
        sum += s[i];
    }
    CHECK(bad == 0, "%s: %d scores not finite probabilities", what, bad);
    CHECK(fabs(sum - 1.0) < 1e-3, "%s: scores sum to %.6f", what, sum);
}

static void test_all_models(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/models", shared);
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open %s", dir);
    if (!d)
        return;
    char *names[64];
    int nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nn < 64) {
        size_t l = strlen(e->d_name);
        if (l > 7 && strcmp(e->d_name + l - 7, ".tflite") == 0)
            names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof names[0], cmp_str);
    CHECK(nn >= 9, "expected the 9 models of SOURCES.md, found %d", nn);
    for (int i = 0; i < nn; i++) {
        char path[1200], err[256] = "";
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        for (int prec = 0; prec < 2; prec++) {
            struct mnet_options o = {.threads = 2, .max_batch = 2,
                                     .precision = prec ? MNET_PRECISION_FLOAT32 : MNET_PRECISION_NATIVE};
            mnet_model *m = NULL;
            int r = mnet_load_file(path, &o, &m, err, sizeof err);
            CHECK(r == 0, "%s %s: load failed: %s", names[i], prec ? "float32" : "native", err);
            if (r)
                continue;
            const struct mnet_info *info = mnet_get_info(m);
            CHECK(info->channels == 3 && info->classes > 1 && info->height > 0 &&
                      strlen(info->sha256) == 64 && info->arena_bytes > 0 && info->ops > 0,
                  "%s: info", names[i]);
            CHECK(prec == 0 || (info->numerics == MNET_F32 && info->output_type == MNET_F32),
                  "%s: float32 mode reports numerics %d output %d", names[i], info->numerics,
                  info->output_type);
            size_t pix = (size_t)info->height * info->width * 3;
            uint8_t *rgb = malloc(2 * pix);
            float *s = malloc(2 * sizeof(float) * info->classes);
            synthetic(rgb, info->height, info->width, 0);
            synthetic(rgb + pix, info->height, info->width, 1);
            r = mnet_classify(m, rgb, 2, s);
            CHECK(r == 0, "%s: classify %d", names[i], r);
            char what[300];
            snprintf(what, sizeof what, "%s %s", names[i], prec ? "float32" : "native");
            check_scores(what, s, info->classes);
            check_scores(what, s + info->classes, info->classes);
            int k[5];
            float ks[5];
            int got = mnet_top_k(s, info->classes, 5, k, ks);
            CHECK(got == 5 && ks[0] >= ks[1] && ks[1] >= ks[2] && k[0] == argmax(s, info->classes),
                  "%s: top-k", what);
            printf("ok   %-56s %-7s %s %3dx%-3d classes %4d arena %7zu B top-1 %4d (%.3f)\n",
                   names[i], prec ? "float32" : "native", info->arch, info->height, info->width,
                   info->classes, info->arena_bytes, k[0], ks[0]);
            free(rgb);
            free(s);
            mnet_free(m);
        }
        free(names[i]);
    }
}

static int classify_file(const char *model, enum mnet_precision prec, const uint8_t *rgb,
                         float *scores, int classes)
{
    char path[1024], err[256] = "";
    snprintf(path, sizeof path, "%s/models/%s", shared, model);
    struct mnet_options o = {.threads = 2, .max_batch = 1, .precision = prec};
    mnet_model *m = NULL;
    int r = mnet_load_file(path, &o, &m, err, sizeof err);
    CHECK(r == 0, "%s: %s", model, err);
    if (r)
        return -1;
    CHECK(mnet_get_info(m)->classes == classes && mnet_get_info(m)->height == 224, "%s: io", model);
    /* the table it reports is the one MNET_KERNELS forces (the test runs under each) */
    const char *kernels = mnet_get_info(m)->kernels, *force = getenv("MNET_KERNELS");
    CHECK(kernels[0] && (!force || !force[0] || strcmp(kernels, force) == 0), "%s: kernels '%s'", model,
          kernels);
    r = mnet_classify(m, rgb, 1, scores);
    mnet_free(m);
    CHECK(r == 0, "%s classify", model);
    return r ? -1 : argmax(scores, classes);
}

static void test_top1_agreement(void)
{
    const char *imgs[2] = {"banana", "cup"};
    const size_t pix = 224 * 224 * 3;
    uint8_t *rgb = malloc(pix);
    float *s = malloc(1001 * sizeof(float));
    for (int i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/testdata/vectors/quantized/%s_224.input", shared, imgs[i]);
        FILE *f = fopen(path, "rb");
        size_t got = f ? fread(rgb, 1, pix, f) : 0;
        if (f)
            fclose(f);
        CHECK(got == pix, "%s: missing or short", path);
        if (got != pix)
            continue;
        int ref = classify_file("mobilenet_v2_1.0_224_quant.tflite", MNET_PRECISION_NATIVE, rgb, s, 1001);
        float pref = ref >= 0 ? s[ref] : 0;
        int f32 = classify_file("mobilenet_v2_1.0_224_quant.tflite", MNET_PRECISION_FLOAT32, rgb, s, 1001);
        float pf32 = f32 >= 0 ? s[f32] : 0;
        int tf2 = classify_file("tf2_mobilenet_v2_1.0_224_ptq.tflite", MNET_PRECISION_NATIVE, rgb, s, 1001);
        float ptf2 = tf2 >= 0 ? s[tf2] : 0;
        int tf2f = classify_file("tf2_mobilenet_v2_1.0_224_ptq.tflite", MNET_PRECISION_FLOAT32, rgb, s, 1001);
        printf("%-6s top-1: v2 quant native %d (%.3f), v2 quant float32 %d (%.3f), tf2 int8 %d "
               "(%.3f), tf2 float32 %d\n", imgs[i], ref, pref, f32, pf32, tf2, ptf2, tf2f);
        CHECK(ref >= 0 && ref == f32, "%s: float32 mode top-1 %d != native %d", imgs[i], f32, ref);
        CHECK(ref >= 0 && ref == tf2, "%s: tf2 int8 top-1 %d != v2 quant %d", imgs[i], tf2, ref);
    }
    free(rgb);
    free(s);
}

static void test_api(void)
{
    char err[128] = "";
    mnet_model *m = (mnet_model *)0x1;
    int r = mnet_load_file("/nonexistent/model.tflite", NULL, &m, err, sizeof err);
    CHECK(r == -ENOENT && m == (mnet_model *)0x1 && err[0], "missing file: %d", r);
    uint8_t junk[64] = {0};
    r = mnet_load_buffer(junk, sizeof junk, NULL, &m, err, sizeof err);
    CHECK(r == -EBADMSG && m == (mnet_model *)0x1, "junk buffer: %d (%s)", r, err);
    struct mnet_options bad = {.threads = -1};
    char path[1024];
    snprintf(path, sizeof path, "%s/models/mobilenet_v1_0.25_128_quant.tflite", shared);
    r = mnet_load_file(path, &bad, &m, err, sizeof err);
    CHECK(r == -EINVAL && m == (mnet_model *)0x1, "bad options: %d", r);
    mnet_free(NULL);
    CHECK(mnet_get_info(NULL) == NULL, "info NULL");

    /* top-k: descending, ties by lower index, k clipped to classes */
    float sc[6] = {0.1f, 0.5f, 0.2f, 0.5f, 0.05f, 0.05f};
    int idx[8];
    float v[8];
    int n = mnet_top_k(sc, 6, 8, idx, v);
    CHECK(n == 6 && idx[0] == 1 && idx[1] == 3 && idx[2] == 2 && idx[3] == 0 && idx[4] == 4 &&
              idx[5] == 5, "top_k order %d %d %d %d %d %d", idx[0], idx[1], idx[2], idx[3], idx[4], idx[5]);
    n = mnet_top_k(sc, 6, 2, idx, v);
    CHECK(n == 2 && idx[0] == 1 && idx[1] == 3 && v[0] == 0.5f, "top_k 2");

    /* batches over max_batch run in chunks with the same results */
    struct mnet_options o1 = {.threads = 1, .max_batch = 1}, o3 = {.threads = 2, .max_batch = 3};
    mnet_model *a = NULL, *b = NULL;
    if (mnet_load_file(path, &o1, &a, err, sizeof err) == 0 &&
        mnet_load_file(path, &o3, &b, err, sizeof err) == 0) {
        const struct mnet_info *in = mnet_get_info(a);
        size_t pix = (size_t)in->height * in->width * 3;
        int N = 5;
        uint8_t *rgb = malloc(N * pix);
        for (int i = 0; i < N; i++)
            synthetic(rgb + i * pix, in->height, in->width, i);
        uint8_t *oa = malloc((size_t)N * in->classes), *ob = malloc((size_t)N * in->classes);
        CHECK(mnet_run(a, rgb, N, oa) == 0 && mnet_run(b, rgb, N, ob) == 0, "chunked run");
        CHECK(memcmp(oa, ob, (size_t)N * in->classes) == 0, "chunked batches differ");
        CHECK(mnet_run(a, rgb, 0, oa) == -EINVAL, "n = 0");
        free(rgb), free(oa), free(ob);
    } else {
        CHECK(0, "load %s: %s", path, err);
    }
    mnet_free(a);
    mnet_free(b);
}

int main(void)
{
    shared = getenv("MNET_SHARED");
    if (!shared) {
        printf("FAIL: MNET_SHARED is not set\n");
        return 1;
    }
    test_api();
    test_all_models();
    test_top1_agreement();
    return check_summary();
}
