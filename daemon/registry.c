/* registry.c: loaded models, warm-up, refcounted hot swap. */
#include "registry.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct registry *g_current;
static struct registry **g_retired; /* replaced registries waiting for their last reference */
static int g_n_retired;
static unsigned long g_generation;

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void on_batch(void *cls, int n, int64_t infer_ns)
{
    struct model_slot *s = cls;
    metrics_inc(s->m_batches);
    metrics_add(s->m_images, n);
    metrics_observe(s->m_batch_size, n);
    metrics_observe(s->m_infer_s, (double)infer_ns / 1e9);
}

/* Read the labels file: one label per line.  A file with classes - 1 lines is
 * the common ImageNet list without "background": index 0 then has no label. */
static int load_labels(struct model_slot *s, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        seterr(err, errlen, "labels %s: %s", path, strerror(e));
        return -e;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (len + n + 1 > cap) {
            size_t nc = (len + n + 1) * 2;
            char *p = realloc(buf, nc);
            if (!p) {
                free(buf);
                fclose(f);
                return -ENOMEM;
            }
            buf = p;
            cap = nc;
        }
        memcpy(buf + len, chunk, n);
        len += n;
        if (len > (64u << 20)) {
            free(buf);
            fclose(f);
            seterr(err, errlen, "labels %s: file too large", path);
            return -EFBIG;
        }
    }
    fclose(f);
    if (!buf) {
        seterr(err, errlen, "labels %s: empty file", path);
        return -EINVAL;
    }
    buf[len] = 0;
    int classes = s->info->classes;
    const char **labels = calloc((size_t)classes, sizeof(*labels));
    if (!labels) {
        free(buf);
        return -ENOMEM;
    }
    /* count lines (a final line without newline counts; a trailing newline does not) */
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n')
            lines++;
    if (len > 0 && buf[len - 1] != '\n')
        lines++;
    int offset;
    if (lines == classes)
        offset = 0;
    else if (lines == classes - 1)
        offset = 1;
    else {
        seterr(err, errlen, "labels %s: %d lines but the model has %d classes", path, lines,
               classes);
        free(labels);
        free(buf);
        return -EINVAL;
    }
    char *p = buf;
    for (int i = 0; i < lines; i++) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        size_t l = strlen(p);
        if (l > 0 && p[l - 1] == '\r')
            p[l - 1] = 0;
        labels[i + offset] = p;
        p = nl ? nl + 1 : p + l;
    }
    if (offset)
        labels[0] = "";
    s->labels = labels;
    s->labels_buf = buf;
    return 0;
}

/* The last registry holding s lets go of it: stop its engine, free it. */
static void slot_unref(struct model_slot *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    batcher_free(s->batcher);
    mnet_free(s->model);
    free(s->labels);
    free(s->labels_buf);
    free(s);
}

static void registry_free(struct registry *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++)
        slot_unref(r->slots[i]);
    free(r->slots);
    free(r);
}

static int file_id_of(const char *path, struct file_id *id)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    id->dev = (unsigned long long)st.st_dev;
    id->ino = (unsigned long long)st.st_ino;
    id->size = (unsigned long long)st.st_size;
    id->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    return 0;
}

/* The slot of prev that cm can keep: same settings, same files on disk. */
static struct model_slot *unchanged_slot(const struct registry *prev, const struct config_model *cm)
{
    for (int i = 0; prev && i < prev->n; i++) {
        struct model_slot *s = prev->slots[i];
        if (memcmp(&s->cfg, cm, sizeof *cm) != 0)
            continue;
        struct file_id m = {0}, l = {0};
        if (file_id_of(cm->path, &m) != 0 || memcmp(&m, &s->model_id, sizeof m) != 0)
            return NULL;
        if (cm->labels[0] && (file_id_of(cm->labels, &l) != 0 || memcmp(&l, &s->labels_id, sizeof l) != 0))
            return NULL;
        return s;
    }
    return NULL;
}

