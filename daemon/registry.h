/* registry.h: the set of loaded models the daemon serves, swapped atomically.
 *
 * A registry is built from a config: every model loaded, warmed up (one full
 * batch through the engine) and given its batcher before anyone can see it.
 * On a reload, a model whose settings and files (model and labels: device,
 * inode, size, mtime) are unchanged is not loaded again: the new registry
 * shares the running slot, batcher and queue included.
 * registry_publish() makes it current; requests take a reference with
 * registry_acquire() and keep it until they are freed, so a SIGHUP swap never
 * pulls a model from under a request.  The replaced registry is retired and
 * freed by registry_reap() (main thread) once its last reference is gone;
 * by then its queues are empty, because every queued job belongs to a
 * request that still holds a reference.
 *
 * Thread-safety: acquire/release/find from any thread; load, publish, reap
 * and shutdown from the main thread.  Errors: 0 or negative errno, with a
 * one-line reason in err.
 */
#ifndef MNETD_REGISTRY_H
#define MNETD_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "batcher.h"
#include "config.h"
#include "metrics.h"
#include "mnet.h"

/* What a file was when it was loaded: a reload compares it. */
struct file_id {
    unsigned long long dev, ino, size;
    long long mtime_ns;
};

/* One loaded model, shared by every registry that serves it (refcounted). */
struct model_slot {
    atomic_int refs;              /* registries holding it */
    unsigned long generation;     /* of the registry that loaded it */
    struct config_model cfg;      /* the settings it was loaded with */
    struct file_id model_id, labels_id;
    mnet_model *model;
    const struct mnet_info *info;
    char *labels_buf;             /* the labels file, NUL-split */
    const char **labels;          /* classes entries (NULL when no labels file) */
    struct batcher *batcher;
    double load_seconds;
    /* cached metric series for the hot path (NULL-safe) */
    metrics_series *m_images, *m_batches, *m_queue_s, *m_infer_s, *m_batch_size, *m_depth;
};

struct registry {
    atomic_int refs;
    int n;
    struct model_slot **slots;
    int default_index;
    struct config_server server;  /* request limits loaded with these models (hot-reloaded too) */
    unsigned long generation;     /* 1 for the first load, +1 per successful reload */
};

/* Load every model of cfg (md may be NULL), sharing the unchanged ones of
 * prev (NULL: load all).  On failure nothing new is left running and *out is
 * untouched. */
int registry_load(const struct config *cfg, const struct registry *prev,
                  struct metrics_daemon *md, struct registry **out, char *err, size_t errlen);

/* Make r current (takes over the caller's reference); the previous one is
 * retired.  Closes nothing: requests already holding the old one finish on it. */
void registry_publish(struct registry *r);

/* The current registry with a reference taken, or NULL before the first publish. */
struct registry *registry_acquire(void);
void registry_release(struct registry *r); /* NULL-safe */

/* Free retired registries nobody references any more.  Returns how many are
 * still waiting. */
int registry_reap(void);

/* Close every batcher of every registry
 * (new submissions fail with -ESHUTDOWN; queued work still runs). */
void registry_close_all(void);
/* Images queued or running over all registries (drain progress). */
int registry_pending(void);
/* Every engine thread of the current registry made progress within max_stall_ns
 * (or has nothing to do): the watchdog's health test. */
bool registry_engines_healthy(int64_t max_stall_ns);
/* Fail every queued job with status (drain deadline passed). */
void registry_fail_queued(int status);
/* Free everything (after the HTTP server has stopped). */
void registry_shutdown(void);

/* The model called name (NULL or "" = the default), or NULL. */
struct model_slot *registry_find(struct registry *r, const char *name);

/* Label for class i ("" when unknown). */
const char *registry_label(const struct model_slot *s, int i);

#endif
