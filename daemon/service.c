/* service.c: systemd notification, watchdog and socket activation. */
#include "service.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

/* sd_notify returns >0 when sent, 0 when $NOTIFY_SOCKET is unset, <0 on error. */
static int notify(const char *msg)
{
    int r = sd_notify(0, msg);
    return r < 0 ? r : 0;
}

static int notify_with_status(const char *head, const char *status)
{
    char buf[512];
    if (status)
        snprintf(buf, sizeof buf, "%s\nSTATUS=%s", head, status);
    else
        snprintf(buf, sizeof buf, "%s", head);
    return notify(buf);
}

int service_notify_ready(const char *status)
{
    return notify_with_status("READY=1", status);
}

int service_notify_stopping(const char *status)
{
    return notify_with_status("STOPPING=1", status);
}

int service_notify_reloading(const char *status)
{
    /* MONOTONIC_USEC lets Type=notify-reload (systemd >= 253) match the
     * reload to this message; older systemd ignores the field. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char head[96];
    snprintf(head, sizeof head, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000u);
    return notify_with_status(head, status);
}

int service_notify_status(const char *fmt, ...)
{
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char buf[420];
    snprintf(buf, sizeof buf, "STATUS=%s", text);
    return notify(buf);
}

int service_watchdog_ping(void)
{
    return notify("WATCHDOG=1");
}

uint64_t service_watchdog_usec(void)
{
    uint64_t usec = 0;
    /* 0 unset (or for another pid), >0 enabled. */
    if (sd_watchdog_enabled(0, &usec) > 0)
        return usec;
    return 0;
}

int service_listen_fd(void)
{
    int n = sd_listen_fds(1); /* 1: unset LISTEN_* so children do not inherit them */
    if (n <= 0)
        return -1;
    int fd = SD_LISTEN_FDS_START;
    /* Only a listening stream socket is useful to the HTTP server. */
    if (sd_is_socket(fd, 0, SOCK_STREAM, 1) <= 0)
        return -1;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

/* ---- watchdog thread ---- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool running, stop;
    uint64_t interval_usec;
    bool (*healthy)(void *);
    void *arg;
} wd = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void *watchdog_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&wd.lock);
    while (!wd.stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t half = wd.interval_usec / 2;
        ts.tv_sec += (time_t)(half / 1000000u);
        ts.tv_nsec += (long)(half % 1000000u) * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        int r = 0;
        while (!wd.stop && r != ETIMEDOUT)
            r = pthread_cond_timedwait(&wd.cond, &wd.lock, &ts);
        if (wd.stop)
            break;
        bool ok = !wd.healthy || wd.healthy(wd.arg);
        if (ok) {
            pthread_mutex_unlock(&wd.lock);
            service_watchdog_ping();
            pthread_mutex_lock(&wd.lock);
        }
    }
    pthread_mutex_unlock(&wd.lock);
    return NULL;
}

int service_watchdog_start(bool (*healthy)(void *arg), void *arg)
{
    uint64_t usec = service_watchdog_usec();
    if (usec == 0)
        return 0;
    pthread_mutex_lock(&wd.lock);
    if (wd.running) {
        pthread_mutex_unlock(&wd.lock);
        return -EALREADY;
    }
    wd.interval_usec = usec;
    wd.healthy = healthy;
    wd.arg = arg;
    wd.stop = false;
    int r = pthread_create(&wd.thread, NULL, watchdog_main, NULL);
    if (r == 0)
        wd.running = true;
    pthread_mutex_unlock(&wd.lock);
    return -r;
}

void service_watchdog_stop(void)
{
    pthread_mutex_lock(&wd.lock);
    if (!wd.running) {
        pthread_mutex_unlock(&wd.lock);
        return;
    }
    wd.stop = true;
    pthread_cond_signal(&wd.cond);
    pthread_mutex_unlock(&wd.lock);
    pthread_join(wd.thread, NULL);
    pthread_mutex_lock(&wd.lock);
    wd.running = false;
    pthread_mutex_unlock(&wd.lock);
}
