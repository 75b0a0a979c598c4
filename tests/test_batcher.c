/* test_batcher.c: daemon/batcher.c with a real (small, built) MobileNet:
 * - many submitter threads: every job completes exactly once, batches never
 *   exceed max_batch, some batches are larger than 1, and each job's scores
 *   are bit-identical to running its image alone;
 * - admission is all-or-nothing (-EAGAIN leaves the queue untouched),
 *   -EMSGSIZE for a request that can never fit;
 * - a job whose deadline passed while queued completes -ETIMEDOUT and is not
 *   computed; a job whose client is gone completes -ECANCELED;
 * - batcher_free fails what is still queued with -ESHUTDOWN.
 * Meant to run under TSan too (the queue is the shared state). */
#include "batcher.h"
#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#define RES 64
#define CLASSES 10
#define IMG (RES * RES * 3)
#define N_THREADS 8
#define PER_THREAD 12

struct job {
    struct batch_job bj;
    uint8_t rgb[IMG];
    float scores[CLASSES];
    atomic_int done_calls;
    int gone;
};

static atomic_int g_done, g_batches, g_big, g_max_batch, g_images;

static void on_done(struct batch_job *j, void *ctx)
{
    struct job *job = ctx;
    (void)j;
    atomic_fetch_add(&job->done_calls, 1);
    atomic_fetch_add(&g_done, 1);
}

static int alive(void *ctx)
{
    return !((struct job *)ctx)->gone;
}

static void on_batch(void *cls, int n, int64_t ns)
{
    (void)cls;
    (void)ns;
    atomic_fetch_add(&g_batches, 1);
    atomic_fetch_add(&g_images, n);
    if (n > 1)
        atomic_fetch_add(&g_big, 1);
    int m = atomic_load(&g_max_batch);
    while (n > m && !atomic_compare_exchange_weak(&g_max_batch, &m, n))
        ;
}

static void fill(struct job *j, unsigned seed)
{
    for (int i = 0; i < IMG; i++) {
        seed = seed * 1103515245u + 12345u;
        j->rgb[i] = (uint8_t)(seed >> 16);
    }
    j->bj = (struct batch_job){ .rgb = j->rgb, .scores = j->scores, .done = on_done, .ctx = j,
                                .alive = alive };
    atomic_init(&j->done_calls, 0);
}

static struct batcher *g_b;
static struct job *g_jobs;

static void *submitter(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int k = 0; k < PER_THREAD; k++) {
        struct job *j = &g_jobs[t * PER_THREAD + k];
        struct batch_job *p = &j->bj;
        int rc;
        while ((rc = batcher_submit(g_b, &p, 1)) == -EAGAIN)
            usleep(200);
        if (rc != 0)
            printf("FAIL submit rc %d\n", rc);
        usleep(100 * (unsigned)(k % 3));
    }
    return NULL;
}

