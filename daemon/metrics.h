/* metrics.h: a small Prometheus registry (text exposition format 0.0.4).
 *
 * A registry holds metric families (counter, gauge, histogram), each with a
 * fixed list of label names; a family's series (one per tuple of label
 * values) are created on first use by metrics_labels().  Rendering walks the
 * families in registration order and writes HELP and TYPE once per family,
 * before its samples; histograms get cumulative _bucket{le=...} lines ending
 * with le="+Inf" (always equal to _count), then _sum and _count.  Label values
 * and HELP text are escaped per the format.  Process metrics (process_*) are
 * read from /proc at render time when enabled.
 *
 * Thread-safety: everything is safe from any thread.  Updates on a series
 * are lock-free atomics; metrics_labels() and rendering take the registry
 * mutex.  Series handles stay valid until the registry is freed, so hot paths
 * may cache them.
 *
 * Errors: 0 or negative errno.  Update functions accept a NULL series (no-op),
 * so a failed metrics_labels() never needs a branch at the call site.
 * A family holds at most METRICS_MAX_SERIES series (cardinality guard);
 * beyond that metrics_labels() returns NULL.
 */
#ifndef MOBILENETD_METRICS_H
#define MOBILENETD_METRICS_H

#include <stddef.h>

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_MAX_LABELS 4
#define METRICS_MAX_BUCKETS 32
#define METRICS_MAX_SERIES 1024

typedef struct metrics_registry metrics_registry;
typedef struct metrics_family metrics_family;
typedef struct metrics_series metrics_series;

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

int metrics_registry_new(metrics_registry **out);
void metrics_registry_free(metrics_registry *r); /* NULL-safe; frees families and series */

/* Add the process_* families (cpu seconds, resident/virtual memory, open and
 * max fds, start time), computed from /proc/self at each render. */
void metrics_enable_process(metrics_registry *r);

/* Register a family.  name: [a-zA-Z_:][a-zA-Z0-9_:]* (counters should end in
 * _total).  labels: comma-separated label names ("endpoint,code") or NULL/""
 * for none; "le" is reserved.  buckets: strictly increasing upper bounds for
 * histograms (+Inf is implicit), NULL otherwise.  A family without labels
 * gets its one series at once, so it renders as 0 before the first update.
 * -EINVAL bad name/labels/buckets, -EEXIST name taken, -ENOMEM. */
int metrics_family_new(metrics_registry *r, enum metrics_type type, const char *name,
                       const char *help, const char *labels, const double *buckets,
                       int n_buckets, metrics_family **out);

/* The series for these label values (exactly as many const char * as the
 * family has label names; NULL values are treated as ""), created if new.
 * NULL on ENOMEM or past METRICS_MAX_SERIES.  Cache the result on hot paths. */
metrics_series *metrics_labels(metrics_family *f, ...);

/* Updates (NULL s is a no-op). */
void metrics_add(metrics_series *s, double v);     /* counter (v >= 0) or gauge */
void metrics_inc(metrics_series *s);               /* add 1 */
void metrics_set(metrics_series *s, double v);     /* gauge */
void metrics_observe(metrics_series *s, double v); /* histogram */

/* Readback for tests: counter/gauge value, or histogram _sum. */
double metrics_value(const metrics_series *s);
unsigned long long metrics_count(const metrics_series *s); /* histogram _count */

/* Render everything into a malloc'd NUL-terminated buffer (caller free()s). */
int metrics_render(metrics_registry *r, char **out, size_t *len);

/* Standard bucket sets (seconds, and batch sizes / bytes). */
extern const double metrics_buckets_request_s[];  extern const int metrics_n_buckets_request_s;
extern const double metrics_buckets_fast_s[];     extern const int metrics_n_buckets_fast_s;
extern const double metrics_buckets_batch[];      extern const int metrics_n_buckets_batch;
extern const double metrics_buckets_bytes[];      extern const int metrics_n_buckets_bytes;

/* ---- the mobilenetd metric set (DESIGN.md), prefix mobilenetd_ ----
 * Label conventions: endpoint is a route name ("classify", "infer",
 * "models", "health", "ready", "metrics", "other"); code is the HTTP status as
 * a decimal string; model is the config's model name; reason is one of
 * "queue_full", "deadline", "too_large", "bad_request", "unsupported_type",
 * "not_ready", "draining", "connection_limit". */
struct metrics_daemon {
    metrics_registry *reg;
    /* counters */
    metrics_family *requests_total;       /* {endpoint, code} */
    metrics_family *images_total;         /* {model} images classified */
    metrics_family *batches_total;        /* {model} engine runs */
    metrics_family *rejected_total;       /* {reason} */
    /* histograms */
    metrics_family *request_duration;     /* {endpoint} seconds, arrival to answer queued */
    metrics_family *queue_duration;       /* {model} seconds an image waited in the queue */
    metrics_family *decode_duration;      /* {} seconds per image: decode+crop+resize */
    metrics_family *inference_duration;   /* {model} seconds per engine run (whole batch) */
    metrics_family *batch_size;           /* {model} images per engine run */
    metrics_family *request_body_bytes;   /* {} bytes per request body */
    /* gauges */
    metrics_family *queue_depth;          /* {model} images queued now */
    metrics_family *queue_capacity;       /* {model} max_queue_images */
    metrics_family *inflight_requests;    /* {} requests accepted and not yet answered */
    metrics_family *ready;                /* {} 1 when /readyz is 200 */
    metrics_family *model_load_seconds;   /* {model} */
    metrics_family *build_info;           /* {version, model, weights_sha256} = 1 */
};

/* Create the registry with all the families above and the process metrics.
 * On error *m is untouched. */
int metrics_daemon_init(struct metrics_daemon *m);
void metrics_daemon_free(struct metrics_daemon *m); /* NULL-safe; zeroes *m */

/* Per-model gauges in one call: build_info{version,model,sha256} = 1,
 * queue_capacity{model}, model_load_seconds{model}, and queue_depth{model} = 0.
 * Call again after a SIGHUP swap (values are overwritten). */
void metrics_daemon_model(struct metrics_daemon *m, const char *version, const char *model,
                          const char *weights_sha256, int queue_capacity, double load_seconds);
/* After metrics_daemon_model() for each of the n models of a newly published
 * set: build_info of weights swapped out or dropped reads 0, and the
 * per-model gauges of dropped models leave the exposition (series are never
 * deleted: hot paths cache their handles; a model that comes back shows
 * them again).  Announcing first, then retiring, means a scrape never sees a
 * live model missing.  NULL-safe. */
void metrics_daemon_retire_except(struct metrics_daemon *m, int n, const char *const *models,
                                  const char *const *weights_sha256);

#endif
