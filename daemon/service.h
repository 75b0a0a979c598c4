/* service.h: systemd glue (libsystemd), all of it a no-op outside systemd.
 *
 * Notifications go to $NOTIFY_SOCKET (Type=notify); without it every
 * service_notify_* returns 0 and does nothing.  Socket activation takes the
 * first socket systemd passed (LISTEN_FDS, from mobilenetd.socket) so the
 * HTTP server can use it via MHD_OPTION_LISTEN_SOCKET.
 *
 * Watchdog: systemd kills the service when no WATCHDOG=1 arrives within
 * WatchdogSec.  A ping must prove the daemon works, so the helper thread
 * below only pings while the caller's health callback says yes (e.g. the
 * engine thread made progress or is idle, and the HTTP server is up).
 *
 * Errors: 0 or a negative errno.  Nothing here logs.
 * Thread-safety: the notify functions may be called from any thread.
 */
#ifndef MOBILENETD_SERVICE_H
#define MOBILENETD_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

/* READY=1 plus STATUS=status (status may be NULL). */
int service_notify_ready(const char *status);
/* STOPPING=1 plus STATUS=status: send when SIGTERM starts the drain. */
int service_notify_stopping(const char *status);
/* RELOADING=1 (+ MONOTONIC_USEC for Type=notify-reload): send when SIGHUP
 * starts a reload; send service_notify_ready() when it is done (or failed). */
int service_notify_reloading(const char *status);
/* STATUS=... (printf format), shown by `systemctl status`. */
int service_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* WATCHDOG=1. */
int service_watchdog_ping(void);

/* The watchdog interval systemd expects pings within (WATCHDOG_USEC for this
 * pid), 0 when the watchdog is off. */
uint64_t service_watchdog_usec(void);

/* Socket activation: the first listening socket passed by systemd (fd 3),
 * set non-blocking and close-on-exec, or -1 when none was passed.  Clears
 * LISTEN_FDS/LISTEN_PID from the environment so children do not inherit. */
int service_listen_fd(void);

/* Watchdog ping thread: wakes every interval/2 and sends WATCHDOG=1 when
 * healthy(arg) returns true (healthy may be NULL = always).  Does nothing and
 * returns 0 when the watchdog is off.  service_watchdog_stop() joins it
 * (safe to call when it never started). */
int service_watchdog_start(bool (*healthy)(void *arg), void *arg);
void service_watchdog_stop(void);

#endif
