/* server.h: the libmicrohttpd front end: listen, route, limits, lifecycle.
 *
 * One MHD daemon with its own polling thread(s) (a pool of `threads` epoll
 * threads; images are decoded on them), suspend/resume for requests waiting
 * on the batcher, connection limits (total and per IP), an idle timeout and a
 * header-size cap.  Every request gets a struct http_req (created when its
 * headers are complete, freed in exactly one place: the completion callback,
 * which also writes the access-log line and the request metrics).
 *
 * Lifecycle (called by main's thread only): server_start -> server_set_ready
 * -> server_begin_drain (readiness 503, MHD_quiesce_daemon: no new
 * connections) -> server_stop (after the queues drained).
 *
 * Thread-safety: server_set_ready / server_inflight from any thread.
 * Errors: 0 or negative errno with a reason in err.
 */
#ifndef MNETD_SERVER_H
#define MNETD_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "config.h"
#include "metrics.h"
#include "registry.h"
#include "request.h"

#define MNETD_VERSION "0.1.0"

struct server_options {
    const struct config_server *cfg; /* listen, limits, threads, timeouts (copied) */
    int listen_fd;                   /* socket-activation fd, or -1 to bind cfg->listen */
    struct metrics_daemon *metrics;  /* may be NULL */
};

int server_start(const struct server_options *opt, char *err, size_t errlen);
/* The bound port (useful with port 0). */
int server_port(void);
/* /readyz and /v2/health/ready answer 200 only while ready. */
void server_set_ready(bool ready);
bool server_is_ready(void);
/* SIGTERM: readiness 503, new requests get 503, stop accepting connections. */
void server_begin_drain(void);
bool server_draining(void);
/* Requests accepted and not yet answered. */
int server_inflight(void);
/* Copy "now" values (inflight requests) into their gauges: call when scraping. */
void server_refresh_gauges(void);
/* Stop the MHD daemon (every suspended request must have been completed). */
void server_stop(void);

/* ---- for the route files ---- */

enum route_id {
    ROUTE_NONE,
    ROUTE_CLASSIFY,       /* POST /v1/models/{name}:classify, POST /v1/classify */
    ROUTE_MODELS,         /* GET /v1/models */
    ROUTE_MODEL,          /* GET /v1/models/{name} */
    ROUTE_V2,             /* GET /v2 */
    ROUTE_V2_LIVE,        /* GET /v2/health/live */
    ROUTE_V2_READY,       /* GET /v2/health/ready */
    ROUTE_V2_MODEL,       /* GET /v2/models/{name} */
    ROUTE_V2_MODEL_READY, /* GET /v2/models/{name}/ready */
    ROUTE_V2_INFER,       /* POST /v2/models/{name}/infer */
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
};

struct infer_image {
    uint8_t *rgb;          /* (H, W, 3) */
    float *scores;         /* (classes) */
    struct batch_job job;
    struct http_req *req;
};

struct http_req {
    struct MHD_Connection *conn;
    char id[72];
    char method[16];
    char path[256];        /* URL as received (truncated for the log) */
    enum route_id route;
    const char *endpoint;  /* metrics label */
    char model_name[CONFIG_NAME_MAX];
    int64_t t_start_ns;

    struct registry *reg;  /* reference held for the request's life (may be NULL while loading) */
    const struct config_server *limits; /* reg->server or the boot settings */
    struct model_slot *slot;

    struct http_body body;
    bool body_wanted;      /* route reads a body */
    bool body_over;        /* body passed max_body_bytes: discarding, 413 at the end */
    uint64_t discarded;
    bool at_headers;       /* req_begin is running: responses are held */
    struct MHD_Response *held; /* answer decided at the headers, queued after the body */
    int held_status;
    bool responded;        /* a response has been queued */
    int status;            /* status queued */
    enum http_body_kind kind;
    char boundary[80];

    /* inference state */
    int top_k;
    int64_t deadline_ns;
    int n_images;
    struct infer_image *images;
    double decode_ms;
    pthread_mutex_t lock;  /* pending / suspended, shared with the engine thread */
    int pending;           /* images submitted and not completed */
    bool submitted;
    bool suspended;
    int batch_size;        /* largest engine batch among the images (log) */
    void *route_state;     /* route-private (kserve request) */
    void (*route_state_free)(void *);
};

/* Queue a JSON response (takes ownership of body: decref'd).  Adds
 * X-Request-Id; adds Retry-After for 429 and 503.  Returns MHD_YES/NO. */
enum MHD_Result http_respond_json(struct http_req *r, int status, json_t *body);
/* {"error": msg, "code": status}; msg printf-style. */
enum MHD_Result http_respond_error(struct http_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Raw bytes (copied). */
enum MHD_Result http_respond_raw(struct http_req *r, int status, const char *content_type,
                                 const void *data, size_t len,
                                 const char *extra_header, const char *extra_value);
/* The metrics (may be NULL). */
struct metrics_daemon *server_metrics(void);
/* Count a rejection reason (metrics). */
void server_reject(const char *reason);

/* Inference shared by classify and v2 infer: decode one image into the
 * request (-EBADMSG/-ENOTSUP/-EFBIG/-ENOMEM/-EMSGSIZE, reason in err), then
 * submit them all and suspend.  infer_submit returns 0 when the request is now
 * waiting (the route is called again when all images are done), or a negative
 * errno (nothing queued). */
int infer_add_image(struct http_req *r, const uint8_t *data, size_t len, char *err,
                    size_t errlen);
int infer_add_pixels(struct http_req *r, const uint8_t *rgb); /* already model-sized (H, W, 3) */
int infer_submit(struct http_req *r);
/* Query parameters: timeout_ms (sets deadline_ns) and, when want_top_k, top_k.
 * -EINVAL with a message naming the parameter. */
int infer_parse_query(struct http_req *r, bool want_top_k, char *err, size_t errlen);
/* After resume: the worst job status (0 when every image was computed). */
int infer_status(const struct http_req *r);
/* Rejection of a failed submit/infer with the right status, message and Retry-After. */
enum MHD_Result infer_respond_failure(struct http_req *r, int err);
/* Rejection of the request's own input (bad parameter, body, image): err maps
 * to the status through http_status_from_errno, msg is the message, the
 * rejection reason is counted; -EAGAIN (queue full) goes to infer_respond_failure. */
enum MHD_Result infer_reject_input(struct http_req *r, int err, const char *msg);
/* After resume: 200 with build(r), or the failure infer_status reports
 * (build returns NULL only when out of memory: 503). */
enum MHD_Result infer_respond_done(struct http_req *r, json_t *(*build)(struct http_req *r));

/* Route handlers: called once the body is complete, and again after a resume. */
enum MHD_Result route_classify(struct http_req *r);
enum MHD_Result route_models(struct http_req *r);
enum MHD_Result route_model(struct http_req *r);
enum MHD_Result route_v2(struct http_req *r);
enum MHD_Result route_v2_model(struct http_req *r);
enum MHD_Result route_v2_model_ready(struct http_req *r);
enum MHD_Result route_v2_infer(struct http_req *r);
enum MHD_Result route_health(struct http_req *r); /* healthz, readyz, v2 live/ready */
enum MHD_Result route_metrics(struct http_req *r);

/* JSON for /v1/models/{name} (shared with v2 metadata). */
json_t *model_json(const struct registry *reg, const struct model_slot *s);

#endif