static int slot_load(struct model_slot *s, const struct config_model *cm,
                     struct metrics_daemon *md, char *err, size_t errlen)
{
    char e[256] = "";
    s->cfg = *cm;
    /* identities first: a file replaced while loading is seen by the next reload */
    int rc = file_id_of(cm->path, &s->model_id);
    if (rc == 0 && cm->labels[0])
        rc = file_id_of(cm->labels, &s->labels_id);
    if (rc < 0) {
        seterr(err, errlen, "model %s: %s", cm->name, strerror(-rc));
        return rc;
    }
    struct mnet_options opt = {
        .threads = cm->threads,
        .max_batch = cm->max_batch_size,
        .precision = cm->precision == CONFIG_PRECISION_FLOAT32 ? MNET_PRECISION_FLOAT32
                                                               : MNET_PRECISION_NATIVE,
    };
    int64_t t0 = batcher_now_ns();
    rc = mnet_load_file(cm->path, &opt, &s->model, e, sizeof(e));
    if (rc < 0) {
        seterr(err, errlen, "model %s: %s: %s", cm->name, cm->path, e[0] ? e : strerror(-rc));
        return rc;
    }
    s->info = mnet_get_info(s->model);
    if (s->info->classes < 1 || s->info->height < 1 || s->info->width < 1 ||
        s->info->channels != 3) {
        seterr(err, errlen, "model %s: %s: unusable input/output shape", cm->name, cm->path);
        return -ENOTSUP;
    }
    if (cm->labels[0]) {
        rc = load_labels(s, cm->labels, e, sizeof(e));
        if (rc < 0) {
            seterr(err, errlen, "model %s: %s", cm->name, e);
            return rc;
        }
    }
    /* Warm-up: one full batch through the engine, so the first request does
     * not pay for page faults and OpenMP thread creation, and /readyz only
     * turns 200 once the engine has really run. */
    int nb = cm->max_batch_size;
    size_t img = (size_t)s->info->height * (size_t)s->info->width * 3;
    uint8_t *in = malloc((size_t)nb * img);                                  /* (N, H, W, 3) */
    float *out = malloc((size_t)nb * (size_t)s->info->classes * sizeof(float)); /* (N, classes) */
    if (!in || !out) {
        free(in);
        free(out);
        return -ENOMEM;
    }
    memset(in, 128, (size_t)nb * img);
    rc = mnet_classify(s->model, in, nb, out);
    free(in);
    free(out);
    if (rc < 0) {
        seterr(err, errlen, "model %s: warm-up batch failed: %s", cm->name, strerror(-rc));
        return rc;
    }
    s->load_seconds = (double)(batcher_now_ns() - t0) / 1e9;
    if (md) {
        s->m_images = metrics_labels(md->images_total, cm->name);
        s->m_batches = metrics_labels(md->batches_total, cm->name);
        s->m_queue_s = metrics_labels(md->queue_duration, cm->name);
        s->m_infer_s = metrics_labels(md->inference_duration, cm->name);
        s->m_batch_size = metrics_labels(md->batch_size, cm->name);
        s->m_depth = metrics_labels(md->queue_depth, cm->name);
    }
    struct batcher_options bo = {
        .max_batch = cm->max_batch_size,
        .max_delay_us = cm->max_batch_delay_us,
        .capacity = cm->max_queue_images,
        .on_batch = on_batch,
        .cls = s,
    };
    rc = batcher_new(s->model, &bo, &s->batcher);
    if (rc < 0) {
        seterr(err, errlen, "model %s: cannot start its engine thread: %s", cm->name,
               strerror(-rc));
        return rc;
    }
    return 0;
}

int registry_load(const struct config *cfg, const struct registry *prev,
                  struct metrics_daemon *md, struct registry **out, char *err, size_t errlen)
{
    if (cfg->n_models < 1) {
        seterr(err, errlen, "no model configured (use --model FILE or a [model NAME] section)");
        return -EINVAL;
    }
    struct registry *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->slots = calloc((size_t)cfg->n_models, sizeof(*r->slots));
    if (!r->slots) {
        free(r);
        return -ENOMEM;
    }
    for (int i = 0; i < cfg->n_models; i++) {
        struct model_slot *s = unchanged_slot(prev, &cfg->models[i]);
        if (s) {
            atomic_fetch_add(&s->refs, 1);
        } else {
            s = calloc(1, sizeof *s);
            if (!s) {
                registry_free(r);
                return -ENOMEM;
            }
            atomic_init(&s->refs, 1);
        }
        r->slots[i] = s;
        r->n = i + 1;
        int rc = s->model ? 0 : slot_load(s, &cfg->models[i], md, err, errlen);
        if (rc < 0) {
            registry_free(r);
            return rc;
        }
    }
    r->default_index = cfg->default_index;
    r->server = cfg->server;
    atomic_init(&r->refs, 1);
    *out = r;
    return 0;
}

