/* batcher.c: bounded queue + one engine thread per model. */
#include "batcher.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct batcher {
    mnet_model *model;
    struct batcher_options opt;
    int h, w, classes;
    size_t image_bytes;

    pthread_mutex_t lock;
    pthread_cond_t cond;   /* signalled on submit and on stop */
    struct batch_job **ring; /* capacity entries */
    int head, count;
    int running;           /* images in the engine run now */
    bool closed;           /* no new submissions */
    bool stop;             /* thread should exit once the queue is empty */
    int64_t progress_ns;   /* last time the engine thread finished a batch or went idle */

    uint8_t *in;           /* (max_batch, H, W, 3) */
    float *out;            /* (max_batch, classes) */
    pthread_t thread;
    bool thread_started;
};

int64_t batcher_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void ns_to_timespec(int64_t ns, struct timespec *ts)
{
    ts->tv_sec = (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
}

static struct batch_job *pop_locked(struct batcher *b)
{
    struct batch_job *j = b->ring[b->head];
    b->ring[b->head] = NULL;
    b->head = (b->head + 1) % b->opt.capacity;
    b->count--;
    return j;
}

static void finish(struct batch_job *j, int status)
{
    j->status = status;
    j->t_end_ns = batcher_now_ns();
    if (!j->t_start_ns)
        j->t_start_ns = j->t_end_ns;
    j->done(j, j->ctx);
}

static void *engine_main(void *arg)
{
    struct batcher *b = arg;
    int maxb = b->opt.max_batch;
    struct batch_job **take = calloc((size_t)maxb, sizeof(*take));
    struct batch_job **drop = calloc((size_t)b->opt.capacity, sizeof(*drop));
    if (!take || !drop) {
        /* Cannot run without scratch: fail everything until stopped. */
        free(take);
        free(drop);
        pthread_mutex_lock(&b->lock);
        b->closed = true;
        pthread_mutex_unlock(&b->lock);
        batcher_fail_queued(b, -ENOMEM);
        return NULL;
    }
    pthread_mutex_lock(&b->lock);
    for (;;) {
        while (b->count == 0 && !b->stop)
            pthread_cond_wait(&b->cond, &b->lock);
        if (b->count == 0 && b->stop)
            break;
        if (b->opt.max_delay_us > 0 && b->count < maxb && !b->stop) {
            /* Wait for a fuller batch, measured from the oldest job's arrival. */
            int64_t until = b->ring[b->head]->t_enqueue_ns + b->opt.max_delay_us * 1000;
            struct timespec ts;
            ns_to_timespec(until, &ts);
            while (b->count > 0 && b->count < maxb && !b->stop && batcher_now_ns() < until)
                pthread_cond_timedwait(&b->cond, &b->lock, &ts);
            if (b->count == 0)
                continue;
        }
        int64_t now = batcher_now_ns();
        int n = 0, nd = 0;
        while (b->count > 0 && n < maxb) {
            struct batch_job *j = pop_locked(b);
            if (j->deadline_ns && now >= j->deadline_ns) {
                j->status = -ETIMEDOUT;
                drop[nd++] = j;
            } else {
                take[n++] = j;
            }
        }
        b->running = n;
        pthread_mutex_unlock(&b->lock);

        for (int i = 0; i < nd; i++)
            finish(drop[i], -ETIMEDOUT);
        /* A client that hung up while queued costs no engine time. */
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (take[i]->alive && !take[i]->alive(take[i]->ctx))
                finish(take[i], -ECANCELED);
            else
                take[m++] = take[i];
        }
        if (m > 0) {
            int64_t t0 = batcher_now_ns();
            for (int i = 0; i < m; i++) {
                take[i]->t_start_ns = t0;
                memcpy(b->in + (size_t)i * b->image_bytes, take[i]->rgb, b->image_bytes);
            }
            int rc = mnet_classify(b->model, b->in, m, b->out);
            int64_t t1 = batcher_now_ns();
            if (b->opt.on_batch && rc == 0)
                b->opt.on_batch(b->opt.cls, m, t1 - t0);
            for (int i = 0; i < m; i++) {
                take[i]->batch_size = m;
                if (rc == 0)
                    memcpy(take[i]->scores, b->out + (size_t)i * b->classes,
                           (size_t)b->classes * sizeof(float));
                take[i]->t_end_ns = t1;
                take[i]->status = rc;
                take[i]->done(take[i], take[i]->ctx);
            }
        }
        pthread_mutex_lock(&b->lock);
        b->running = 0;
        b->progress_ns = batcher_now_ns();
    }
    pthread_mutex_unlock(&b->lock);
    free(take);
    free(drop);
    return NULL;
}

