/* server.c: libmicrohttpd setup, routing, per-request state, responses, access log. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"

static struct {
    struct MHD_Daemon *d;
    struct config_server boot; /* limits until the first registry is published */
    struct metrics_daemon *md;
    atomic_bool ready;
    atomic_bool draining;
    atomic_int inflight;
    atomic_ulong next_id;
    unsigned long id_seed;
    int port;
    int listen_fd;
    bool quiesced;
    metrics_series *m_inflight, *m_ready, *m_body_bytes;
} S = { .listen_fd = -1 };

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

struct metrics_daemon *server_metrics(void)
{
    return S.md;
}

void server_reject(const char *reason)
{
    if (S.md)
        metrics_inc(metrics_labels(S.md->rejected_total, reason));
}

/* ---- routing ---- */

/* 1..max bytes, each an ASCII letter, digit or one of punct: what may be
 * echoed into logs, headers and JSON without escaping. */
static bool token_ok(const char *s, size_t n, size_t max, const char *punct)
{
    if (n < 1 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c && strchr(punct, c))))
            return false;
    }
    return true;
}

static bool valid_name(const char *s, size_t n)
{
    return token_ok(s, n, CONFIG_NAME_MAX - 1, "_.-");
}

static enum route_id route_match(const char *url, char *name)
{
    size_t len = strlen(url);
    while (len > 1 && url[len - 1] == '/')
        len--; /* "/v1/models/" == "/v1/models" */
#define IS(lit) (len == sizeof(lit) - 1 && memcmp(url, lit, len) == 0)
    if (IS("/healthz"))
        return ROUTE_HEALTHZ;
    if (IS("/readyz"))
        return ROUTE_READYZ;
    if (IS("/metrics"))
        return ROUTE_METRICS;
    if (IS("/v1/classify"))
        return ROUTE_CLASSIFY;
    if (IS("/v1/models"))
        return ROUTE_MODELS;
    if (IS("/v2"))
        return ROUTE_V2;
    if (IS("/v2/health/live"))
        return ROUTE_V2_LIVE;
    if (IS("/v2/health/ready"))
        return ROUTE_V2_READY;
#undef IS
    static const char v1[] = "/v1/models/", v2[] = "/v2/models/";
    if (len > sizeof(v1) - 1 && memcmp(url, v1, sizeof(v1) - 1) == 0) {
        const char *n = url + sizeof(v1) - 1;
        size_t nl = len - (sizeof(v1) - 1);
        enum route_id id = ROUTE_MODEL;
        if (nl > 9 && memcmp(n + nl - 9, ":classify", 9) == 0) {
            nl -= 9;
            id = ROUTE_CLASSIFY;
        }
        if (!valid_name(n, nl))
            return ROUTE_NONE;
        memcpy(name, n, nl);
        name[nl] = 0;
        return id;
    }
    if (len > sizeof(v2) - 1 && memcmp(url, v2, sizeof(v2) - 1) == 0) {
        const char *n = url + sizeof(v2) - 1;
        const char *end = url + len;
        const char *slash = memchr(n, '/', (size_t)(end - n));
        size_t nl = slash ? (size_t)(slash - n) : (size_t)(end - n);
        if (!valid_name(n, nl))
            return ROUTE_NONE;
        memcpy(name, n, nl);
        name[nl] = 0;
        if (!slash)
            return ROUTE_V2_MODEL;
        const char *rest = slash;
        size_t rl = (size_t)(end - rest);
        /* /versions/{v} is accepted and ignored: one version per model */
        if (rl > 10 && memcmp(rest, "/versions/", 10) == 0) {
            const char *v = rest + 10;
            const char *s2 = memchr(v, '/', (size_t)(end - v));
            if (s2 == v)
                return ROUTE_NONE;
            if (!s2)
                return ROUTE_V2_MODEL;
            rest = s2;
            rl = (size_t)(end - rest);
        }
        if (rl == 6 && memcmp(rest, "/ready", 6) == 0)
            return ROUTE_V2_MODEL_READY;
        if (rl == 6 && memcmp(rest, "/infer", 6) == 0)
            return ROUTE_V2_INFER;
        return ROUTE_NONE;
    }
    return ROUTE_NONE;
}

