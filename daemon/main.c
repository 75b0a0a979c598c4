/* main.c: mobilenetd's lifecycle, owned by the main thread.
 *
 * Order: config -> signals blocked (every later thread inherits the mask;
 * the main thread reads them from a signalfd) -> metrics -> HTTP server up
 * (healthz 200, readyz 503 "loading") -> models loaded and warmed up ->
 * published -> readyz 200 + READY=1 -> loop.
 *
 * SIGTERM/SIGINT: STOPPING=1, readiness 503, no new connections
 * (MHD_quiesce_daemon), wait for queued and running work up to
 * drain_timeout_s, fail what is left with 503, stop, exit 0.
 * SIGHUP: re-read the config, load the new models completely, swap them in
 * (requests holding the old registry finish on it), free the old one once its
 * last request is gone.  A config or model that fails keeps the old one.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "metrics.h"
#include "omp_wait.h"
#include "registry.h"
#include "server.h"
#include "service.h"

static enum config_log_level g_level = CONFIG_LOG_INFO;

__attribute__((format(printf, 2, 3))) static void logmsg(enum config_log_level lvl,
                                                         const char *fmt, ...)
{
    if (lvl > g_level)
        return;
    static const char *const names[] = { "error", "warning", "info", "debug" };
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n", names[lvl], buf);
}

static void publish_metrics(struct metrics_daemon *md, const struct registry *r)
{
    if (!md)
        return;
    const char **names = calloc((size_t)r->n + 1, 2 * sizeof *names);
    for (int i = 0; i < r->n; i++) {
        metrics_daemon_model(md, MNETD_VERSION, r->slots[i]->cfg.name, r->slots[i]->info->sha256,
                             r->slots[i]->cfg.max_queue_images, r->slots[i]->load_seconds);
        if (names) {
            names[i] = r->slots[i]->cfg.name;
            names[r->n + 1 + i] = r->slots[i]->info->sha256;
        }
    }
    if (names) /* without memory the old models' series stay, which is only cosmetic */
        metrics_daemon_retire_except(md, r->n, names, names + r->n + 1);
    free(names);
}

static void log_models(const struct registry *r)
{
    for (int i = 0; i < r->n; i++) {
        const struct model_slot *s = r->slots[i];
        char how[64];
        if (s->generation == r->generation)
            snprintf(how, sizeof how, "loaded in %.3f s", s->load_seconds);
        else
            snprintf(how, sizeof how, "unchanged, kept from generation %lu", s->generation);
        logmsg(CONFIG_LOG_INFO,
               "model %s%s: %s (%s %dx%d, %d classes, %s on %s kernels, sha256 %.16s..., batch %d, "
               "queue %d) %s",
               s->cfg.name, i == r->default_index ? " (default)" : "", s->cfg.path,
               s->info->arch, s->info->height, s->info->width, s->info->classes,
               mnet_dtype_name(s->info->numerics), s->info->kernels, s->info->sha256,
               s->cfg.max_batch_size, s->cfg.max_queue_images, how);
    }
}

/* The watchdog pings only while every engine thread with queued images has
 * finished a batch within the last minute (no real batch takes that long),
 * so a wedged engine gets the service restarted. */
static bool watchdog_healthy(void *arg)
{
    (void)arg;
    return registry_engines_healthy(60LL * 1000000000LL);
}

static void drain_and_stop(const struct config *cfg)
{
    logmsg(CONFIG_LOG_INFO, "draining: %d requests in flight, %d images queued (up to %d s)",
           server_inflight(), registry_pending(), cfg->server.drain_timeout_s);
    service_notify_stopping("draining");
    server_begin_drain();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double t0 = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    double deadline = t0 + cfg->server.drain_timeout_s;
    for (;;) {
        if (server_inflight() == 0 && registry_pending() == 0)
            break;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if ((double)ts.tv_sec + ts.tv_nsec / 1e9 >= deadline)
            break;
        usleep(10000);
    }
    int left = registry_pending();
    if (left > 0 || server_inflight() > 0)
        logmsg(CONFIG_LOG_WARN, "drain timeout: %d images queued or running (the queued "
               "ones fail with 503), %d requests open", left, server_inflight());
    registry_close_all();
    registry_fail_queued(-ESHUTDOWN);
    /* A batch already running still writes its requests' scores and resumes
     * their connections: MHD must not be stopped under it (MHD_stop_daemon
     * with a suspended connection aborts, and would free the request the
     * engine thread is writing to).  A batch always ends, so this wait has no
     * bound of its own; a wedged engine is TimeoutStopSec's to kill. */
    while (registry_pending() > 0)
        usleep(10000);
    /* let the answers just produced reach their clients (bounded) */
    for (int i = 0; i < 100 && server_inflight() > 0; i++)
        usleep(10000);
    server_stop();
    service_watchdog_stop();
    registry_shutdown();
}

