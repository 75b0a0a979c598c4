/* metrics.c: Prometheus text exposition format 0.0.4, our own registry.
 *
 * Values live in _Atomic uint64_t: integer counts as themselves, doubles as
 * their bit pattern updated with a compare-and-swap loop, so updates from
 * HTTP threads and the engine thread never take a lock.  Histogram buckets are
 * stored per bucket (not cumulative); rendering snapshots them once and
 * derives the cumulative counts and _count from that one snapshot, so
 * le="+Inf" always equals _count in the output.
 */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct metrics_series {
    metrics_family *fam;
    metrics_series *next;
    char *values[METRICS_MAX_LABELS];
    _Atomic uint64_t bits;        /* counter/gauge value, or histogram sum (double bits) */
    _Atomic uint64_t *buckets;    /* histograms: n_buckets + 1 counts (last is +Inf) */
    _Atomic bool hidden;          /* left out of the exposition (a model gone by a reload) */
};

struct metrics_family {
    metrics_registry *reg;
    metrics_family *next;
    enum metrics_type type;
    char *name;
    char *help;
    int n_labels;
    char *labels[METRICS_MAX_LABELS];
    int n_buckets;
    double buckets[METRICS_MAX_BUCKETS];
    metrics_series *head, *tail;
    int n_series;
};

struct metrics_registry {
    pthread_mutex_t lock;
    metrics_family *head, *tail;
    bool process;
};