int batcher_new(mnet_model *m, const struct batcher_options *opt, struct batcher **out)
{
    if (!m || !opt || opt->max_batch < 1 || opt->capacity < 1 || opt->max_delay_us < 0)
        return -EINVAL;
    const struct mnet_info *info = mnet_get_info(m);
    struct batcher *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->model = m;
    b->opt = *opt;
    b->h = info->height;
    b->w = info->width;
    b->classes = info->classes;
    b->image_bytes = (size_t)b->h * (size_t)b->w * 3;
    b->progress_ns = batcher_now_ns();
    /* lock and cond first: from here on batcher_free() undoes any partial state */
    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cond, &ca);
    pthread_condattr_destroy(&ca);
    b->ring = calloc((size_t)opt->capacity, sizeof(*b->ring));
    b->in = malloc((size_t)opt->max_batch * b->image_bytes);                   /* (N, H, W, 3) */
    b->out = malloc((size_t)opt->max_batch * (size_t)b->classes * sizeof(float)); /* (N, classes) */
    if (!b->ring || !b->in || !b->out) {
        batcher_free(b);
        return -ENOMEM;
    }
    int rc = pthread_create(&b->thread, NULL, engine_main, b);
    if (rc) {
        batcher_free(b); /* no thread to join: thread_started is still false */
        return -rc;
    }
    b->thread_started = true;
    *out = b;
    return 0;
}

int batcher_submit(struct batcher *b, struct batch_job **jobs, int n)
{
    if (n < 1)
        return -EINVAL;
    if (n > b->opt.capacity)
        return -EMSGSIZE;
    int64_t now = batcher_now_ns();
    pthread_mutex_lock(&b->lock);
    if (b->closed) {
        pthread_mutex_unlock(&b->lock);
        return -ESHUTDOWN;
    }
    if (b->count + n > b->opt.capacity) {
        pthread_mutex_unlock(&b->lock);
        return -EAGAIN;
    }
    for (int i = 0; i < n; i++) {
        jobs[i]->t_enqueue_ns = now;
        jobs[i]->t_start_ns = 0;
        jobs[i]->status = 0;
        jobs[i]->batch_size = 0;
        b->ring[(b->head + b->count) % b->opt.capacity] = jobs[i];
        b->count++;
    }
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
    return 0;
}

int batcher_depth(struct batcher *b)
{
    pthread_mutex_lock(&b->lock);
    int n = b->count;
    pthread_mutex_unlock(&b->lock);
    return n;
}

int batcher_pending(struct batcher *b)
{
    pthread_mutex_lock(&b->lock);
    int n = b->count + b->running;
    pthread_mutex_unlock(&b->lock);
    return n;
}

bool batcher_progressing(struct batcher *b, int64_t max_stall_ns)
{
    pthread_mutex_lock(&b->lock);
    bool waiting = b->count + b->running > 0;
    int64_t last = b->progress_ns;
    pthread_mutex_unlock(&b->lock);
    return !waiting || batcher_now_ns() - last < max_stall_ns;
}

int batcher_capacity(const struct batcher *b)
{
    return b->opt.capacity;
}

void batcher_close(struct batcher *b)
{
    pthread_mutex_lock(&b->lock);
    b->closed = true;
    pthread_mutex_unlock(&b->lock);
}

void batcher_fail_queued(struct batcher *b, int status)
{
    for (;;) {
        pthread_mutex_lock(&b->lock);
        if (b->count == 0) {
            pthread_mutex_unlock(&b->lock);
            return;
        }
        struct batch_job *j = pop_locked(b);
        pthread_mutex_unlock(&b->lock);
        finish(j, status);
    }
}

void batcher_free(struct batcher *b)
{
    if (!b)
        return;
    batcher_close(b);
    batcher_fail_queued(b, -ESHUTDOWN);
    pthread_mutex_lock(&b->lock);
    b->stop = true;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    if (b->thread_started)
        pthread_join(b->thread, NULL);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
    free(b->ring);
    free(b->in);
    free(b->out);
    free(b);
}