static bool route_is_post(enum route_id id)
{
    return id == ROUTE_CLASSIFY || id == ROUTE_V2_INFER;
}

static bool route_needs_model(enum route_id id)
{
    return id == ROUTE_CLASSIFY || id == ROUTE_MODEL || id == ROUTE_V2_MODEL ||
           id == ROUTE_V2_MODEL_READY || id == ROUTE_V2_INFER;
}

static const char *route_endpoint(enum route_id id)
{
    switch (id) {
    case ROUTE_CLASSIFY: return "classify";
    case ROUTE_V2_INFER: return "infer";
    case ROUTE_MODELS:
    case ROUTE_MODEL:
    case ROUTE_V2:
    case ROUTE_V2_MODEL:
    case ROUTE_V2_MODEL_READY: return "models";
    case ROUTE_HEALTHZ:
    case ROUTE_V2_LIVE: return "health";
    case ROUTE_READYZ:
    case ROUTE_V2_READY: return "ready";
    case ROUTE_METRICS: return "metrics";
    default: return "other";
    }
}

/* ---- responses ---- */

static enum MHD_Result submit(struct http_req *r, int status, struct MHD_Response *resp)
{
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (rc == MHD_YES) {
        r->responded = true;
        r->status = status;
    }
    return rc;
}

static enum MHD_Result queue(struct http_req *r, int status, struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    if ((status == 429 || status == 503) && r->limits) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%d", r->limits->retry_after_s);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (atomic_load(&S.draining))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (r->at_headers && status != 413) {
        /* Queued before the body, MHD closes the connection with the body
         * unread, and the client may get a reset instead of this answer.
         * Hold it until the body has been read and discarded.  413 refuses
         * the body itself, so it goes at once. */
        r->held = resp;
        r->held_status = status;
        return MHD_YES;
    }
    return submit(r, status, resp);
}

enum MHD_Result http_respond_raw(struct http_req *r, int status, const char *content_type,
                                 const void *data, size_t len, const char *extra_header,
                                 const char *extra_value)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (extra_header)
        MHD_add_response_header(resp, extra_header, extra_value);
    return queue(r, status, resp);
}

enum MHD_Result http_respond_json(struct http_req *r, int status, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(7)) : NULL;
    json_decref(body);
    if (!s) {
        static const char oom[] = "{\"error\":\"out of memory\",\"code\":503}";
        return http_respond_raw(r, 503, "application/json", oom, sizeof(oom) - 1, NULL, NULL);
    }
    size_t n = strlen(s);
    s[n] = 0;
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, s, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return queue(r, status, resp);
}

/* The JSON error body, with one optional extra header (405's Allow). */
static enum MHD_Result respond_error(struct http_req *r, int status, const char *msg,
                                     const char *extra_header, const char *extra_value)
{
    char *body = http_error_json(status, msg);
    if (!body) /* msg was not valid UTF-8 (it quoted client data) or out of memory */
        body = http_error_json(status, NULL);
    if (!body)
        return MHD_NO;
    enum MHD_Result rc = http_respond_raw(r, status, "application/json", body, strlen(body),
                                          extra_header, extra_value);
    free(body);
    return rc;
}

enum MHD_Result http_respond_error(struct http_req *r, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return respond_error(r, status, msg, NULL, NULL);
}

/* ---- per-request state ---- */

static bool valid_request_id(const char *s)
{
    return token_ok(s, strlen(s), 64, "-_.:");
}

