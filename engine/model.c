/* model.c: the public engine API (mnet.h): load, build, info, run, classify,
 * top-k.  A model is a plan plus its info and the staging buffers
 * mnet_classify needs, all allocated at load (nothing per inference). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph.h"
#include "kernels.h"
#include "mnet.h"
#include "plan.h"
#include "quant.h"
#include "sha256.h"

struct mnet_model {
    struct mnet_plan *plan;
    struct mnet_info info;
    void *in_stage;   /* (max_batch, H, W, 3) in input_type, for mnet_classify */
    void *out_stage;  /* (max_batch, classes) in output_type */
};

/* Plan the graph and wrap it; the graph may be freed afterwards. */
static int model_from_graph(const struct mnet_graph *g, const struct mnet_options *opt,
                            const char *sha, mnet_model **out, char *err, size_t errlen)
{
    struct mnet_plan *plan = NULL;
    int r = mnet_plan_build(g, opt, &plan, err, errlen);
    if (r < 0)
        return r;
    const struct mnet_plan_io *io = mnet_plan_io(plan);
    mnet_model *m = calloc(1, sizeof(*m));
    if (!m) {
        mnet_plan_free(plan);
        return mnet_error(err, errlen, -ENOMEM, "out of memory");
    }
    m->plan = plan;
    struct mnet_info *in = &m->info;
    snprintf(in->arch, sizeof in->arch, "%s", g->arch[0] ? g->arch : "unknown");
    in->height = io->height;
    in->width = io->width;
    in->channels = io->channels;
    in->classes = io->classes;
    in->numerics = io->numerics;
    in->input_type = io->input_type;
    in->input_scale = io->input_scale;
    in->input_zero_point = io->input_zero_point;
    in->output_type = io->output_type;
    in->output_scale = io->output_scale;
    in->output_zero_point = io->output_zero_point;
    in->output_is_softmax = io->output_is_softmax;
    in->ops = g->n_ops;
    in->weights_bytes = io->weights_bytes;
    in->arena_bytes = io->arena_bytes;
    in->max_batch = io->max_batch;
    in->threads = io->threads;
    snprintf(in->sha256, sizeof in->sha256, "%s", sha ? sha : "");
    snprintf(in->kernels, sizeof in->kernels, "%s", mnet_kernels_select()->name);
    size_t pix = (size_t)io->height * io->width * io->channels;
    m->in_stage = malloc(pix * mnet_dtype_size(io->input_type) * (size_t)io->max_batch);
    m->out_stage = malloc((size_t)io->classes * mnet_dtype_size(io->output_type) * (size_t)io->max_batch);
    if (!m->in_stage || !m->out_stage) {
        mnet_free(m);
        return mnet_error(err, errlen, -ENOMEM, "out of memory");
    }
    *out = m;
    return 0;
}

static int load_bytes(const uint8_t *data, size_t size, const struct mnet_options *opt,
                      mnet_model **out, char *err, size_t errlen)
{
    struct mnet_graph g = {0};
    char sha[65];
    mnet_sha256_hex(data, size, sha);
    int r = mnet_tflite_parse(data, size, &g, err, errlen);
    if (r < 0)
        return r;
    r = model_from_graph(&g, opt, sha, out, err, errlen);
    mnet_graph_free(&g);
    return r;
}

int mnet_load_buffer(const void *data, size_t size, const struct mnet_options *opt,
                     mnet_model **out, char *err, size_t errlen)
{
    if (!data || !out)
        return mnet_error(err, errlen, -EINVAL, "mnet_load_buffer: NULL argument");
    /* the plan keeps nothing of the buffer, so a private copy only has to
     * outlive parsing: the caller's bytes cannot change under the reader */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return mnet_error(err, errlen, -ENOMEM, "out of memory");
    memcpy(copy, data, size);
    int r = load_bytes(copy, size, opt, out, err, errlen);
    free(copy);
    return r;
}

int mnet_load_file(const char *path, const struct mnet_options *opt, mnet_model **out,
                   char *err, size_t errlen)
{
    if (!path || !out)
        return mnet_error(err, errlen, -EINVAL, "mnet_load_file: NULL argument");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return mnet_error(err, errlen, -e, "%s: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return mnet_error(err, errlen, -EINVAL, "%s: not a regular file", path);
    }
    if (st.st_size > ((off_t)1 << 31)) {
        close(fd);
        return mnet_error(err, errlen, -EFBIG, "%s: model file over 2 GiB", path);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return mnet_error(err, errlen, -ENOMEM, "out of memory");
    }
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fd, buf + got, size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int e = k < 0 ? errno : EIO;
            free(buf);
            close(fd);
            return mnet_error(err, errlen, -e, "%s: read failed", path);
        }
        got += (size_t)k;
    }
    close(fd);
    int r = load_bytes(buf, size, opt, out, err, errlen);
    free(buf);
    return r;
}

int mnet_build(const struct mnet_build_spec *spec, const struct mnet_options *opt,
               mnet_model **out, char *err, size_t errlen)
{
    if (!spec || !out)
        return mnet_error(err, errlen, -EINVAL, "mnet_build: NULL argument");
    struct mnet_graph g = {0};
    int r = mnet_build_graph(spec, &g, err, errlen);
    if (r < 0)
        return r;
    r = model_from_graph(&g, opt, "", out, err, errlen);
    mnet_graph_free(&g);
    return r;
}

