/* classify.c: POST /v1/models/{name}:classify and /v1/classify, and the
 * decode -> queue -> suspend -> resume path shared with v2 infer. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errors.h"
#include "server.h"

/* ---- shared inference path ---- */

static int grow_images(struct http_req *r)
{
    int cap = batcher_capacity(r->slot->batcher);
    if (r->n_images >= cap)
        return -EMSGSIZE;
    struct infer_image *p = realloc(r->images, (size_t)(r->n_images + 1) * sizeof(*p));
    if (!p)
        return -ENOMEM;
    r->images = p;
    struct infer_image *im = &p[r->n_images];
    memset(im, 0, sizeof(*im));
    const struct mnet_info *info = r->slot->info;
    im->rgb = malloc((size_t)info->height * (size_t)info->width * 3);  /* (H, W, 3) */
    im->scores = malloc((size_t)info->classes * sizeof(float));      /* (classes) */
    if (!im->rgb || !im->scores) {
        free(im->rgb);
        free(im->scores);
        return -ENOMEM;
    }
    return 0;
}

int infer_add_image(struct http_req *r, const uint8_t *data, size_t len, char *err,
                    size_t errlen)
{
    /* Under overload, do not spend a decode on an image the full queue will
     * refuse anyway (the admission itself stays all-or-nothing at submit). */
    if (r->n_images == 0 && batcher_depth(r->slot->batcher) >= batcher_capacity(r->slot->batcher)) {
        snprintf(err, errlen, "queue full");
        return -EAGAIN;
    }
    if (len == 0) {
        snprintf(err, errlen, "empty image");
        return -ENODATA;
    }
    if (!mnet_image_format(data, len)) {
        const char *other = http_sniff_unsupported_image(data, len);
        if (other) {
            snprintf(err, errlen, "%s images are not supported (JPEG or PNG)", other);
            return -ENOTSUP;
        }
        snprintf(err, errlen, "not a JPEG or PNG image");
        return -EBADMSG;
    }
    int rc = grow_images(r);
    if (rc < 0) {
        if (rc == -EMSGSIZE)
            snprintf(err, errlen, "more images than max_queue_images (%d)",
                     batcher_capacity(r->slot->batcher));
        else
            snprintf(err, errlen, "out of memory");
        return rc;
    }
    struct infer_image *im = &r->images[r->n_images];
    const struct mnet_info *info = r->slot->info;
    struct mnet_image_options io = {
        .max_pixels = r->limits->max_pixels,
        .central_fraction = (float)r->slot->cfg.central_fraction,
    };
    char e[200] = "";
    int64_t t0 = batcher_now_ns();
    rc = mnet_image_prepare(data, len, &io, info->height, info->width, im->rgb, e, sizeof(e));
    double dt = (double)(batcher_now_ns() - t0) / 1e9;
    r->decode_ms += dt * 1e3;
    struct metrics_daemon *md = server_metrics();
    if (md)
        metrics_observe(metrics_labels(md->decode_duration), dt);
    if (rc < 0) {
        free(im->rgb);
        free(im->scores);
        if (rc == -EFBIG)
            snprintf(err, errlen, "%s (limit: max_pixels = %llu)", e[0] ? e : "image too large",
                     (unsigned long long)r->limits->max_pixels);
        else
            snprintf(err, errlen, "%s", e[0] ? e : "cannot decode the image");
        return rc;
    }
    r->n_images++;
    return 0;
}

int infer_add_pixels(struct http_req *r, const uint8_t *rgb)
{
    int rc = grow_images(r);
    if (rc < 0)
        return rc;
    const struct mnet_info *info = r->slot->info;
    memcpy(r->images[r->n_images].rgb, rgb, (size_t)info->height * (size_t)info->width * 3);
    r->n_images++;
    return 0;
}

/* Engine thread: has the client hung up while we were queued? */
static int job_alive(void *ctx)
{
    struct infer_image *im = ctx;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(im->req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return 1;
    struct pollfd p = { .fd = ci->connect_fd, .events = POLLRDHUP };
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
        return 0;
    return 1;
}

/* Engine thread (or the drain path): one image is finished. */
static void job_done(struct batch_job *job, void *ctx)
{
    struct infer_image *im = ctx;
    struct http_req *r = im->req;
    struct metrics_daemon *md = server_metrics();
    if (md && job->status == 0)
        metrics_observe(r->slot->m_queue_s, (double)(job->t_start_ns - job->t_enqueue_ns) / 1e9);
    if (job->status == -ETIMEDOUT)
        server_reject("deadline");
    pthread_mutex_lock(&r->lock);
    if (job->batch_size > r->batch_size)
        r->batch_size = job->batch_size;
    bool resume = --r->pending == 0 && r->suspended;
    if (resume)
        r->suspended = false;
    pthread_mutex_unlock(&r->lock);
    /* Last touch of r on this thread: once resumed, the HTTP thread may answer
     * and free it. */
    if (resume)
        MHD_resume_connection(r->conn);
}

int infer_submit(struct http_req *r)
{
    int n = r->n_images;
    if (n == 0)
        return -ENODATA;
    struct batch_job **jobs = malloc((size_t)n * sizeof(*jobs));
    if (!jobs)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        struct infer_image *im = &r->images[i];
        im->req = r;
        im->job = (struct batch_job){
            .rgb = im->rgb, .scores = im->scores, .deadline_ns = r->deadline_ns,
            .alive = job_alive, .done = job_done, .ctx = im,
        };
        jobs[i] = &im->job;
    }
    /* The request lock is held across submit + suspend, so the engine thread
     * cannot finish (and try to resume) before the connection is suspended. */
    pthread_mutex_lock(&r->lock);
    r->pending = n;
    int rc = batcher_submit(r->slot->batcher, jobs, n);
    if (rc == 0) {
        r->submitted = true;
        r->suspended = true;
        MHD_suspend_connection(r->conn);
    } else {
        r->pending = 0;
    }
    pthread_mutex_unlock(&r->lock);
    free(jobs);
    metrics_set(r->slot->m_depth, batcher_depth(r->slot->batcher));
    return rc;
}