static struct http_req *req_new(struct MHD_Connection *c, const char *url, const char *method)
{
    struct http_req *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->conn = c;
    r->t_start_ns = batcher_now_ns();
    snprintf(r->method, sizeof(r->method), "%s", method);
    snprintf(r->path, sizeof(r->path), "%s", url);
    /* MHD has percent-decoded the path: keep control bytes out of the log
     * line and the error messages (they can never match a route anyway) */
    for (char *p = r->path; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == ' ')
            *p = '?';
    for (char *p = r->method; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    const char *rid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    if (rid && valid_request_id(rid)) {
        snprintf(r->id, sizeof(r->id), "%s", rid);
    } else {
        unsigned long n = atomic_fetch_add(&S.next_id, 1);
        snprintf(r->id, sizeof(r->id), "%08lx%08lx", S.id_seed & 0xffffffffUL, n & 0xffffffffUL);
    }
    pthread_mutex_init(&r->lock, NULL);
    atomic_fetch_add(&S.inflight, 1);
    return r;
}

static void req_free(struct http_req *r)
{
    for (int i = 0; i < r->n_images; i++) {
        free(r->images[i].rgb);
        free(r->images[i].scores);
    }
    free(r->images);
    http_body_free(&r->body);
    if (r->held)
        MHD_destroy_response(r->held);
    if (r->route_state_free)
        r->route_state_free(r->route_state);
    registry_release(r->reg);
    pthread_mutex_destroy(&r->lock);
    free(r);
    atomic_fetch_sub(&S.inflight, 1);
}

static enum MHD_Result dispatch(struct http_req *r)
{
    switch (r->route) {
    case ROUTE_CLASSIFY: return route_classify(r);
    case ROUTE_MODELS: return route_models(r);
    case ROUTE_MODEL: return route_model(r);
    case ROUTE_V2: return route_v2(r);
    case ROUTE_V2_MODEL: return route_v2_model(r);
    case ROUTE_V2_MODEL_READY: return route_v2_model_ready(r);
    case ROUTE_V2_INFER: return route_v2_infer(r);
    case ROUTE_HEALTHZ:
    case ROUTE_READYZ:
    case ROUTE_V2_LIVE:
    case ROUTE_V2_READY: return route_health(r);
    case ROUTE_METRICS: return route_metrics(r);
    default: return http_respond_error(r, 404, "no such path: %s", r->path);
    }
}

/* Headers are complete: route, and refuse whatever can be refused before the
 * body is read (unknown path/model, method, readiness, size, type). */
static enum MHD_Result req_begin(struct http_req *r)
{
    r->route = route_match(r->path, r->model_name);
    r->endpoint = route_endpoint(r->route);
    r->reg = registry_acquire();
    r->limits = r->reg ? &r->reg->server : &S.boot;
    if (r->route == ROUTE_NONE)
        return http_respond_error(r, 404, "no such path: %s", r->path);

    bool post = route_is_post(r->route);
    bool ok = post ? strcmp(r->method, "POST") == 0
                   : (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0);
    if (!ok)
        return respond_error(r, 405, post ? "method not allowed: use POST"
                                          : "method not allowed: use GET or HEAD",
                             MHD_HTTP_HEADER_ALLOW, post ? "POST" : "GET, HEAD");
    if (route_needs_model(r->route)) {
        if (!r->reg) {
            server_reject("not_ready");
            return http_respond_error(r, 503, "not ready: models are loading");
        }
        r->slot = registry_find(r->reg, r->model_name);
        if (!r->slot)
            return http_respond_error(r, 404, "unknown model: %s", r->model_name);
    }
    if (!post)
        return MHD_YES; /* answered once the (empty) body is complete: keeps keep-alive */