void mnet_free(mnet_model *m)
{
    if (!m)
        return;
    mnet_plan_free(m->plan);
    free(m->in_stage);
    free(m->out_stage);
    free(m);
}

const struct mnet_info *mnet_get_info(const mnet_model *m) { return m ? &m->info : NULL; }

int mnet_run(mnet_model *m, const void *input, int n, void *output)
{
    if (!m || !input || !output || n < 1)
        return -EINVAL;
    const struct mnet_info *in = &m->info;
    size_t in_img = (size_t)in->height * in->width * in->channels * mnet_dtype_size(in->input_type);
    size_t out_img = (size_t)in->classes * mnet_dtype_size(in->output_type);
    for (int done = 0; done < n;) {
        int k = n - done < in->max_batch ? n - done : in->max_batch;
        int r = mnet_plan_run(m->plan, (const uint8_t *)input + (size_t)done * in_img, k,
                              (uint8_t *)output + (size_t)done * out_img);
        if (r < 0)
            return r;
        done += k;
    }
    return 0;
}

/* RGB bytes to the model's raw input (see mnet.h), in dst; returns where the
 * input is: rgb itself when the bytes already are it (uint8 models quantized
 * as (x - 128) / 128), which saves copying a whole batch. */
static const void *normalize_input(const struct mnet_info *in, const uint8_t *rgb, size_t count,
                                   void *dst)
{
    if (in->input_type == MNET_F32) {
        float *d = dst;
        for (size_t i = 0; i < count; i++)
            d[i] = ((float)rgb[i] - 127.5f) / 127.5f;
        return dst;
    }
    if (in->input_type == MNET_U8 && in->input_zero_point == 128 &&
        fabsf(in->input_scale - 1.0f / 128.0f) < 1e-7f)
        return rgb;
    int lo = in->input_type == MNET_I8 ? -128 : 0, hi = in->input_type == MNET_I8 ? 127 : 255;
    int32_t lut[256];
    for (int v = 0; v < 256; v++) {
        float f = ((float)v - 127.5f) / 127.5f;
        int32_t q = (int32_t)mnet_roundf(f / in->input_scale) + in->input_zero_point;
        lut[v] = q < lo ? lo : q > hi ? hi : q;
    }
    uint8_t *d = dst;
    for (size_t i = 0; i < count; i++)
        d[i] = (uint8_t)lut[rgb[i]];
    return dst;
}

int mnet_classify(mnet_model *m, const uint8_t *rgb, int n, float *scores)
{
    if (!m || !rgb || !scores || n < 1)
        return -EINVAL;
    const struct mnet_info *in = &m->info;
    size_t pix = (size_t)in->height * in->width * in->channels;
    const int C = in->classes;
    for (int done = 0; done < n;) {
        int k = n - done < in->max_batch ? n - done : in->max_batch;
        const void *x = normalize_input(in, rgb + (size_t)done * pix, (size_t)k * pix, m->in_stage);
        int r = mnet_plan_run(m->plan, x, k, m->out_stage);
        if (r < 0)
            return r;
        for (int b = 0; b < k; b++) {
            float *s = scores + (size_t)(done + b) * C;
            if (in->output_type == MNET_F32) {
                memcpy(s, (const float *)m->out_stage + (size_t)b * C, (size_t)C * sizeof(float));
            } else {
                const uint8_t *q = (const uint8_t *)m->out_stage + (size_t)b * C;
                for (int i = 0; i < C; i++) {
                    int32_t v = in->output_type == MNET_I8 ? (int32_t)(int8_t)q[i] : (int32_t)q[i];
                    s[i] = (float)(v - in->output_zero_point) * in->output_scale;
                }
            }
            double sum = 0;
            if (!in->output_is_softmax) {
                float mx = s[0];
                for (int i = 1; i < C; i++)
                    mx = s[i] > mx ? s[i] : mx;
                for (int i = 0; i < C; i++) {
                    s[i] = expf(s[i] - mx);
                    sum += s[i];
                }
            } else {
                /* a quantized softmax sums to 1 only within its 1/256 steps */
                for (int i = 0; i < C; i++)
                    sum += s[i];
            }
            if (sum > 0 && isfinite(sum))
                for (int i = 0; i < C; i++)
                    s[i] = (float)(s[i] / sum);
        }
        done += k;
    }
    return 0;
}

int mnet_top_k(const float *scores, int classes, int k, int *index, float *score)
{
    if (!scores || classes < 1 || k < 1 || !index || !score)
        return 0;
    if (k > classes)
        k = classes;
    int cnt = 0;
    for (int i = 0; i < classes; i++) {
        float v = scores[i];
        if (v != v) /* NaN never ranks */
            continue;
        if (cnt == k && !(v > score[k - 1]))
            continue;
        int j = cnt < k ? cnt++ : k - 1;
        /* insertion: strictly greater moves up, so ties keep the lower index first */
        while (j > 0 && v > score[j - 1]) {
            score[j] = score[j - 1];
            index[j] = index[j - 1];
            j--;
        }
        score[j] = v;
        index[j] = i;
    }
    return cnt;
}

void mnet_plan_profile_enable(mnet_model *m, enum mnet_profile_clock clock)
{
    if (m)
        mnet_plan_set_profile(m->plan, clock);
}

void mnet_plan_profile_print(const mnet_model *m, FILE *f, int json, int iters, int threads)
{
    if (m)
        mnet_plan_print_profile(m->plan, f, json, iters, threads);
}