static void reload(struct config *cfg, struct metrics_daemon *md)
{
    char err[512] = "";
    service_notify_reloading("reloading configuration");
    logmsg(CONFIG_LOG_INFO, "SIGHUP: reloading the configuration");
    struct config next;
    int rc = config_reload(cfg, &next, err, sizeof(err));
    if (rc < 0) {
        logmsg(CONFIG_LOG_ERROR, "reload failed, keeping the running configuration: %s", err);
        service_notify_ready("running (reload failed)");
        return;
    }
    struct registry *r = NULL;
    struct registry *cur = registry_acquire();
    rc = registry_load(&next, cur, md, &r, err, sizeof(err));
    registry_release(cur);
    if (rc < 0) {
        logmsg(CONFIG_LOG_ERROR, "reload failed, keeping the running models: %s", err);
        config_free(&next);
        service_notify_ready("running (reload failed)");
        return;
    }
    if (strcmp(next.server.listen, cfg->server.listen) != 0 ||
        next.server.threads != cfg->server.threads ||
        next.server.max_connections != cfg->server.max_connections ||
        next.server.max_connections_per_ip != cfg->server.max_connections_per_ip ||
        next.server.connection_timeout_s != cfg->server.connection_timeout_s ||
        next.server.max_header_bytes != cfg->server.max_header_bytes)
        logmsg(CONFIG_LOG_WARN, "listen, threads, connection limits and timeouts, and "
                                "max_header_bytes only change on restart");
    registry_publish(r);
    g_level = next.server.log_level;
    publish_metrics(md, r);
    log_models(r);
    config_free(cfg);
    *cfg = next;
    logmsg(CONFIG_LOG_INFO, "reload done: generation %lu", r->generation);
    service_notify_ready("running");
}

int main(int argc, char **argv)
{
    /* Idle engine threads spin briefly, then sleep (omp_wait.h): libgomp's
     * default spin starved the HTTP threads that decode uploads (117 vs 153
     * images/s through HTTP under load).  Re-execs once, before any thread or
     * socket exists (the pid, the fds systemd passed and the environment
     * otherwise stay the same). */
    mnet_omp_bound_spin(argv);
    char err[512] = "";
    struct config cfg;
    int rc = config_parse_args(argc, argv, &cfg, err, sizeof(err));
    if (rc < 0) {
        /* 1 for any configuration error, command line included: what
         * --check-config, --help, OPERATIONS.md and the sample config promise
         * (config_parse_args does not tell a usage slip from a bad value) */
        fprintf(stderr, "mobilenetd: %s\n", err);
        return 1;
    }
    int code = config_run_action(&cfg, stdout, MNETD_VERSION);
    if (code >= 0) {
        config_free(&cfg);
        return code;
    }
    g_level = cfg.server.log_level;

    /* Signals: blocked here, before any thread exists, and read from a signalfd. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) {
        logmsg(CONFIG_LOG_ERROR, "signalfd: %s", strerror(errno));
        return 1;
    }

    struct metrics_daemon md;
    struct metrics_daemon *mdp = NULL;
    if (metrics_daemon_init(&md) == 0)
        mdp = &md;
    else
        logmsg(CONFIG_LOG_WARN, "metrics disabled: out of memory");

    struct server_options so = {
        .cfg = &cfg.server, .listen_fd = service_listen_fd(), .metrics = mdp,
    };
    rc = server_start(&so, err, sizeof(err));
    if (rc < 0) {
        logmsg(CONFIG_LOG_ERROR, "%s", err);
        return 1;
    }
    logmsg(CONFIG_LOG_INFO, "mobilenetd %s listening on %s port %d%s", MNETD_VERSION,
           so.listen_fd >= 0 ? "the socket from systemd," : cfg.server.listen_host,
           server_port(), "; loading models");
    service_notify_status("loading models");

    struct registry *r = NULL;
    rc = registry_load(&cfg, NULL, mdp, &r, err, sizeof(err));
    if (rc < 0) {
        logmsg(CONFIG_LOG_ERROR, "%s", err);
        server_stop();
        return 1;
    }
    /* Test hook: hold readiness back so tests can observe /readyz 503 before it. */
    const char *hold = getenv("MNETD_TEST_READY_DELAY_MS");
    if (hold && atoi(hold) > 0)
        usleep((useconds_t)atoi(hold) * 1000);
    registry_publish(r);
    publish_metrics(mdp, r);
    log_models(r);
    server_set_ready(true);
    service_notify_ready("serving");
    service_watchdog_start(watchdog_healthy, NULL);
    logmsg(CONFIG_LOG_INFO, "ready");

    for (;;) {
        struct pollfd p = { .fd = sfd, .events = POLLIN };
        int n = poll(&p, 1, 500);
        registry_reap();
        if (n <= 0)
            continue;
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
            continue;
        if (si.ssi_signo == SIGHUP) {
            reload(&cfg, mdp);
            continue;
        }
        logmsg(CONFIG_LOG_INFO, "%s: shutting down", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }
    drain_and_stop(&cfg);
    metrics_daemon_free(mdp);
    config_free(&cfg);
    close(sfd);
    logmsg(CONFIG_LOG_INFO, "stopped");
    return 0;
}