const double metrics_buckets_request_s[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                            0.25,  0.5,    1,     2.5,  5,     10};
const int metrics_n_buckets_request_s = 13;
const double metrics_buckets_fast_s[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                         0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
const int metrics_n_buckets_fast_s = 14;
const double metrics_buckets_batch[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256};
const int metrics_n_buckets_batch = 14;
const double metrics_buckets_bytes[] = {1024,   4096,    16384,   65536,    262144,
                                        1048576, 4194304, 16777216, 67108864};
const int metrics_n_buckets_bytes = 9;

/* ---- atomics on doubles ---- */

static double bits_to_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t double_to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static void atomic_add_double(_Atomic uint64_t *p, double v)
{
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(p, &old, double_to_bits(bits_to_double(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

/* ---- registry ---- */

int metrics_registry_new(metrics_registry **out)
{
    metrics_registry *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    pthread_mutex_init(&r->lock, NULL);
    *out = r;
    return 0;
}

static void series_free(metrics_series *s)
{
    for (int i = 0; i < METRICS_MAX_LABELS; i++)
        free(s->values[i]);
    free(s->buckets);
    free(s);
}

static void family_free(metrics_family *f)
{
    if (!f)
        return;
    for (metrics_series *s = f->head, *n; s; s = n) {
        n = s->next;
        series_free(s);
    }
    for (int i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    free(f);
}

void metrics_registry_free(metrics_registry *r)
{
    if (!r)
        return;
    for (metrics_family *f = r->head, *n; f; f = n) {
        n = f->next;
        family_free(f);
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void metrics_enable_process(metrics_registry *r)
{
    pthread_mutex_lock(&r->lock);
    r->process = true;
    pthread_mutex_unlock(&r->lock);
}

static bool valid_metric_name(const char *s)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(p > s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

static bool valid_label_name(const char *s)
{
    if (!valid_metric_name(s) || strchr(s, ':') || !strncmp(s, "__", 2))
        return false;
    return true;
}

static metrics_series *series_new(metrics_family *f, const char *const *values)
{
    metrics_series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fam = f;
    for (int i = 0; i < f->n_labels; i++) {
        s->values[i] = strdup(values[i] ? values[i] : "");
        if (!s->values[i])
            goto fail;
    }
    if (f->type == METRICS_HISTOGRAM) {
        s->buckets = calloc((size_t)f->n_buckets + 1, sizeof *s->buckets);
        if (!s->buckets)
            goto fail;
    }
    atomic_init(&s->bits, double_to_bits(0.0));
    atomic_init(&s->hidden, false);
    if (f->tail)
        f->tail->next = s;
    else
        f->head = s;
    f->tail = s;
    f->n_series++;
    return s;
fail:
    series_free(s);
    return NULL;
}

int metrics_family_new(metrics_registry *r, enum metrics_type type, const char *name,
                       const char *help, const char *labels, const double *buckets,
                       int n_buckets, metrics_family **out)
{
    if (!r || !valid_metric_name(name) || type < METRICS_COUNTER || type > METRICS_HISTOGRAM)
        return -EINVAL;
    if (type == METRICS_HISTOGRAM) {
        if (!buckets || n_buckets < 1 || n_buckets > METRICS_MAX_BUCKETS)
            return -EINVAL;
        for (int i = 0; i < n_buckets; i++)
            if (!isfinite(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])))
                return -EINVAL;
    } else if (buckets || n_buckets) {
        return -EINVAL;
    }
    metrics_family *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->reg = r;
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    if (!f->name || !f->help)
        goto nomem;
    if (type == METRICS_HISTOGRAM) {
        f->n_buckets = n_buckets;
        memcpy(f->buckets, buckets, (size_t)n_buckets * sizeof *buckets);
    }
    if (labels && *labels) {
        const char *p = labels;
        while (1) {
            const char *c = strchr(p, ',');
            size_t l = c ? (size_t)(c - p) : strlen(p);
            if (f->n_labels == METRICS_MAX_LABELS) {
                family_free(f);
                return -EINVAL;
            }
            char *ln = strndup(p, l);
            if (!ln)
                goto nomem;
            f->labels[f->n_labels++] = ln;
            if (!valid_label_name(ln) || (type == METRICS_HISTOGRAM && !strcmp(ln, "le"))) {
                family_free(f);
                return -EINVAL;
            }
            for (int i = 0; i + 1 < f->n_labels; i++)
                if (!strcmp(f->labels[i], ln)) {
                    family_free(f);
                    return -EINVAL;
                }
            if (!c)
                break;
            p = c + 1;
        }
    }
    if (f->n_labels == 0 && !series_new(f, NULL))
        goto nomem;

    pthread_mutex_lock(&r->lock);
    for (metrics_family *g = r->head; g; g = g->next) {
        if (!strcmp(g->name, name)) {
            pthread_mutex_unlock(&r->lock);
            family_free(f);
            return -EEXIST;
        }
    }
    if (r->tail)
        r->tail->next = f;
    else
        r->head = f;
    r->tail = f;
    pthread_mutex_unlock(&r->lock);
    *out = f;
    return 0;
nomem:
    family_free(f);
    return -ENOMEM;
}

metrics_series *metrics_labels(metrics_family *f, ...)
{
    if (!f)
        return NULL;
    const char *values[METRICS_MAX_LABELS] = {0};
    va_list ap;
    va_start(ap, f);
    for (int i = 0; i < f->n_labels; i++) {
        values[i] = va_arg(ap, const char *);
        if (!values[i])
            values[i] = "";
    }
    va_end(ap);

    pthread_mutex_lock(&f->reg->lock);
    metrics_series *s;
    for (s = f->head; s; s = s->next) {
        int i = 0;
        while (i < f->n_labels && !strcmp(s->values[i], values[i]))
            i++;
        if (i == f->n_labels)
            break;
    }
    if (!s && f->n_series < METRICS_MAX_SERIES)
        s = series_new(f, values);
    pthread_mutex_unlock(&f->reg->lock);
    return s;
}

void metrics_add(metrics_series *s, double v)
{
    if (!s || s->fam->type == METRICS_HISTOGRAM || isnan(v))
        return;
    if (s->fam->type == METRICS_COUNTER && v < 0)
        return; /* counters only go up */
    atomic_add_double(&s->bits, v);
}

void metrics_inc(metrics_series *s)
{
    metrics_add(s, 1.0);
}

void metrics_set(metrics_series *s, double v)
{
    if (!s || s->fam->type != METRICS_GAUGE)
        return;
    atomic_store_explicit(&s->bits, double_to_bits(v), memory_order_relaxed);
}

void metrics_observe(metrics_series *s, double v)
{
    if (!s || s->fam->type != METRICS_HISTOGRAM || isnan(v))
        return;
    const metrics_family *f = s->fam;
    int i = 0;
    while (i < f->n_buckets && v > f->buckets[i]) /* le: v <= bound */
        i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    atomic_add_double(&s->bits, v);
}

double metrics_value(const metrics_series *s)
{
    if (!s)
        return 0;
    return bits_to_double(atomic_load_explicit((_Atomic uint64_t *)&s->bits, memory_order_relaxed));
}

unsigned long long metrics_count(const metrics_series *s)
{
    if (!s || !s->buckets)
        return 0;
    unsigned long long n = 0;
    for (int i = 0; i <= s->fam->n_buckets; i++)
        n += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
    return n;
}

/* ---- rendering ---- */

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sb_grow(struct sbuf *b, size_t need)
{
    if (b->oom || b->len + need + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + need + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    sb_grow(b, (size_t)n);
    if (b->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void sb_putc(struct sbuf *b, char c)
{
    sb_grow(b, 1);
    if (b->oom)
        return;
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
}

/* Label values escape \, " and newline; HELP text escapes \ and newline. */
static void sb_escaped(struct sbuf *b, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\') {
            sb_putc(b, '\\');
            sb_putc(b, '\\');
        } else if (*s == '\n') {
            sb_putc(b, '\\');
            sb_putc(b, 'n');
        } else if (quote && *s == '"') {
            sb_putc(b, '\\');
            sb_putc(b, '"');
        } else {
            sb_putc(b, *s);
        }
    }
}

/* Go-style float text: +Inf, -Inf, NaN, else the shortest %g that round-trips. */
static void format_value(double v, char *buf, size_t n)
{
    if (isnan(v)) {
        snprintf(buf, n, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, n, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void sb_header(struct sbuf *b, const char *name, const char *help, const char *type)
{
    sb_printf(b, "# HELP %s ", name);
    sb_escaped(b, help, false);
    sb_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* name{l1="v1",...,extra_name="extra_value"} value */
static void sb_sample(struct sbuf *b, const char *name, const char *suffix, const metrics_family *f,
                      const metrics_series *s, const char *extra_name, const char *extra_value,
                      double v)
{
    sb_printf(b, "%s%s", name, suffix);
    int n = f ? f->n_labels : 0;
    if (n || extra_name) {
        sb_putc(b, '{');
        for (int i = 0; i < n; i++) {
            sb_printf(b, "%s%s=\"", i ? "," : "", f->labels[i]);
            sb_escaped(b, s->values[i], true);
            sb_putc(b, '"');
        }
        if (extra_name) {
            sb_printf(b, "%s%s=\"", n ? "," : "", extra_name);
            sb_escaped(b, extra_value, true);
            sb_putc(b, '"');
        }
        sb_putc(b, '}');
    }
    char vb[40];
    format_value(v, vb, sizeof vb);
    sb_printf(b, " %s\n", vb);
}

static void render_family(struct sbuf *b, const metrics_family *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    sb_header(b, f->name, f->help, types[f->type]);
    for (const metrics_series *s = f->head; s; s = s->next) {
        if (atomic_load_explicit((_Atomic bool *)&s->hidden, memory_order_relaxed))
            continue;
        if (f->type != METRICS_HISTOGRAM) {
            sb_sample(b, f->name, "", f, s, NULL, NULL, metrics_value(s));
            continue;
        }
        uint64_t snap[METRICS_MAX_BUCKETS + 1];
        for (int i = 0; i <= f->n_buckets; i++)
            snap[i] = atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        uint64_t cum = 0;
        char le[40];
        for (int i = 0; i <= f->n_buckets; i++) {
            cum += snap[i];
            if (i < f->n_buckets)
                format_value(f->buckets[i], le, sizeof le);
            else
                snprintf(le, sizeof le, "+Inf");
            sb_sample(b, f->name, "_bucket", f, s, "le", le, (double)cum);
        }
        sb_sample(b, f->name, "_sum", f, s, NULL, NULL, metrics_value(s));
        sb_sample(b, f->name, "_count", f, s, NULL, NULL, (double)cum);
    }
}

static void render_process(struct sbuf *b)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        sb_header(b, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                  "counter");
        sb_sample(b, "process_cpu_seconds_total", "", NULL, NULL, NULL, NULL, cpu);
    }
    long page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        unsigned long long vm, rss;
        if (fscanf(f, "%llu %llu", &vm, &rss) == 2) {
            sb_header(b, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge");
            sb_sample(b, "process_virtual_memory_bytes", "", NULL, NULL, NULL, NULL,
                      (double)vm * (double)page);
            sb_header(b, "process_resident_memory_bytes", "Resident memory size in bytes.",
                      "gauge");
            sb_sample(b, "process_resident_memory_bytes", "", NULL, NULL, NULL, NULL,
                      (double)rss * (double)page);
        }
        fclose(f);
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.')
                n++;
        closedir(d);
        sb_header(b, "process_open_fds", "Number of open file descriptors.", "gauge");
        sb_sample(b, "process_open_fds", "", NULL, NULL, NULL, NULL, (double)(n - 1)); /* minus the DIR's own fd */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        sb_header(b, "process_max_fds", "Maximum number of open file descriptors.", "gauge");
        sb_sample(b, "process_max_fds", "", NULL, NULL, NULL, NULL,
                  rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);
    }
    /* Start time: field 22 of /proc/self/stat (ticks after boot) + btime. */
    double start = -1;
    f = fopen("/proc/self/stat", "r");
    if (f) {
        char line[1024];
        if (fgets(line, sizeof line, f)) {
            char *p = strrchr(line, ')'); /* comm may contain spaces */
            unsigned long long ticks;
            /* after ')': state is field 3, starttime field 22 -> skip 19 fields */
            if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d "
                                   "%*d %*d %*d %*d %*d %llu", &ticks) == 1)
                start = (double)ticks / (double)sysconf(_SC_CLK_TCK);
        }
        fclose(f);
    }
    f = fopen("/proc/stat", "r");
    if (f && start >= 0) {
        char line[256];
        unsigned long long btime;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "btime %llu", &btime) == 1) {
                sb_header(b, "process_start_time_seconds",
                          "Start time of the process since unix epoch in seconds.", "gauge");
                sb_sample(b, "process_start_time_seconds", "", NULL, NULL, NULL, NULL,
                          (double)btime + start);
                break;
            }
    }
    if (f)
        fclose(f);
}

int metrics_render(metrics_registry *r, char **out, size_t *len)
{
    if (!r || !out)
        return -EINVAL;
    struct sbuf b = {0};
    sb_grow(&b, 8192);
    pthread_mutex_lock(&r->lock);
    for (const metrics_family *f = r->head; f; f = f->next)
        render_family(&b, f);
    bool process = r->process;
    pthread_mutex_unlock(&r->lock);
    if (process)
        render_process(&b);
    if (b.oom) {
        free(b.p);
        return -ENOMEM;
    }
    if (!b.p) { /* empty registry */
        b.p = calloc(1, 1);
        if (!b.p)
            return -ENOMEM;
    }
    *out = b.p;
    if (len)
        *len = b.len;
    return 0;
}

/* ---- the mobilenetd metric set ---- */

int metrics_daemon_init(struct metrics_daemon *m)
{
    struct metrics_daemon d = {0};
    int r = metrics_registry_new(&d.reg);
    if (r < 0)
        return r;
    struct {
        metrics_family **out;
        enum metrics_type type;
        const char *name, *help, *labels;
        const double *buckets;
        int n;
    } defs[] = {
        {&d.requests_total, METRICS_COUNTER, "mobilenetd_requests_total",
         "HTTP requests answered, by endpoint and status code.", "endpoint,code", NULL, 0},
        {&d.images_total, METRICS_COUNTER, "mobilenetd_images_total",
         "Images classified.", "model", NULL, 0},
        {&d.batches_total, METRICS_COUNTER, "mobilenetd_batches_total",
         "Engine batches run.", "model", NULL, 0},
        {&d.rejected_total, METRICS_COUNTER, "mobilenetd_rejected_total",
         "Requests refused before inference, by reason.", "reason", NULL, 0},
        {&d.request_duration, METRICS_HISTOGRAM, "mobilenetd_request_duration_seconds",
         "Time from request arrival to the answer being queued, in seconds.", "endpoint",
         metrics_buckets_request_s, metrics_n_buckets_request_s},
        {&d.queue_duration, METRICS_HISTOGRAM, "mobilenetd_queue_duration_seconds",
         "Time an image waited in the batch queue, in seconds.", "model",
         metrics_buckets_fast_s, metrics_n_buckets_fast_s},
        {&d.decode_duration, METRICS_HISTOGRAM, "mobilenetd_decode_duration_seconds",
         "Time to decode, crop and resize one image, in seconds.", NULL,
         metrics_buckets_fast_s, metrics_n_buckets_fast_s},
        {&d.inference_duration, METRICS_HISTOGRAM, "mobilenetd_inference_duration_seconds",
         "Time of one engine run (a whole batch), in seconds.", "model",
         metrics_buckets_fast_s, metrics_n_buckets_fast_s},
        {&d.batch_size, METRICS_HISTOGRAM, "mobilenetd_batch_size",
         "Images per engine run.", "model", metrics_buckets_batch, metrics_n_buckets_batch},
        {&d.request_body_bytes, METRICS_HISTOGRAM, "mobilenetd_request_body_bytes",
         "Request body sizes in bytes.", NULL, metrics_buckets_bytes, metrics_n_buckets_bytes},
        {&d.queue_depth, METRICS_GAUGE, "mobilenetd_queue_depth",
         "Images waiting in the batch queue.", "model", NULL, 0},
        {&d.queue_capacity, METRICS_GAUGE, "mobilenetd_queue_capacity",
         "Batch queue capacity in images (max_queue_images).", "model", NULL, 0},
        {&d.inflight_requests, METRICS_GAUGE, "mobilenetd_inflight_requests",
         "Requests accepted and not yet answered.", NULL, NULL, 0},
        {&d.ready, METRICS_GAUGE, "mobilenetd_ready",
         "1 when the daemon is ready to serve (/readyz is 200), else 0.", NULL, NULL, 0},
        {&d.model_load_seconds, METRICS_GAUGE, "mobilenetd_model_load_seconds",
         "Seconds the model took to load and warm up.", "model", NULL, 0},
        {&d.build_info, METRICS_GAUGE, "mobilenetd_build_info",
         "Version and loaded models; the value is always 1.", "version,model,weights_sha256",
         NULL, 0},
    };
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        r = metrics_family_new(d.reg, defs[i].type, defs[i].name, defs[i].help, defs[i].labels,
                               defs[i].buckets, defs[i].n, defs[i].out);
        if (r < 0) {
            metrics_registry_free(d.reg);
            return r;
        }
    }
    metrics_enable_process(d.reg);
    *m = d;
    return 0;
}

void metrics_daemon_free(struct metrics_daemon *m)
{
    if (!m)
        return;
    metrics_registry_free(m->reg);
    memset(m, 0, sizeof *m);
}

static bool in_set(const char *model, const char *sha, int n, const char *const *models,
                   const char *const *shas)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(model, models[i]) && (!sha || !strcmp(sha, shas[i])))
            return true;
    return false;
}

void metrics_daemon_retire_except(struct metrics_daemon *m, int n, const char *const *models,
                                  const char *const *weights_sha256)
{
    if (!m || !m->reg || !m->build_info)
        return;
    metrics_family *per_model[] = {m->queue_capacity, m->model_load_seconds, m->queue_depth};
    pthread_mutex_lock(&m->reg->lock);
    for (metrics_series *s = m->build_info->head; s; s = s->next) /* labels version,model,sha */
        if (!in_set(s->values[1], s->values[2], n, models, weights_sha256))
            atomic_store(&s->bits, double_to_bits(0.0));
    for (size_t f = 0; f < sizeof per_model / sizeof *per_model; f++)
        for (metrics_series *s = per_model[f]->head; s; s = s->next) /* label model */
            if (!in_set(s->values[0], NULL, n, models, weights_sha256))
                atomic_store(&s->hidden, true);
    pthread_mutex_unlock(&m->reg->lock);
}

void metrics_daemon_model(struct metrics_daemon *m, const char *version, const char *model,
                          const char *weights_sha256, int queue_capacity, double load_seconds)
{
    if (!m || !m->reg)
        return;
    metrics_series *s[] = {metrics_labels(m->queue_capacity, model),
                           metrics_labels(m->model_load_seconds, model),
                           metrics_labels(m->queue_depth, model)};
    metrics_set(metrics_labels(m->build_info, version, model, weights_sha256), 1);
    metrics_set(s[0], queue_capacity);
    metrics_set(s[1], load_seconds);
    metrics_set(s[2], 0);
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        if (s[i])
            atomic_store(&s[i]->hidden, false);
}
