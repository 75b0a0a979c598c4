/* mnet-classify: top-k labels for images.
 *
 *   mnet-classify --model M [--labels L] [--top-k K] [--json] [--threads T]
 *                 [--precision native|float32] [--crop F] [--model-dir D]
 *                 [--max-pixels N] IMAGE...
 *
 * A bare model or labels name is found through the search path (modelpath.h).
 * Without --labels, imagenet_labels.txt (1001-class models) or
 * inat_bird_labels.txt (the bird model) is used when found.  With --json one
 * object per line: {"file":..., "top_k":[{"index":i, "label":..., "score":s}]}
 * (no "label" without labels); an image that fails gives
 * {"file":..., "error":..., "code":-errno} and the exit status is 1.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mnet.h"
#include "modelpath.h"

#define MAX_FILE_BYTES (256u << 20)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mnet-classify --model M [--labels L] [--top-k K] [--json] [--threads T]\n"
            "                     [--precision native|float32] [--crop F] [--model-dir D]\n"
            "                     [--max-pixels N] IMAGE...\n"
            "  M, L: a path, or a file name looked up in --model-dir, $MNET_MODEL_PATH,\n"
            "        ./models, ../shared/models\n");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *model_name = NULL, *labels_name = NULL, *model_dir = NULL;
    int top_k = 5, json = 0, threads = 0;
    enum mnet_precision precision = MNET_PRECISION_NATIVE;
    struct mnet_image_options iopt = { .max_pixels = 100000000, .central_fraction = 0.875f };

    static const struct option longopts[] = {
        { "model", required_argument, NULL, 'm' },
        { "labels", required_argument, NULL, 'l' },
        { "top-k", required_argument, NULL, 'k' },
        { "json", no_argument, NULL, 'j' },
        { "threads", required_argument, NULL, 't' },
        { "precision", required_argument, NULL, 'p' },
        { "crop", required_argument, NULL, 'c' },
        { "model-dir", required_argument, NULL, 'd' },
        { "max-pixels", required_argument, NULL, 'x' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "m:l:k:jt:p:c:d:x:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model_name = optarg; break;
        case 'l': labels_name = optarg; break;
        case 'd': model_dir = optarg; break;
        case 'j': json = 1; break;
        case 'k':
            if (parse_int(optarg, 1, 100000, &top_k)) {
                fprintf(stderr, "mnet-classify: --top-k wants a number >= 1\n");
                return 2;
            }
            break;
        case 't':
            if (parse_int(optarg, 0, 1024, &threads)) {
                fprintf(stderr, "mnet-classify: --threads wants a number 0..1024\n");
                return 2;
            }
            break;
        case 'p':
            if (!strcmp(optarg, "native"))
                precision = MNET_PRECISION_NATIVE;
            else if (!strcmp(optarg, "float32") || !strcmp(optarg, "fp32"))
                precision = MNET_PRECISION_FLOAT32;
            else {
                fprintf(stderr, "mnet-classify: --precision is native or float32\n");
                return 2;
            }
            break;
        case 'c': {
            char *end;
            float f = strtof(optarg, &end);
            if (end == optarg || *end || !(f > 0.0f && f <= 1.0f)) {
                fprintf(stderr, "mnet-classify: --crop wants a fraction in (0, 1]\n");
                return 2;
            }
            iopt.central_fraction = f;
            break;
        }
        case 'x': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end) {
                fprintf(stderr, "mnet-classify: --max-pixels wants a number (0 = no limit)\n");
                return 2;
            }
            iopt.max_pixels = v;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!model_name || optind >= argc) {
        usage(stderr);
        return 2;
    }

    char model_path[4096], labels_path[4096], err[256] = "";
    int rc = mnet_path_find(model_name, model_dir, model_path, sizeof model_path);
    if (rc) {
        fprintf(stderr, "mnet-classify: model %s: %s\n", model_name, strerror(-rc));
        return 1;
    }
    int nimages = argc - optind;
    struct mnet_options mopt = { .threads = threads, .max_batch = 1, .precision = precision };
    mnet_model *model = NULL;
    rc = mnet_load_file(model_path, &mopt, &model, err, sizeof err);
    if (rc) {
        fprintf(stderr, "mnet-classify: %s: %s\n", model_path, err[0] ? err : strerror(-rc));
        return 1;
    }
    const struct mnet_info *info = mnet_get_info(model);

    struct mnet_labels *labels = NULL;
    if (labels_name) {
        rc = mnet_path_find(labels_name, model_dir, labels_path, sizeof labels_path);
        if (!rc)
            rc = mnet_labels_load(labels_path, &labels);
        if (rc) {
            fprintf(stderr, "mnet-classify: labels %s: %s\n", labels_name, strerror(-rc));
            mnet_free(model);
            return 1;
        }
    } else if (!mnet_path_default_labels(model_path, info->classes, model_dir, labels_path,
                                         sizeof labels_path)) {
        if (mnet_labels_load(labels_path, &labels))
            labels = NULL; /* labels are a convenience here */
    }
    if (labels && labels->count != info->classes)
        fprintf(stderr, "mnet-classify: warning: %d labels for %d classes\n", labels->count,
                info->classes);

    size_t in_bytes = (size_t)info->height * info->width * 3;
    uint8_t *rgb = malloc(in_bytes);
    float *scores = malloc((size_t)info->classes * sizeof *scores);
    int k = top_k < info->classes ? top_k : info->classes;
    int *idx = malloc((size_t)k * sizeof *idx);
    float *val = malloc((size_t)k * sizeof *val);
    if (!rgb || !scores || !idx || !val) {
        fprintf(stderr, "mnet-classify: out of memory\n");
        return 1;
    }

    int status = 0;
    for (int i = 0; i < nimages; i++) {
        const char *file = argv[optind + i];
        uint8_t *data = NULL;
        size_t len = 0;
        err[0] = '\0';
        rc = mnet_file_read(file, MAX_FILE_BYTES, &data, &len);
        if (rc)
            snprintf(err, sizeof err, "%s", strerror(-rc));
        else
            rc = mnet_image_prepare(data, len, &iopt, info->height, info->width, rgb, err,
                                    sizeof err);
        free(data);
        if (!rc) {
            rc = mnet_classify(model, rgb, 1, scores);
            if (rc && !err[0])
                snprintf(err, sizeof err, "inference failed: %s", strerror(-rc));
        }
        if (rc) {
            status = 1;
            if (json) {
                json_t *o = json_pack("{s:s, s:s, s:i}", "file", file, "error", err, "code", rc);
                char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
                if (s)
                    printf("%s\n", s);
                free(s);
                json_decref(o);
            }
            fprintf(stderr, "mnet-classify: %s: %s\n", file, err);
            continue;
        }
        int n = mnet_top_k(scores, info->classes, k, idx, val);
        if (json) {
            json_t *o = json_object(), *arr = json_array();
            json_object_set_new(o, "file", json_string(file));
            for (int j = 0; j < n; j++) {
                json_t *e = json_object();
                json_object_set_new(e, "index", json_integer(idx[j]));
                const char *lab = mnet_labels_get(labels, idx[j]);
                if (lab)
                    json_object_set_new(e, "label", json_string(lab));
                json_object_set_new(e, "score", json_real(val[j]));
                json_array_append_new(arr, e);
            }
            json_object_set_new(o, "top_k", arr);
            char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
            if (s)
                printf("%s\n", s);
            free(s);
            json_decref(o);
        } else {
            printf("%s\n", file);
            for (int j = 0; j < n; j++) {
                const char *lab = mnet_labels_get(labels, idx[j]);
                printf("  %8.5f  %4d  %s\n", val[j], idx[j], lab ? lab : "");
            }
        }
        fflush(stdout);
    }
    free(rgb);
    free(scores);
    free(idx);
    free(val);
    mnet_labels_free(labels);
    mnet_free(model);
    return status;
}
