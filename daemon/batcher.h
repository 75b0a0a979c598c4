/* batcher.h: the bounded image queue in front of one model, and its engine thread.
 *
 * HTTP threads decode images and submit jobs (one per image); one engine
 * thread per model takes up to max_batch jobs, waiting at most max_delay_us
 * after the oldest job arrived for the batch to fill (0 = take what is
 * queued as soon as the engine is free), runs mnet_classify once, and
 * completes each job through its done() callback.
 *
 * Guarantees:
 * - batcher_submit is all-or-nothing: either every job of a request is
 *   queued, or none is (-EAGAIN queue full, -ESHUTDOWN stopping).
 * - a job whose deadline passed while queued completes with -ETIMEDOUT and
 *   is never computed; a job whose alive() says the client is gone completes
 *   with -ECANCELED and is never computed.
 * - every submitted job gets exactly one done() call: from the engine
 *   thread, or from batcher_fail_queued / batcher_free for jobs left queued.
 *
 * Thread-safety: submit/depth/fail_queued from any thread; done() runs on the
 * engine thread (keep it short: no JSON, no I/O).  batcher_free joins the
 * engine thread; call it once nobody submits any more.
 * Errors: 0 or negative errno.
 */
#ifndef MNETD_BATCHER_H
#define MNETD_BATCHER_H

#include <stdbool.h>
#include <stdint.h>

#include "mnet.h"

struct batcher;

struct batch_job {
    /* set by the submitter */
    const uint8_t *rgb;      /* (H, W, 3) model-sized RGB, owned by the submitter */
    float *scores;           /* (classes) probabilities, written by the engine thread */
    int64_t deadline_ns;     /* CLOCK_MONOTONIC; 0 = none */
    int (*alive)(void *ctx); /* optional: return 0 when the client has gone */
    void (*done)(struct batch_job *job, void *ctx);
    void *ctx;
    /* set by the batcher before done() */
    int status;              /* 0, -ETIMEDOUT, -ECANCELED, -ESHUTDOWN or an engine error */
    int batch_size;          /* images in the engine run that computed this job */
    int64_t t_enqueue_ns, t_start_ns, t_end_ns; /* CLOCK_MONOTONIC */
};

struct batcher_options {
    int max_batch;        /* images per engine run, >= 1 */
    int64_t max_delay_us; /* wait for a fuller batch at most this long; 0 = do not wait */
    int capacity;         /* max images queued (not counting the running batch), >= 1 */
    /* optional observer, called on the engine thread after each engine run */
    void (*on_batch)(void *cls, int n, int64_t infer_ns);
    void *cls;
};

/* The model must have been loaded with max_batch >= opt->max_batch (smaller
 * is fine too: the engine then runs the batch in chunks).  Starts the thread. */
int batcher_new(mnet_model *m, const struct batcher_options *opt, struct batcher **out);

/* Queue n jobs (all or none).  -EAGAIN: not enough room now; -EMSGSIZE: n is
 * larger than the capacity (it can never fit); -ESHUTDOWN: stopping. */
int batcher_submit(struct batcher *b, struct batch_job **jobs, int n);

/* Images queued now, and queued + running. */
int batcher_depth(struct batcher *b);
int batcher_pending(struct batcher *b);
int batcher_capacity(const struct batcher *b);
/* False when images have been waiting and the engine thread has finished no
 * batch for max_stall_ns: a wedged engine (the watchdog stops pinging). */
bool batcher_progressing(struct batcher *b, int64_t max_stall_ns);

/* Refuse new jobs from now on (-ESHUTDOWN); queued jobs still run. */
void batcher_close(struct batcher *b);
/* Complete every job still queued with status (e.g. -ESHUTDOWN after the drain deadline). */
void batcher_fail_queued(struct batcher *b, int status);

/* Stop: queued jobs fail with -ESHUTDOWN, the running batch finishes, the
 * thread is joined.  NULL-safe.  Does not free the model. */
void batcher_free(struct batcher *b);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t batcher_now_ns(void);

#endif