int infer_status(const struct http_req *r)
{
    int worst = 0;
    for (int i = 0; i < r->n_images; i++)
        if (r->images[i].job.status == -ECANCELED)
            return -ECANCELED; /* the client is gone: nobody to answer */
    for (int i = 0; i < r->n_images; i++) {
        int s = r->images[i].job.status;
        if (s == 0)
            continue;
        /* a deadline beats a shutdown beats anything else */
        if (s == -ETIMEDOUT || worst == 0 || (s == -ESHUTDOWN && worst != -ETIMEDOUT))
            worst = s;
    }
    return worst;
}

enum MHD_Result infer_respond_failure(struct http_req *r, int err)
{
    int status = http_status_from_errno(err);
    switch (err) {
    case -ECANCELED:
        return MHD_NO; /* client hung up while queued: close, logged as 499 */
    case -EAGAIN:
        server_reject("queue_full");
        status = r->limits->queue_full_status;
        return http_respond_error(r, status,
                                  "queue full (max_queue_images = %d): retry later",
                                  batcher_capacity(r->slot->batcher));
    case -EMSGSIZE:
        server_reject("too_large");
        return http_respond_error(r, status,
                                  "request has %d images, more than max_queue_images (%d)",
                                  r->n_images, batcher_capacity(r->slot->batcher));
    case -ETIMEDOUT:
        return http_respond_error(r, status,
                                  "deadline passed while queued (timeout_ms or request_timeout_ms)");
    case -ESHUTDOWN:
        server_reject("draining");
        return http_respond_error(r, status, "draining: the server is shutting down");
    case -ENODATA:
        server_reject("bad_request");
        return http_respond_error(r, status, "no image in the request");
    case -ENOMEM:
        return http_respond_error(r, status, "out of memory: retry later");
    default:
        return http_respond_error(r, status, "inference failed: %s", strerror(-err));
    }
}

enum MHD_Result infer_reject_input(struct http_req *r, int err, const char *msg)
{
    if (err == -EAGAIN)
        return infer_respond_failure(r, err);
    int status = http_status_from_errno(err);
    server_reject(status == 415 ? "unsupported_type" : status == 413 ? "too_large" : "bad_request");
    return http_respond_error(r, status, "%s", msg);
}

enum MHD_Result infer_respond_done(struct http_req *r, json_t *(*build)(struct http_req *r))
{
    int st = infer_status(r);
    if (st < 0)
        return infer_respond_failure(r, st);
    json_t *j = build(r);
    if (!j)
        return infer_respond_failure(r, -ENOMEM);
    return http_respond_json(r, 200, j);
}

/* Query parameters shared by classify and infer: timeout_ms, and top_k for classify. */
static int parse_timeout(struct http_req *r, const char *v, char *err, size_t errlen)
{
    long ms = 0;
    if (v) {
        if (http_parse_int(v, 1, 3600000, &ms) < 0) {
            snprintf(err, errlen, "timeout_ms must be an integer in 1..3600000");
            return -EINVAL;
        }
    } else {
        ms = r->limits->request_timeout_ms;
    }
    r->deadline_ns = ms > 0 ? r->t_start_ns + (int64_t)ms * 1000000 : 0;
    return 0;
}

static int parse_top_k(struct http_req *r, const char *v, char *err, size_t errlen)
{
    int classes = r->slot->info->classes;
    if (!v) {
        int k = r->slot->cfg.top_k_default;
        r->top_k = k < 1 ? 1 : k > classes ? classes : k;
        return 0;
    }
    long k;
    if (http_parse_int(v, 1, classes, &k) < 0) {
        snprintf(err, errlen, "top_k must be an integer in 1..%d", classes);
        return -EINVAL;
    }
    r->top_k = (int)k;
    return 0;
}

