/* mnet-eval: top-1 / top-5 accuracy on a labelled photo set.
 *
 *   mnet-eval --model M [--dir D] [--labels L] [--limit N] [--crop F]
 *             [--precision native|float32] [--threads T] [--batch B] [--json]
 *             [--resize half|tf1|align|area] [--no-dct-scaling | --dct-ratio N] [--square-crop]
 *             [--mlts-input] [--model-dir D]
 *
 * D holds image-N.jpeg and ground_truth_labels.txt (line N = class name of
 * image-N.jpeg), e.g. ../shared/testdata/openimages (the default).  Class
 * names are matched to output indices by name: D/labels.txt when it has one
 * line per class (the MLTS short names), else the model's labels file;
 * a label matches when it equals the name, or its first comma-separated
 * synonym does, ignoring case.  A name that appears twice in the labels
 * (ImageNet has two "crane"s) accepts either index, as MLTS's string compare
 * does.  An image that fails to decode counts as wrong.
 *
 * --square-crop and --mlts-input reproduce MLTS's Android "Inception"
 * preprocessor (Inception.java in platform/test/mlts/benchmark), to explain
 * the gap to its expected numbers: a centred square of 0.875 * the shorter
 * side, and for uint8 models the bytes requantized as
 * (int)((x * 2 / 255 - 1) / 0.007812 + 128) & 0xff in float32, which maps
 * 255 (white) to 0.
 *
 * One thread decodes into a double buffer of batches while the main thread
 * runs the engine on the other.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "mnet.h"
#include "modelpath.h"

#ifndef MNET_SHARED_DIR
#define MNET_SHARED_DIR "../shared"
#endif

#define TOPK 5
#define MAX_FILE_BYTES (256u << 20)

struct batch {
    uint8_t *rgb;  /* (B, H, W, 3) */
    int *image;    /* dataset index of each slot */
    int n;         /* images in this batch */
    int *failed;   /* dataset indices that failed to decode (counted wrong) */
    int nfailed;
    int full;      /* 1: ready for the engine; 0: free for the decoder */
    int last;      /* no more batches after this one */
};

struct eval {
    const char *dir;
    int count, bsize, h, w;
    struct mnet_image_options iopt;
    struct mnet_image_tuning tuning;
    struct batch buf[2];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;      /* main thread gave up: decoder exits */
    int mlts_input; /* apply lut to every byte (see --mlts-input) */
    uint8_t lut[256];
};

static void *decoder(void *arg)
{
    struct eval *ev = arg;
    size_t img_bytes = (size_t)ev->h * ev->w * 3;
    int next = 0;
    for (int slot = 0;; slot ^= 1) {
        struct batch *b = &ev->buf[slot];
        pthread_mutex_lock(&ev->mu);
        while (b->full && !ev->stop)
            pthread_cond_wait(&ev->cv, &ev->mu);
        int stop = ev->stop;
        pthread_mutex_unlock(&ev->mu);
        if (stop)
            return NULL;

        b->n = b->nfailed = 0;
        while (b->n < ev->bsize && next < ev->count) {
            char path[4096], err[256] = "";
            uint8_t *data = NULL;
            size_t len = 0;
            int i = next++;
            snprintf(path, sizeof path, "%s/image-%d.jpeg", ev->dir, i);
            int rc = mnet_file_read(path, MAX_FILE_BYTES, &data, &len);
            if (!rc)
                rc = mnet_image_prepare_tuned(data, len, &ev->iopt, &ev->tuning, ev->h, ev->w,
                                              b->rgb + (size_t)b->n * img_bytes, err, sizeof err);
            free(data);
            if (!rc && ev->mlts_input) {
                uint8_t *px = b->rgb + (size_t)b->n * img_bytes;
                for (size_t k = 0; k < img_bytes; k++)
                    px[k] = ev->lut[px[k]];
            }
            if (rc) {
                fprintf(stderr, "mnet-eval: %s: %s\n", path, err[0] ? err : strerror(-rc));
                b->failed[b->nfailed++] = i;
                continue;
            }
            b->image[b->n++] = i;
        }
        b->last = next >= ev->count;
        pthread_mutex_lock(&ev->mu);
        b->full = 1;
        pthread_cond_broadcast(&ev->cv);
        pthread_mutex_unlock(&ev->mu);
        if (b->last)
            return NULL;
    }
}

