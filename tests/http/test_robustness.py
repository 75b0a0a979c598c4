#!/usr/bin/python3
"""Hostile clients: a slow sender is cut off by connection_timeout_s; a
client that disconnects while queued costs no engine time and leaks no
request; connection limits per IP hold; oversized headers are refused;
an error decided at the headers is answered after the body, on a connection
that stays open; the daemon answers correctly afterwards."""
import socket
import subprocess
import time

from common import *  # noqa: F403

d = Daemon(args=["--connection-timeout-s", "2", "--max-connections-per-ip", "8",
                 "--max-batch-size", "8", "--max-batch-delay-us", "1000000",
                 "--max-header-bytes", "4096"])
try:
    # per-IP connection limit: 8 held open, the 9th and 10th are refused/closed.
    # (A connection that just closed, such as the readiness probe's, may still
    # be counted for a moment: try up to three times.)
    def limit_round():
        socks = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(10)]
        time.sleep(0.3)
        closed = 0
        for s in socks:
            s.settimeout(0.5)
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                if not s.recv(100):
                    closed += 1
            except OSError:
                closed += 1
        for s in socks:
            s.close()
        time.sleep(0.5)
        return closed
    results = []
    for _ in range(3):
        results.append(limit_round())
        if results[-1] == 2:
            break
    check(results[-1] == 2, "max_connections_per_ip=8: 2 of 10 connections refused (%s)" % results)

    # slow sender: headers and half a body, then silence
    s = socket.create_connection(("127.0.0.1", d.port))
    s.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: t\r\nContent-Type: image/jpeg\r\n"
              b"Content-Length: 100000\r\n\r\n" + b"\xff\xd8" + b"\0" * 1000)
    s.settimeout(10)
    t0 = time.time()
    try:
        data = s.recv(4096)
    except (socket.timeout, ConnectionResetError):
        data = None
    dt = time.time() - t0
    check(data == b"" and 1.0 < dt < 6.0, "slow sender disconnected after ~2 s (%.1f s)" % dt)
    s.close()

    # an error known from the headers (415) waits for the body: answered
    # before it, the connection would close with the body unread, and the
    # client could get a reset instead of the answer.
    def read_response(s):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                return None, b""
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:")]
        while length and len(body) < length[0]:
            chunk = s.recv(4096)
            if not chunk:
                break
            body += chunk
        return int(head.split(b" ")[1]), body

    s = socket.create_connection(("127.0.0.1", d.port))
    s.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
              b"Content-Length: 300000\r\n\r\n" + b"x" * 100000)
    s.settimeout(0.5)
    try:
        early = s.recv(4096)
    except socket.timeout:
        early = None
    check(early is None, "no answer before the body is complete (%r)" % (early and early[:40]))
    s.settimeout(10)
    s.sendall(b"x" * 200000)
    st, body = read_response(s)
    check(st == 415 and b"unsupported Content-Type" in body, "415 after the body (%s)" % st)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    st, _ = read_response(s)
    check(st == 200, "the connection stays open: GET /healthz on it -> %s" % st)
    s.close()

    # client disconnect while queued: the engine waits 1 s to fill a batch; the
    # client gives up after 0.3 s.
    m0 = d.metrics()
    p = subprocess.run(["curl", "-s", "--max-time", "0.3", "-H", "Content-Type: image/jpeg",
                        "--data-binary", "@" + sample("hot_dog.jpg"), d.base + "/v1/classify"])
    check(p.returncode == 28, "curl gave up while queued (exit %d)" % p.returncode)
    time.sleep(1.5)
    m = d.metrics()
    img = sum(v for k, v in m.items() if k.startswith("mobilenetd_images_total"))
    img0 = sum(v for k, v in m0.items() if k.startswith("mobilenetd_images_total"))
    check(img == img0, "the abandoned image was never computed (images_total %d -> %d)" % (img0, img))
    # the metrics request itself is the only one in flight
    check(m.get("mobilenetd_inflight_requests", -1) == 1,
          "no request leaked (inflight %s)" % m.get("mobilenetd_inflight_requests"))
    check("status=499" in d.stderr() and "status=500" not in d.stderr(),
          "the abandoned request is logged with status 499 (never 500)")

    # oversized headers
    st, _, _ = curl(d.base + "/healthz", ["-H", "X-Big: " + "a" * 20000])
    check(st in (413, 431), "20 kB of headers refused with %d" % st)

    # still healthy and correct
    st, _, j = classify_raw(d.base, sample("hot_dog.jpg"))
    check(st == 200 and label_ok("hot_dog.jpg", top1_label(j["predictions"][0])),
          "correct answer after the hostile clients")
finally:
    check(d.stop() == 0, "exit 0")
finish()