int main(void)
{
    struct mnet_build_spec spec = { .version = 1, .alpha = 0.25f, .resolution = RES,
                                    .classes = CLASSES, .numerics = MNET_F32, .seed = 7 };
    struct mnet_options opt = { .threads = 2, .max_batch = 4 };
    mnet_model *m = NULL;
    char err[256];
    int rc = mnet_build(&spec, &opt, &m, err, sizeof(err));
    CHECK(rc == 0, "mnet_build: %s", err);
    if (rc)
        return 1;

    /* ---- concurrency, batching, results identical to one-at-a-time */
    int n = N_THREADS * PER_THREAD;
    g_jobs = calloc((size_t)n, sizeof(*g_jobs));
    for (int i = 0; i < n; i++)
        fill(&g_jobs[i], (unsigned)i * 7919u + 1);
    struct batcher_options bo = { .max_batch = 4, .max_delay_us = 3000, .capacity = 16,
                                  .on_batch = on_batch };
    CHECK(batcher_new(m, &bo, &g_b) == 0, "batcher_new");
    pthread_t th[N_THREADS];
    for (int t = 0; t < N_THREADS; t++)
        pthread_create(&th[t], NULL, submitter, (void *)(intptr_t)t);
    for (int t = 0; t < N_THREADS; t++)
        pthread_join(th[t], NULL);
    for (int i = 0; i < 2000 && atomic_load(&g_done) < n; i++)
        usleep(5000);
    CHECK(atomic_load(&g_done) == n, "all %d jobs done (%d)", n, atomic_load(&g_done));
    int once = 0, ok = 0;
    float alone[CLASSES];
    for (int i = 0; i < n; i++) {
        once += atomic_load(&g_jobs[i].done_calls) == 1;
        ok += g_jobs[i].bj.status == 0;
    }
    CHECK(once == n, "every job completed exactly once (%d/%d)", once, n);
    CHECK(ok == n, "every job status 0 (%d/%d)", ok, n);
    CHECK(atomic_load(&g_images) == n, "on_batch saw %d images", atomic_load(&g_images));
    CHECK(atomic_load(&g_max_batch) <= 4, "no batch over max_batch (%d)", atomic_load(&g_max_batch));
    CHECK(atomic_load(&g_big) > 0, "%d of %d batches larger than 1", atomic_load(&g_big),
          atomic_load(&g_batches));
    batcher_free(g_b); /* joins the engine thread: mnet_classify is ours again */
    int same = 0;
    for (int i = 0; i < n; i++) {
        mnet_classify(m, g_jobs[i].rgb, 1, alone);
        same += memcmp(alone, g_jobs[i].scores, sizeof(alone)) == 0;
    }
    CHECK(same == n, "batched scores bit-identical to one-at-a-time (%d/%d)", same, n);

    /* ---- admission, deadlines, cancellation, shutdown */
    struct batcher_options slow = { .max_batch = 4, .max_delay_us = 300000, .capacity = 3 };
    CHECK(batcher_new(m, &slow, &g_b) == 0, "batcher_new (slow)");
    struct job *js = calloc(6, sizeof(*js));
    for (int i = 0; i < 6; i++)
        fill(&js[i], 100u + (unsigned)i);
    struct batch_job *two[2] = { &js[0].bj, &js[1].bj };
    js[0].bj.deadline_ns = batcher_now_ns() + 50 * 1000000LL; /* expires while queued */
    js[1].gone = 1;                                           /* client hangs up */
    CHECK(batcher_submit(g_b, two, 2) == 0, "submit 2 of 3");
    struct batch_job *more[2] = { &js[2].bj, &js[3].bj };
    CHECK(batcher_submit(g_b, more, 2) == -EAGAIN, "2 more do not fit: -EAGAIN");
    CHECK(batcher_depth(g_b) == 2, "nothing half-queued (depth %d)", batcher_depth(g_b));
    struct batch_job *four[4] = { &js[2].bj, &js[3].bj, &js[4].bj, &js[5].bj };
    CHECK(batcher_submit(g_b, four, 4) == -EMSGSIZE, "4 > capacity: -EMSGSIZE");
    for (int i = 0; i < 400 && atomic_load(&js[0].done_calls) + atomic_load(&js[1].done_calls) < 2; i++)
        usleep(5000);
    CHECK(js[0].bj.status == -ETIMEDOUT && js[0].bj.batch_size == 0,
          "expired job: -ETIMEDOUT, never computed (status %d)", js[0].bj.status);
    CHECK(js[1].bj.status == -ECANCELED && js[1].bj.batch_size == 0,
          "abandoned job: -ECANCELED, never computed (status %d)", js[1].bj.status);
    struct batch_job *last[1] = { &js[2].bj };
    CHECK(batcher_submit(g_b, last, 1) == 0, "submit one more");
    batcher_free(g_b); /* before its 300 ms batch delay ran out */
    CHECK(atomic_load(&js[2].done_calls) == 1 &&
          (js[2].bj.status == -ESHUTDOWN || js[2].bj.status == 0),
          "queued job at free: done once, -ESHUTDOWN or computed (status %d)", js[2].bj.status);
    free(js);
    free(g_jobs);
    mnet_free(m);
    return check_summary();
}