/* Lower-case compare of a ground-truth name with a label or its first synonym. */
static int name_matches(const char *truth, const char *label)
{
    size_t n = strlen(truth);
    if (strncasecmp(truth, label, n) != 0)
        return 0;
    return label[n] == '\0' || label[n] == ',';
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

static void usage(FILE *f)
{
    fprintf(f, "usage: mnet-eval --model M [--dir D] [--labels L] [--limit N] [--crop F]\n"
               "                 [--precision native|float32] [--threads T] [--batch B] [--json]\n"
               "                 [--resize half|tf1|align|area] [--no-dct-scaling | --dct-ratio N]\n"
               "                 [--square-crop]\n"
               "                 [--mlts-input] [--model-dir D]\n");
}

int main(int argc, char **argv)
{
    const char *model_name = NULL, *labels_name = NULL, *model_dir = NULL, *dir = NULL;
    int limit = 0, threads = 0, bsize = 8, json = 0;
    enum mnet_precision precision = MNET_PRECISION_NATIVE;
    struct eval ev = { .iopt = { .max_pixels = 100000000, .central_fraction = 0.875f },
                       .tuning = mnet_image_default_tuning };
    static const char *resize_names[] = { "half", "tf1", "align", "area" };

    static const struct option longopts[] = {
        { "model", required_argument, NULL, 'm' },
        { "labels", required_argument, NULL, 'l' },
        { "dir", required_argument, NULL, 'D' },
        { "limit", required_argument, NULL, 'n' },
        { "crop", required_argument, NULL, 'c' },
        { "precision", required_argument, NULL, 'p' },
        { "threads", required_argument, NULL, 't' },
        { "batch", required_argument, NULL, 'b' },
        { "json", no_argument, NULL, 'j' },
        { "resize", required_argument, NULL, 'r' },
        { "no-dct-scaling", no_argument, NULL, 'S' },
        { "square-crop", no_argument, NULL, 'Q' },
        { "dct-ratio", required_argument, NULL, 'R' },
        { "mlts-input", no_argument, NULL, 'M' },
        { "model-dir", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "m:l:D:n:c:p:t:b:jr:SQMR:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model_name = optarg; break;
        case 'l': labels_name = optarg; break;
        case 'D': dir = optarg; break;
        case 'd': model_dir = optarg; break;
        case 'j': json = 1; break;
        case 'S': ev.tuning.dct_scaling = 0; break;
        case 'Q': ev.tuning.square_crop = 1; break;
        case 'R':
            if (parse_int(optarg, 0, 8, &ev.tuning.dct_scaling))
                goto bad;
            break;
        case 'M': ev.mlts_input = 1; break;
        case 'n':
            if (parse_int(optarg, 0, 100000000, &limit))
                goto bad;
            break;
        case 't':
            if (parse_int(optarg, 0, 1024, &threads))
                goto bad;
            break;
        case 'b':
            if (parse_int(optarg, 1, 4096, &bsize))
                goto bad;
            break;
        case 'p':
            if (!strcmp(optarg, "native"))
                precision = MNET_PRECISION_NATIVE;
            else if (!strcmp(optarg, "float32") || !strcmp(optarg, "fp32"))
                precision = MNET_PRECISION_FLOAT32;
            else
                goto bad;
            break;
        case 'r': {
            int found = 0;
            for (int i = 0; i < 4; i++)
                if (!strcmp(optarg, resize_names[i])) {
                    ev.tuning.resize = (enum mnet_resize)i;
                    found = 1;
                }
            if (!found)
                goto bad;
            break;
        }
        case 'c': {
            char *end;
            float f = strtof(optarg, &end);
            if (end == optarg || *end || !(f > 0.0f && f <= 1.0f))
                goto bad;
            ev.iopt.central_fraction = f;
            break;
        }
        case 'h': usage(stdout); return 0;
        default:
        bad:
            usage(stderr);
            return 2;
        }
    }
    if (!model_name || optind != argc) {
        usage(stderr);
        return 2;
    }

    /* dataset directory: --dir, else $MNET_SHARED or ../shared, else the build's shared dir */
    char dirbuf[4096], path[8192], err[256] = "";
    if (!dir) {
        const char *shared = getenv("MNET_SHARED");
        snprintf(dirbuf, sizeof dirbuf, "%s/testdata/openimages",
                 shared && *shared ? shared : "../shared");
        snprintf(path, sizeof path, "%s/ground_truth_labels.txt", dirbuf);
        if (access(path, R_OK) != 0)
            snprintf(dirbuf, sizeof dirbuf, "%s/testdata/openimages", MNET_SHARED_DIR);
        dir = dirbuf;
    }
    ev.dir = dir;

    /* ground truth */
    struct mnet_labels *truth = NULL, *labels = NULL;
    snprintf(path, sizeof path, "%s/ground_truth_labels.txt", dir);
    int rc = mnet_labels_load(path, &truth);
    if (rc) {
        fprintf(stderr, "mnet-eval: %s: %s\n", path, strerror(-rc));
        return 1;
    }
    ev.count = truth->count;
    if (limit > 0 && limit < ev.count)
        ev.count = limit;

    /* model */
    char model_path[4096], labels_path[8192];
    rc = mnet_path_find(model_name, model_dir, model_path, sizeof model_path);
    if (rc) {
        fprintf(stderr, "mnet-eval: model %s: %s\n", model_name, strerror(-rc));
        return 1;
    }
    struct mnet_options mopt = { .threads = threads, .max_batch = bsize, .precision = precision };
    mnet_model *model = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = mnet_load_file(model_path, &mopt, &model, err, sizeof err);
    if (rc) {
        fprintf(stderr, "mnet-eval: %s: %s\n", model_path, err[0] ? err : strerror(-rc));
        return 1;
    }
    const struct mnet_info *info = mnet_get_info(model);
    ev.h = info->height;
    ev.w = info->width;
    ev.bsize = bsize;
    if (ev.mlts_input && info->input_type != MNET_U8)
        ev.mlts_input = 0; /* float models: MLTS's (x * 2 / 255 - 1) is ours */
    for (int x = 0; x < 256; x++) {
        volatile float f = (float)x * 2.0f / 255.0f - 1.0f; /* float32 like Java */
        ev.lut[x] = (uint8_t)((int)(f / 0.007812f + 128.0f) & 0xff);
    }

    /* class names: --labels, else the dataset's labels.txt if it fits, else the model's */
    if (labels_name) {
        rc = mnet_path_find(labels_name, model_dir, labels_path, sizeof labels_path);
    } else {
        snprintf(labels_path, sizeof labels_path, "%s/labels.txt", dir);
        struct mnet_labels *dl = NULL;
        if (!mnet_labels_load(labels_path, &dl) && dl->count == info->classes)
            rc = 0;
        else
            rc = mnet_path_default_labels(model_path, info->classes, model_dir, labels_path,
                                          sizeof labels_path);
        mnet_labels_free(dl);
    }
    if (!rc)
        rc = mnet_labels_load(labels_path, &labels);
    if (rc) {
        fprintf(stderr, "mnet-eval: no labels for %s (%d classes): %s\n", model_path,
                info->classes, strerror(-rc));
        return 1;
    }
    if (labels->count != info->classes) {
        fprintf(stderr, "mnet-eval: %s has %d labels, the model %d classes\n", labels_path,
                labels->count, info->classes);
        return 1;
    }
    /* every ground-truth name must name at least one class */
    for (int i = 0; i < ev.count; i++) {
        int any = 0;
        for (int j = 0; j < labels->count && !any; j++)
            any = name_matches(truth->label[i], labels->label[j]);
        if (!any) {
            fprintf(stderr, "mnet-eval: ground truth line %d \"%s\" matches no label in %s\n",
                    i + 1, truth->label[i], labels_path);
            return 1;
        }
    }

    size_t img_bytes = (size_t)ev.h * ev.w * 3;
    for (int s = 0; s < 2; s++) {
        ev.buf[s].rgb = malloc(img_bytes * bsize);
        ev.buf[s].image = malloc(sizeof(int) * bsize);
        ev.buf[s].failed = malloc(sizeof(int) * bsize);
        if (!ev.buf[s].rgb || !ev.buf[s].image || !ev.buf[s].failed) {
            fprintf(stderr, "mnet-eval: out of memory\n");
            return 1;
        }
    }
    float *scores = malloc(sizeof(float) * info->classes * bsize);
    if (!scores) {
        fprintf(stderr, "mnet-eval: out of memory\n");
        return 1;
    }
    pthread_mutex_init(&ev.mu, NULL);
    pthread_cond_init(&ev.cv, NULL);
    pthread_t th;
    if (pthread_create(&th, NULL, decoder, &ev) != 0) {
        fprintf(stderr, "mnet-eval: cannot start the decoder thread\n");
        return 1;
    }

    int top1 = 0, top5 = 0, failed = 0, done = 0, status = 0;
    for (int slot = 0;; slot ^= 1) {
        struct batch *b = &ev.buf[slot];
        pthread_mutex_lock(&ev.mu);
        while (!b->full)
            pthread_cond_wait(&ev.cv, &ev.mu);
        pthread_mutex_unlock(&ev.mu);

        failed += b->nfailed;
        done += b->nfailed;
        if (b->n > 0) {
            rc = mnet_classify(model, b->rgb, b->n, scores);
            if (rc) {
                fprintf(stderr, "mnet-eval: inference failed: %s\n", strerror(-rc));
                status = 1;
            }
        }
        for (int s = 0; s < b->n && !rc; s++) {
            int idx[TOPK];
            float val[TOPK];
            int k = mnet_top_k(scores + (size_t)s * info->classes, info->classes, TOPK, idx, val);
            const char *want = truth->label[b->image[s]];
            for (int j = 0; j < k; j++) {
                if (name_matches(want, labels->label[idx[j]])) {
                    top1 += j == 0;
                    top5++;
                    break;
                }
            }
            done++;
        }
        int last = b->last;
        pthread_mutex_lock(&ev.mu);
        b->full = 0;
        pthread_cond_broadcast(&ev.cv);
        pthread_mutex_unlock(&ev.mu);
        if (last || status)
            break;
    }
    if (status) {
        /* the decoder exits after its current batch */
        pthread_mutex_lock(&ev.mu);
        ev.stop = 1;
        pthread_cond_broadcast(&ev.cv);
        pthread_mutex_unlock(&ev.mu);
    }
    pthread_join(th, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

    const char *base = strrchr(model_path, '/');
    base = base ? base + 1 : model_path;
    double n = done > 0 ? done : 1;
    if (json) {
        printf("{\"model\":\"%s\",\"images\":%d,\"top1\":%.4f,\"top5\":%.4f,\"correct_top1\":%d,"
               "\"correct_top5\":%d,\"decode_errors\":%d,\"precision\":\"%s\",\"crop\":%g,"
               "\"resize\":\"%s\",\"dct_scaling\":%d,\"square_crop\":%s,\"mlts_input\":%s,"
               "\"batch\":%d,\"threads\":%d,"
               "\"seconds\":%.2f}\n",
               base, done, top1 / n, top5 / n, top1, top5, failed,
               precision == MNET_PRECISION_FLOAT32 ? "float32" : "native",
               (double)ev.iopt.central_fraction, resize_names[ev.tuning.resize],
               ev.tuning.dct_scaling, ev.tuning.square_crop ? "true" : "false",
               ev.mlts_input ? "true" : "false", bsize, info->threads, secs);
    } else {
        printf("model %s (%s)  images %d  top-1 %.4f (%d)  top-5 %.4f (%d)  decode errors %d  "
               "crop %g%s resize %s dct-ratio %d%s  %.1f s\n",
               base, precision == MNET_PRECISION_FLOAT32 ? "float32" : "native", done, top1 / n,
               top1, top5 / n, top5, failed, (double)ev.iopt.central_fraction,
               ev.tuning.square_crop ? " (square)" : "", resize_names[ev.tuning.resize],
               ev.tuning.dct_scaling, ev.mlts_input ? " mlts-input" : "", secs);
    }
    for (int s = 0; s < 2; s++) {
        free(ev.buf[s].rgb);
        free(ev.buf[s].image);
        free(ev.buf[s].failed);
    }
    free(scores);
    mnet_labels_free(truth);
    mnet_labels_free(labels);
    mnet_free(model);
    return status;
}