    if (atomic_load(&S.draining)) {
        server_reject("draining");
        return http_respond_error(r, 503, "draining: the server is shutting down");
    }
    if (!atomic_load(&S.ready)) {
        server_reject("not_ready");
        return http_respond_error(r, 503, "not ready: models are loading");
    }
    uint64_t limit = r->limits->max_body_bytes;
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long expected = 0;
    if (cl) {
        char *e;
        errno = 0;
        expected = strtoull(cl, &e, 10);
        if (errno == ERANGE || expected > limit) {
            server_reject("too_large");
            return http_respond_error(r, 413,
                                      "request body of %s bytes exceeds max_body_bytes (%llu)",
                                      errno == ERANGE ? "too many" : cl,
                                      (unsigned long long)limit);
        }
    }
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);
    int rc = http_content_kind(ct, &r->kind, r->boundary, sizeof(r->boundary));
    if (rc < 0) {
        server_reject("bad_request");
        return http_respond_error(r, 400, "multipart/form-data without a valid boundary");
    }
    bool type_ok = r->route == ROUTE_CLASSIFY
                       ? (r->kind == HTTP_BODY_IMAGE || r->kind == HTTP_BODY_MULTIPART)
                       : (r->kind == HTTP_BODY_IMAGE || r->kind == HTTP_BODY_JSON);
    if (!type_ok) {
        server_reject("unsupported_type");
        return http_respond_error(
            r, 415, "unsupported Content-Type %s: use %s", ct ? ct : "(none)",
            r->route == ROUTE_CLASSIFY
                ? "image/jpeg, image/png, application/octet-stream or multipart/form-data"
                : "application/json (with the binary data extension) or an image type");
    }
    r->body_wanted = true;
    http_body_init(&r->body, (size_t)limit, (size_t)expected);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    struct http_req *r = *con_cls;
    if (!r) {
        r = req_new(c, url, method);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        r->at_headers = true;
        enum MHD_Result rc = req_begin(r);
        r->at_headers = false;
        return rc;
    }
    if (r->responded) {
        *upload_size = 0; /* an early answer was queued: discard the rest */
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (!r->body_wanted || r->body_over) {
            /* MHD cannot answer in the middle of a body: discard what still
             * comes (at most another max_body_bytes) and answer at its end
             * (413, or the answer held at the headers). */
            r->discarded += n;
            return r->discarded > r->limits->max_body_bytes ? MHD_NO : MHD_YES;
        }
        int rc = http_body_append(&r->body, upload_data, n);
        if (rc == -E2BIG) {
            server_reject("too_large");
            http_body_free(&r->body);
            r->body_over = true;
            r->discarded = n;
            return MHD_YES;
        }
        if (rc < 0)
            return MHD_NO;
        return MHD_YES;
    }
    if (r->held) {
        struct MHD_Response *resp = r->held;
        r->held = NULL;
        return submit(r, r->held_status, resp);
    }
    if (r->body_over)
        return http_respond_error(r, 413, "request body exceeds max_body_bytes (%llu)",
                                  (unsigned long long)r->limits->max_body_bytes);
    if (r->body_wanted && !r->submitted)
        metrics_observe(S.m_body_bytes, (double)r->body.len);
    return dispatch(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    struct http_req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    double secs = (double)(batcher_now_ns() - r->t_start_ns) / 1e9;
    /* 499: the client went away before an answer was queued (nginx's convention) */
    int status = r->responded ? r->status : 499;
    char code[8];
    snprintf(code, sizeof(code), "%d", status);
    if (S.md) {
        metrics_inc(metrics_labels(S.md->requests_total, r->endpoint ? r->endpoint : "other",
                                   code));
        metrics_observe(metrics_labels(S.md->request_duration,
                                       r->endpoint ? r->endpoint : "other"), secs);
    }
    if (r->limits && r->limits->access_log) {
        flockfile(stderr);
        fprintf(stderr, "access id=%s method=%s path=%s status=%d images=%d batch=%d ms=%.2f%s\n",
                r->id, r->method, r->path, status, r->n_images, r->batch_size, secs * 1e3,
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ""
                : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? " (timeout)"
                : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT ? " (client abort)"
                                                              : " (closed)");
        funlockfile(stderr);
    }
    req_free(r);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = 0;
    fprintf(stderr, "warning: http: %s\n", buf);
}

/* ---- lifecycle ---- */

static int bind_listen(const struct config_server *cfg, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", cfg->listen_port);
    const char *host = cfg->listen_host[0] ? cfg->listen_host : NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc) {
        seterr(err, errlen, "listen %s: %s", cfg->listen, gai_strerror(rc));
        return -EINVAL;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1024) == 0)
            break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        seterr(err, errlen, "listen %s: %s", cfg->listen, strerror(e));
        return -e;
    }
    return fd;
}

