/* test_service.c: daemon/service against the sd_notify protocol as systemd
 * speaks it: a datagram socket at $NOTIFY_SOCKET receives "KEY=VALUE\n..."
 * messages; WATCHDOG_USEC/WATCHDOG_PID enable the watchdog; LISTEN_FDS/
 * LISTEN_PID pass sockets starting at fd 3.  We play systemd's side here.
 */
#include "service.h"
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>


/* One datagram within timeout_ms into buf ("" on timeout). */
static void recv_msg(int fd, char *buf, size_t n, int timeout_ms)
{
    buf[0] = '\0';
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1)
        return;
    ssize_t r = recv(fd, buf, n - 1, 0);
    buf[r > 0 ? r : 0] = '\0';
}

static atomic_int healthy = 1;
static bool is_healthy(void *arg)
{
    (void)arg;
    return atomic_load(&healthy);
}

int main(void)
{
    char buf[1024];
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_PID");

    /* Outside systemd everything is a successful no-op. */
    CHECK(service_notify_ready("x") == 0, "ready without systemd");
    CHECK(service_notify_stopping(NULL) == 0, "stopping without systemd");
    CHECK(service_watchdog_ping() == 0, "ping without systemd");
    CHECK(service_watchdog_usec() == 0, "no watchdog");
    CHECK(service_watchdog_start(NULL, NULL) == 0, "watchdog start is a no-op");
    service_watchdog_stop();
    CHECK(service_listen_fd() == -1, "no socket activation");

    /* Play systemd: a datagram socket at $NOTIFY_SOCKET. */
    char dir[] = "/tmp/test_service.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/notify", dir);
    int ns = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (ns < 0 || bind(ns, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("notify socket");
        return 1;
    }
    setenv("NOTIFY_SOCKET", sa.sun_path, 1);

    CHECK(service_notify_ready("serving 2 models") == 0, "ready");
    recv_msg(ns, buf, sizeof buf, 1000);
    CHECK(!strcmp(buf, "READY=1\nSTATUS=serving 2 models"), "got '%s'", buf);
    CHECK(service_notify_ready(NULL) == 0, "ready");
    recv_msg(ns, buf, sizeof buf, 1000);
    CHECK(!strcmp(buf, "READY=1"), "got '%s'", buf);
    CHECK(service_notify_stopping("draining 3 requests") == 0, "stopping");
    recv_msg(ns, buf, sizeof buf, 1000);
    CHECK(!strcmp(buf, "STOPPING=1\nSTATUS=draining 3 requests"), "got '%s'", buf);
    CHECK(service_notify_reloading("reloading") == 0, "reloading");
    recv_msg(ns, buf, sizeof buf, 1000);
    CHECK(!strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 26) && strstr(buf, "\nSTATUS=reloading"),
          "got '%s'", buf);
    CHECK(service_notify_status("%d images/s", 42) == 0, "status");
    recv_msg(ns, buf, sizeof buf, 1000);
    CHECK(!strcmp(buf, "STATUS=42 images/s"), "got '%s'", buf);
    CHECK(service_watchdog_ping() == 0, "ping");
    recv_msg(ns, buf, sizeof buf, 1000);
    CHECK(!strcmp(buf, "WATCHDOG=1"), "got '%s'", buf);

    /* Watchdog: only for our pid; pings every interval/2 while healthy. */
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    setenv("WATCHDOG_USEC", "200000", 1);
    setenv("WATCHDOG_PID", "1", 1);
    CHECK(service_watchdog_usec() == 0, "watchdog for another pid");
    setenv("WATCHDOG_PID", pid, 1);
    CHECK(service_watchdog_usec() == 200000, "usec %llu",
          (unsigned long long)service_watchdog_usec());
    CHECK(service_watchdog_start(is_healthy, NULL) == 0, "start");
    CHECK(service_watchdog_start(is_healthy, NULL) == -EALREADY, "second start");
    int pings = 0;
    for (int i = 0; i < 4; i++) {
        recv_msg(ns, buf, sizeof buf, 400);
        pings += !strcmp(buf, "WATCHDOG=1");
    }
    CHECK(pings == 4, "healthy: %d pings in 4 windows", pings);
    atomic_store(&healthy, 0);
    recv_msg(ns, buf, sizeof buf, 150); /* one ping may be in flight */
    recv_msg(ns, buf, sizeof buf, 500);
    CHECK(buf[0] == '\0', "unhealthy daemon pinged: '%s'", buf);
    atomic_store(&healthy, 1);
    recv_msg(ns, buf, sizeof buf, 400);
    CHECK(!strcmp(buf, "WATCHDOG=1"), "pings resume: '%s'", buf);
    service_watchdog_stop();
    recv_msg(ns, buf, sizeof buf, 50);
    recv_msg(ns, buf, sizeof buf, 300);
    CHECK(buf[0] == '\0', "ping after stop: '%s'", buf);
    service_watchdog_stop(); /* twice is fine */
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");

    /* Socket activation: a listening TCP socket at fd 3. */
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(ls >= 0 && bind(ls, (struct sockaddr *)&in, sizeof in) == 0 && listen(ls, 8) == 0,
          "listen");
    CHECK(dup2(ls, 3) == 3, "dup2");
    if (ls != 3)
        close(ls);
    setenv("LISTEN_FDS", "1", 1);
    setenv("LISTEN_PID", "1", 1);
    CHECK(service_listen_fd() == -1, "fds for another pid");
    setenv("LISTEN_FDS", "1", 1);
    setenv("LISTEN_PID", pid, 1);
    int fd = service_listen_fd();
    CHECK(fd == 3, "fd %d", fd);
    CHECK(fd < 0 || (fcntl(fd, F_GETFL) & O_NONBLOCK), "non-blocking");
    CHECK(fd < 0 || (fcntl(fd, F_GETFD) & FD_CLOEXEC), "close-on-exec");
    CHECK(!getenv("LISTEN_FDS") && !getenv("LISTEN_PID"), "LISTEN_* cleared");
    /* a connection to it works */
    struct sockaddr_in bound;
    socklen_t bl = sizeof bound;
    getsockname(3, (struct sockaddr *)&bound, &bl);
    int cs = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(cs, (struct sockaddr *)&bound, bl) == 0, "connect");
    close(cs);
    /* a datagram socket at fd 3 is not something to serve HTTP on */
    int us = socket(AF_INET, SOCK_DGRAM, 0);
    dup2(us, 3);
    close(us);
    setenv("LISTEN_FDS", "1", 1);
    setenv("LISTEN_PID", pid, 1);
    CHECK(service_listen_fd() == -1, "UDP socket refused");
    close(3);

    close(ns);
    unlink(sa.sun_path);
    rmdir(dir);
    return check_summary();
}