void registry_publish(struct registry *r)
{
    pthread_mutex_lock(&g_lock);
    struct registry *old = g_current;
    r->generation = ++g_generation;
    for (int i = 0; i < r->n; i++)
        if (!r->slots[i]->generation)
            r->slots[i]->generation = r->generation;
    g_current = r;
    if (old) {
        struct registry **p = realloc(g_retired, (size_t)(g_n_retired + 1) * sizeof(*p));
        if (p) {
            g_retired = p;
            g_retired[g_n_retired++] = old;
        }
        /* (on ENOMEM the old registry leaks rather than being freed under a user) */
    }
    pthread_mutex_unlock(&g_lock);
    if (old)
        registry_release(old);
}

struct registry *registry_acquire(void)
{
    pthread_mutex_lock(&g_lock);
    struct registry *r = g_current;
    if (r)
        atomic_fetch_add(&r->refs, 1);
    pthread_mutex_unlock(&g_lock);
    return r;
}

void registry_release(struct registry *r)
{
    if (r)
        atomic_fetch_sub(&r->refs, 1);
}

int registry_reap(void)
{
    for (;;) {
        struct registry *dead = NULL;
        pthread_mutex_lock(&g_lock);
        for (int i = 0; i < g_n_retired && !dead; i++)
            if (atomic_load(&g_retired[i]->refs) == 0) {
                dead = g_retired[i];
                g_retired[i] = g_retired[--g_n_retired];
            }
        int left = g_n_retired;
        pthread_mutex_unlock(&g_lock);
        if (!dead)
            return left;
        registry_free(dead);
    }
}

/* Registry i of the current and retired ones (i = 0: current), or NULL. */
static struct registry *nth_registry(int i)
{
    return i == 0 ? g_current : i <= g_n_retired ? g_retired[i - 1] : NULL;
}

/* fn and/or count on every batcher of every registry, once each even when
 * registries share a slot; under g_lock. */
static void for_each_batcher(void (*fn)(struct batcher *, int), int arg, int *sum,
                             int (*count)(struct batcher *))
{
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i <= g_n_retired; i++) {
        const struct registry *r = nth_registry(i);
        for (int j = 0; r && j < r->n; j++) {
            const struct model_slot *s = r->slots[j];
            int seen = 0;
            for (int k = 0; k < i && !seen; k++) {
                const struct registry *q = nth_registry(k);
                for (int m = 0; q && m < q->n && !seen; m++)
                    seen = q->slots[m] == s;
            }
            if (seen || !s->batcher)
                continue;
            if (fn)
                fn(s->batcher, arg);
            if (count)
                *sum += count(s->batcher);
        }
    }
    pthread_mutex_unlock(&g_lock);
}

static void close_one(struct batcher *b, int arg)
{
    (void)arg;
    batcher_close(b);
}

void registry_close_all(void)
{
    for_each_batcher(close_one, 0, NULL, NULL);
}

int registry_pending(void)
{
    int sum = 0;
    for_each_batcher(NULL, 0, &sum, batcher_pending);
    return sum;
}

bool registry_engines_healthy(int64_t max_stall_ns)
{
    bool ok = true;
    pthread_mutex_lock(&g_lock);
    if (g_current)
        for (int i = 0; i < g_current->n; i++)
            if (g_current->slots[i]->batcher &&
                !batcher_progressing(g_current->slots[i]->batcher, max_stall_ns))
                ok = false;
    pthread_mutex_unlock(&g_lock);
    return ok;
}

void registry_fail_queued(int status)
{
    /* done() callbacks only take the request's own lock, never g_lock. */
    for_each_batcher(batcher_fail_queued, status, NULL, NULL);
}

void registry_shutdown(void)
{
    pthread_mutex_lock(&g_lock);
    struct registry *cur = g_current;
    g_current = NULL;
    struct registry **ret = g_retired;
    int nr = g_n_retired;
    g_retired = NULL;
    g_n_retired = 0;
    pthread_mutex_unlock(&g_lock);
    registry_free(cur);
    for (int i = 0; i < nr; i++)
        registry_free(ret[i]);
    free(ret);
}

struct model_slot *registry_find(struct registry *r, const char *name)
{
    if (!r)
        return NULL;
    if (!name || !*name)
        return r->slots[r->default_index];
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->slots[i]->cfg.name, name) == 0)
            return r->slots[i];
    return NULL;
}

const char *registry_label(const struct model_slot *s, int i)
{
    if (!s->labels || i < 0 || i >= s->info->classes || !s->labels[i])
        return "";
    return s->labels[i];
}