static int sock_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

int server_start(const struct server_options *opt, char *err, size_t errlen)
{
    S.boot = *opt->cfg;
    S.md = opt->metrics;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    S.id_seed = (unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 16);
    if (S.md) {
        S.m_inflight = metrics_labels(S.md->inflight_requests);
        S.m_ready = metrics_labels(S.md->ready);
        S.m_body_bytes = metrics_labels(S.md->request_body_bytes);
    }
    int fd = opt->listen_fd;
    if (fd < 0) {
        fd = bind_listen(opt->cfg, err, errlen);
        if (fd < 0)
            return fd;
    }
    S.listen_fd = fd;
    S.port = sock_port(fd);

    const struct config_server *c = opt->cfg;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    /* The header-size cap: MHD keeps a request's headers in the connection's
     * memory pool, and answers 431 when they do not fit. */
    size_t pool = (size_t)c->max_header_bytes + 4096;
    if (pool < 8192)
        pool = 8192;
    struct MHD_OptionItem ops[12];
    int k = 0;
    ops[k++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, fd, NULL };
    ops[k++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
                                        (intptr_t)c->max_connections, NULL };
    if (c->max_connections_per_ip > 0)
        ops[k++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                            (intptr_t)c->max_connections_per_ip, NULL };
    ops[k++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
                                        (intptr_t)c->connection_timeout_s, NULL };
    ops[k++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)pool, NULL };
    if (c->threads > 1)
        ops[k++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)c->threads,
                                            NULL };
    ops[k++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };

    S.d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
                           MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                           MHD_OPTION_ARRAY, ops,
                           MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                           MHD_OPTION_END);
    if (!S.d) {
        seterr(err, errlen, "cannot start the HTTP server on %s", c->listen);
        if (opt->listen_fd < 0)
            close(fd);
        S.listen_fd = -1;
        return -EIO;
    }
    return 0;
}

int server_port(void)
{
    return S.port;
}

void server_set_ready(bool ready)
{
    atomic_store(&S.ready, ready);
    metrics_set(S.m_ready, ready ? 1 : 0);
}

bool server_is_ready(void)
{
    return atomic_load(&S.ready) && !atomic_load(&S.draining);
}

void server_begin_drain(void)
{
    atomic_store(&S.draining, true);
    server_set_ready(false);
    if (S.d && !S.quiesced) {
        MHD_socket fd = MHD_quiesce_daemon(S.d);
        S.quiesced = true;
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
        S.listen_fd = -1;
    }
}

bool server_draining(void)
{
    return atomic_load(&S.draining);
}

int server_inflight(void)
{
    return atomic_load(&S.inflight);
}

void server_refresh_gauges(void)
{
    /* Set at scrape time from the counter itself: set on every request by
     * the threads that change it, two updates could land out of order and
     * leave a stale value until the next request. */
    metrics_set(S.m_inflight, atomic_load(&S.inflight));
}

void server_stop(void)
{
    /* MHD owns the listen socket from MHD_start_daemon on (and gave it back
     * to us, closed already, if quiesced). */
    if (S.d) {
        MHD_stop_daemon(S.d);
        S.d = NULL;
    }
    S.listen_fd = -1;
}