int infer_parse_query(struct http_req *r, bool want_top_k, char *err, size_t errlen)
{
    const char *t = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "timeout_ms");
    int rc = parse_timeout(r, t, err, errlen);
    if (rc == 0 && want_top_k)
        rc = parse_top_k(r, MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "top_k"),
                         err, errlen);
    return rc;
}

/* ---- classify ---- */

struct part_ctx {
    struct http_req *r;
    int index;
    bool failed; /* the walk stopped on this part: err says why */
    char err[300];
};

static int on_part(void *ctx, const struct http_part *p)
{
    struct part_ctx *pc = ctx;
    struct http_req *r = pc->r;
    pc->index++;
    /* plain form fields may carry the query parameters */
    if (!p->filename[0] && (strcmp(p->name, "top_k") == 0 || strcmp(p->name, "timeout_ms") == 0)) {
        /* a value that does not fit, or hides a NUL, is invalid as a whole (a
         * truncated copy could parse): the parser gets one that fails with its message */
        char v[32] = "?";
        if (p->len < sizeof(v) && !memchr(p->data, 0, p->len)) {
            memcpy(v, p->data, p->len);
            v[p->len] = 0;
        }
        int rc = p->name[0] == 't' && p->name[1] == 'o'
                     ? parse_top_k(r, v, pc->err, sizeof(pc->err))
                     : parse_timeout(r, v, pc->err, sizeof(pc->err));
        pc->failed = rc < 0;
        return rc;
    }
    char e[256] = "";
    int rc = infer_add_image(r, p->data, p->len, e, sizeof(e));
    if (rc < 0) {
        snprintf(pc->err, sizeof(pc->err), "part %d (%s): %s", pc->index,
                 p->name[0] ? p->name : "unnamed", e);
        pc->failed = true;
        return rc;
    }
    return 0;
}

static json_t *classify_json(struct http_req *r) /* NULL: out of memory */
{
    const struct model_slot *s = r->slot;
    int classes = s->info->classes;
    int k = r->top_k;
    int *idx = malloc((size_t)k * sizeof(int));
    float *sc = malloc((size_t)k * sizeof(float));
    json_t *preds = json_array();
    double queue_ms = 0, infer_ms = 0;
    if (!idx || !sc || !preds) {
        free(idx);
        free(sc);
        json_decref(preds);
        return NULL;
    }
    for (int i = 0; i < r->n_images; i++) {
        const struct infer_image *im = &r->images[i];
        int n = mnet_top_k(im->scores, classes, k, idx, sc);
        json_t *tk = json_array();
        for (int j = 0; j < n; j++) {
            json_t *e = json_pack("{s:i, s:f}", "index", idx[j], "score", (double)sc[j]);
            if (s->labels)
                json_object_set_new(e, "label", json_string(registry_label(s, idx[j])));
            json_array_append_new(tk, e);
        }
        json_array_append_new(preds, json_pack("{s:o}", "top_k", tk));
        double q = (double)(im->job.t_start_ns - im->job.t_enqueue_ns) / 1e6;
        double in = (double)(im->job.t_end_ns - im->job.t_start_ns) / 1e6;
        if (q > queue_ms)
            queue_ms = q;
        if (in > infer_ms)
            infer_ms = in;
    }
    free(idx);
    free(sc);
    return json_pack("{s:s, s:o, s:{s:f, s:f, s:f}, s:i}", "model", s->cfg.name,
                     "predictions", preds, "timing_ms", "decode", r->decode_ms, "queue",
                     queue_ms, "inference", infer_ms, "batch_size", r->batch_size);
}

enum MHD_Result route_classify(struct http_req *r)
{
    if (r->submitted) /* resumed: every image is done */
        return infer_respond_done(r, classify_json);
    char err[300] = "";
    if (infer_parse_query(r, true, err, sizeof(err)) < 0)
        return infer_reject_input(r, -EINVAL, err);
    if (r->body.len == 0)
        return infer_reject_input(r, -ENODATA, "empty body: send a JPEG or PNG image, or "
                                               "multipart/form-data with image parts");
    int rc;
    if (r->kind == HTTP_BODY_MULTIPART) {
        struct part_ctx pc = { .r = r };
        rc = http_multipart_parse(r->body.data, r->body.len, r->boundary, 1024, on_part, &pc);
        if (rc < 0 && pc.failed)
            return infer_reject_input(r, rc, pc.err);
        if (rc == -ENODATA || (rc == 0 && r->n_images == 0))
            return infer_reject_input(r, -ENODATA, "multipart body has no image part");
        if (rc == -EMSGSIZE)
            return infer_reject_input(r, rc, "too many parts in the multipart body");
        if (rc < 0)
            return infer_reject_input(r, -EINVAL, "malformed multipart/form-data body");
    } else {
        rc = infer_add_image(r, r->body.data, r->body.len, err, sizeof(err));
        if (rc < 0)
            return infer_reject_input(r, rc, err);
    }
    http_body_free(&r->body); /* decoded: the upload is not needed any more */
    rc = infer_submit(r);
    if (rc < 0)
        return infer_respond_failure(r, rc);
    return MHD_YES;
}
