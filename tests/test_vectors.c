/* test_vectors.c: the published MLTS exact vectors (../shared/testdata/vectors).
 *
 * float v1 0.25/128: all 1001 outputs within 1e-5 absolute; every quantized
 * model (v1 0.25/0.5/0.75 quant, v2 1.0/224 quant MLTS): all 1001 outputs
 * within 1 unit, for banana and cup.  Each model also runs at 1 and 2 threads
 * and with both images in one batch of 2; the outputs must be identical. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mnet.h"

struct vcase {
    const char *model;   /* relative to MNET_SHARED */
    const char *input;   /* %s = image name, relative to vectors/ */
    const char *output;
    int is_float;
};

static const struct vcase cases[] = {
    {"models/mobilenet_v1_0.25_128.tflite", "float/%s_128.input", "float/%s_0.25_128.output", 1},
    {"models/mobilenet_v1_0.25_128_quant.tflite", "quantized/%s_128.input", "quantized/%s_0.25_128.output", 0},
    {"models/mobilenet_v1_0.5_160_quant.tflite", "quantized/%s_160.input", "quantized/%s_0.5_160.output", 0},
    {"models/mobilenet_v1_0.75_192_quant.tflite", "quantized/%s_192.input", "quantized/%s_0.75_192.output", 0},
    {"testdata/vectors/mobilenet_v2_1.0_224_quant_mlts.tflite", "quantized/%s_224.input",
     "quantized/%s_v2_1.0_224.output", 0},
};

static const char *images[2] = {"banana", "cup"};

static void run_case(const char *shared, const struct vcase *vc)
{
    char path[1024], err[256] = "";
    snprintf(path, sizeof path, "%s/%s", shared, vc->model);
    struct mnet_options o1 = {.threads = 1, .max_batch = 2}, o2 = {.threads = 2, .max_batch = 2};
    mnet_model *m1 = NULL, *m2 = NULL;
    int r = mnet_load_file(path, &o1, &m1, err, sizeof err);
    if (r == 0)
        r = mnet_load_file(path, &o2, &m2, err, sizeof err);
    if (r) {
        printf("FAIL %s: load: %s (%d)\n", vc->model, err, r);
        failures++;
        mnet_free(m1);
        return;
    }
    const struct mnet_info *info = mnet_get_info(m1);
    size_t in_img = (size_t)info->height * info->width * 3 * (vc->is_float ? 4 : 1);
    size_t out_img = (size_t)info->classes * (vc->is_float ? 4 : 1);
    uint8_t *inputs = malloc(2 * in_img), *wants = malloc(2 * out_img);
    uint8_t *got1 = malloc(2 * out_img), *got2 = malloc(2 * out_img), *gotb = malloc(2 * out_img);
    for (int i = 0; i < 2; i++) {
        size_t n = 0;
        char rel[256];
        snprintf(rel, sizeof rel, vc->input, images[i]);
        snprintf(path, sizeof path, "%s/testdata/vectors/%s", shared, rel);
        void *d = check_read_file(path, &n);
        if (!d || n != in_img) {
            printf("FAIL %s: input %s missing or %zu bytes (want %zu)\n", vc->model, path, n, in_img);
            failures++;
            free(d);
            goto out;
        }
        memcpy(inputs + i * in_img, d, in_img);
        free(d);
        snprintf(rel, sizeof rel, vc->output, images[i]);
        snprintf(path, sizeof path, "%s/testdata/vectors/%s", shared, rel);
        d = check_read_file(path, &n);
        if (!d || n != out_img) {
            printf("FAIL %s: output %s missing or %zu bytes (want %zu)\n", vc->model, path, n, out_img);
            failures++;
            free(d);
            goto out;
        }
        memcpy(wants + i * out_img, d, out_img);
        free(d);
    }
    if (info->input_type != (vc->is_float ? MNET_F32 : MNET_U8) ||
        info->output_type != (vc->is_float ? MNET_F32 : MNET_U8) || info->classes != 1001) {
        printf("FAIL %s: unexpected io types or classes %d\n", vc->model, info->classes);
        failures++;
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        r = mnet_run(m1, inputs + i * in_img, 1, got1 + i * out_img);
        r |= mnet_run(m2, inputs + i * in_img, 1, got2 + i * out_img);
        if (r) {
            printf("FAIL %s: run %d\n", vc->model, r);
            failures++;
            goto out;
        }
    }
    r = mnet_run(m2, inputs, 2, gotb);
    if (r) {
        printf("FAIL %s: batch run %d\n", vc->model, r);
        failures++;
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        double maxd = 0;
        int at = 0, nbad = 0, top_got = 0, top_want = 0;
        for (int c = 0; c < info->classes; c++) {
            double g, w;
            if (vc->is_float) {
                float gf, wf;
                memcpy(&gf, got1 + i * out_img + 4 * (size_t)c, 4);
                memcpy(&wf, wants + i * out_img + 4 * (size_t)c, 4);
                g = gf, w = wf;
            } else {
                g = got1[i * out_img + c];
                w = wants[i * out_img + c];
            }
            double d = fabs(g - w);
            if (!(d <= maxd)) {
                maxd = d;
                at = c;
            }
            if (!(d <= (vc->is_float ? 1e-5 : 1.0)))
                nbad++;
            double gt, wt;
            if (vc->is_float) {
                float a, b;
                memcpy(&a, got1 + i * out_img + 4 * (size_t)top_got, 4);
                memcpy(&b, wants + i * out_img + 4 * (size_t)top_want, 4);
                gt = a, wt = b;
            } else {
                gt = got1[i * out_img + top_got];
                wt = wants[i * out_img + top_want];
            }
            if (g > gt)
                top_got = c;
            if (w > wt)
                top_want = c;
        }
        int same_threads = memcmp(got1 + i * out_img, got2 + i * out_img, out_img) == 0;
        int same_batch = memcmp(got1 + i * out_img, gotb + i * out_img, out_img) == 0;
        int ok = nbad == 0 && same_threads && same_batch;
        printf("%s %-58s %-6s max|diff| %-10.3g at %4d, %d over tolerance, top-1 %d (want %d), "
               "1 vs 2 threads %s, batch 2 %s\n",
               ok ? "ok  " : "FAIL", vc->model, images[i], maxd, at, nbad, top_got, top_want,
               same_threads ? "identical" : "DIFFER", same_batch ? "identical" : "DIFFERS");
        CHECK(ok, "%s %s: not the published output", vc->model, images[i]);
    }
out:
    free(inputs), free(wants), free(got1), free(got2), free(gotb);
    mnet_free(m1);
    mnet_free(m2);
}

int main(void)
{
    const char *shared = getenv("MNET_SHARED");
    if (!shared) {
        printf("FAIL: MNET_SHARED is not set\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(shared, &cases[i]);
    return check_summary();
}
