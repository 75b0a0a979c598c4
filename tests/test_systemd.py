#!/usr/bin/python3
"""test_systemd.py: the real mobilenetd under a fake systemd.

We play systemd's side of the protocols (sd_notify datagrams at
$NOTIFY_SOCKET, the watchdog via WATCHDOG_USEC/WATCHDOG_PID, socket activation
via LISTEN_FDS/LISTEN_PID with the socket at fd 3) and check:
  - socket activation: the daemon serves on the passed socket even though
    [server] listen names a port already taken;
  - READY=1 only once /readyz is 200, STATUS= texts;
  - WATCHDOG=1 pings at about WATCHDOG_USEC/2 while healthy;
  - SIGHUP: RELOADING=1 then READY=1, and it still answers;
  - SIGTERM: STOPPING=1 and exit 0;
  - --check-config on the shipped config (exit 0) and on a broken one
    (exit 1, the error names file:line and the key).
Missing data or binary is a failure.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SHARED = os.environ.get("MNET_SHARED", "")
BUILD = os.environ.get("MNET_BUILD", "")
SOURCE = os.environ.get("MNET_SOURCE", "")
BIN = os.environ.get("MNETD_TEST_BIN", os.path.join(BUILD, "daemon", "mobilenetd"))
MODEL = os.path.join(SHARED, "models", "mobilenet_v2_1.0_224_quant.tflite")
LABELS = os.path.join(SHARED, "models", "imagenet_labels.txt")
PHOTO = os.path.join(SHARED, "testdata", "samples", "hot_dog.jpg")

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    sys.stdout.flush()
    if not cond:
        failures.append(what)
    return cond


for p in (BIN, MODEL, LABELS, PHOTO):
    if not os.path.exists(p):
        print("FAIL missing: %s" % p)
        sys.exit(1)


def http(port, path, body=None, ctype="image/jpeg", timeout=30):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body)
    if body is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return None, b""


def messages(ns, until, want=None):
    """Datagrams until the deadline (or until one contains want)."""
    out = []
    while time.time() < until:
        ns.settimeout(max(0.01, until - time.time()))
        try:
            m = ns.recv(4096).decode()
        except socket.timeout:
            break
        out.append(m)
        if want and want in m:
            break
    return out


# ---- --check-config
conf = os.path.join(SOURCE, "config", "mobilenetd.conf")
env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILENETD_")}
env["MOBILENETD_SERVER_MODEL_DIR"] = os.path.join(SHARED, "models")
r = subprocess.run([BIN, "--config", conf, "--check-config"], env=env, capture_output=True,
                   text=True, timeout=60)
check(r.returncode == 0, "--check-config accepts the shipped config (%d: %s)" %
      (r.returncode, r.stderr.strip()))
tmp = tempfile.mkdtemp(prefix="test_systemd.")
bad = os.path.join(tmp, "bad.conf")
with open(bad, "w") as f:
    f.write("[server]\nlisten = 127.0.0.1:8080\n\nmax_body_bytes = 12 parsecs\n")
r = subprocess.run([BIN, "--config", bad, "--check-config"], env=env, capture_output=True,
                   text=True, timeout=60)
check(r.returncode == 1 and "bad.conf:4" in r.stderr and "max_body_bytes" in r.stderr,
      "--check-config rejects a bad value naming file:line and key, exit 1 (exit %d: %s)" %
      (r.returncode, r.stderr.strip()))
r = subprocess.run([BIN, "--config", conf, "--check-config", "--no-such-option", "1"], env=env,
                   capture_output=True, text=True, timeout=60)
check(r.returncode == 1 and "--no-such-option" in r.stderr,
      "an unknown option is a configuration error too: exit 1 naming it (exit %d: %s)" %
      (r.returncode, r.stderr.strip()))
r = subprocess.run([BIN, "--model", MODEL, "--print-config"], env=env, capture_output=True,
                   text=True, timeout=60)
printed = os.path.join(tmp, "printed.conf")
with open(printed, "w") as f:
    f.write(r.stdout)
r2 = subprocess.run([BIN, "--config", printed, "--check-config"], env=env, capture_output=True,
                    text=True, timeout=60)
check(r.returncode == 0 and r2.returncode == 0, "--print-config output is a valid config")

# ---- the unit files: systemd-analyze verify and the security exposure score
# the units as meson install writes them (configure_file filled in the paths)
units = os.path.join(BUILD, "systemd")
sa = shutil.which("systemd-analyze")
check(sa is not None, "systemd-analyze is installed")
if sa:
    udir = os.path.join(tmp, "units")
    os.mkdir(udir)
    # ExecStart must name an existing binary for verify: point it at the build.
    for u in ("mobilenetd.service", "mobilenetd.socket"):
        with open(os.path.join(units, u)) as f:
            text = f.read()
        check("@" + "BINDIR@" not in text and "@" + "DOCDIR@" not in text,
              "%s: install paths filled in" % u)
        if u.endswith(".service"):
            m = re.search(r"^ExecStart=(\S+)/mobilenetd --config (\S+)$", text, re.M)
            check(m is not None and m.group(1).startswith("/") and m.group(2).startswith("/"),
                  "ExecStart names the installed binary and config by absolute path (%s)" %
                  (m.group(0) if m else "no ExecStart"))
            if m:
                text = text.replace(m.group(1) + "/mobilenetd", os.path.abspath(BIN), 1)
        with open(os.path.join(udir, u), "w") as f:
            f.write(text)
    r = subprocess.run([sa, "verify", "mobilenetd.service", "mobilenetd.socket"], cwd=udir,
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
          "systemd-analyze verify: clean (%d %s %s)" % (r.returncode, r.stdout, r.stderr))
    r = subprocess.run([sa, "security", "--offline=true", "./mobilenetd.service"], cwd=udir,
                       capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for mobilenetd.service: ([0-9.]+)", r.stdout)
    check(m is not None and float(m.group(1)) <= 2.0,
          "systemd-analyze security exposure %s <= 2.0" % (m.group(1) if m else r.stdout[-300:]))
    shutil.rmtree(udir)
with open(os.path.join(units, "mobilenetd.service")) as f:
    unit = f.read()
stop = re.search(r"^TimeoutStopSec=(\d+)s?$", unit, re.M)
drain = re.search(r"^drain_timeout_s = (\d+)$", open(conf).read(), re.M)
check(stop and drain and int(stop.group(1)) > int(drain.group(1)),
      "TimeoutStopSec (%s) > drain_timeout_s (%s)" % (stop and stop.group(1),
                                                        drain and drain.group(1)))
for line in ("Type=notify", "NotifyAccess=main", "Environment=GOMP_SPINCOUNT=1000",
             "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "DynamicUser=yes"):
    check(re.search("^" + re.escape(line) + "$", unit, re.M) is not None, "unit has " + line)
check(re.search(r"^WatchdogSec=\d+", unit, re.M) is not None, "unit has WatchdogSec=")

# ---- the daemon under a fake systemd
npath = os.path.join(tmp, "notify")
ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
ns.bind(npath)
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(("127.0.0.1", 0))
ls.listen(64)
port = ls.getsockname()[1]
lfd = ls.fileno()

env = {k: v for k, v in os.environ.items()
       if not k.startswith(("MOBILENETD_", "LISTEN_", "WATCHDOG_", "NOTIFY_"))}
env.update({"NOTIFY_SOCKET": npath, "LISTEN_FDS": "1", "WATCHDOG_USEC": "1000000",
            "GOMP_SPINCOUNT": "1000"})


def child_setup():
    # systemd's side: the listening socket at fd 3.
    os.dup2(lfd, 3)
    os.set_inheritable(3, True)


# LISTEN_PID/WATCHDOG_PID must be the daemon's pid: a shell exports its own
# pid and execs the daemon, which keeps it.
SH = ["/bin/sh", "-c", 'LISTEN_PID=$$ WATCHDOG_PID=$$ exec "$@"', "sh"]


# [server] listen names a port we hold ourselves, so the daemon could not bind
# it: serving at all proves the passed socket is used.
blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
blocker.bind(("127.0.0.1", 0))
blocker.listen(1)
busy = blocker.getsockname()[1]
# fd 3 is created by child_setup after the fork; pass_fds keeps it open
# through close_fds (which runs after preexec_fn).
proc = subprocess.Popen(SH + [BIN, "--listen", "127.0.0.1:%d" % busy, "--model", MODEL,
                         "--labels", LABELS, "--access-log", "off"],
                        env=env, preexec_fn=child_setup, pass_fds=(3,), close_fds=True,
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
ls.close()  # the daemon holds its own copy now
try:
    msgs = messages(ns, time.time() + 60, want="READY=1")
    ready = [m for m in msgs if "READY=1" in m]
    check(len(ready) == 1, "READY=1 received (%s)" % msgs)
    check(any("STATUS=" in m for m in msgs), "STATUS= texts sent (%s)" % msgs)
    st, _ = http(port, "/readyz")
    check(st == 200, "/readyz 200 on the socket-activated port once READY=1 (%s)" % st)
    with open(PHOTO, "rb") as f:
        photo = f.read()
    st, body = http(port, "/v1/classify", photo)
    ok = st == 200
    top = ""
    if ok:
        j = json.loads(body)
        top = j["predictions"][0]["top_k"][0]["label"]
    check(ok and "hotdog" in top, "classify through the passed socket: %s %s" % (st, top))

    # watchdog: ~2 pings a second (WATCHDOG_USEC=1 s, pinged every 0.5 s)
    t0 = time.time()
    msgs = messages(ns, t0 + 2.2)
    pings = sum(1 for m in msgs if m == "WATCHDOG=1")
    check(3 <= pings <= 6, "WATCHDOG=1 pinged %d times in 2.2 s (expect ~4)" % pings)

    # SIGHUP: RELOADING=1, then READY=1, still serving
    proc.send_signal(signal.SIGHUP)
    msgs = messages(ns, time.time() + 60, want="READY=1")
    rel = [i for i, m in enumerate(msgs) if "RELOADING=1" in m]
    rdy = [i for i, m in enumerate(msgs) if "READY=1" in m]
    check(rel and rdy and rel[0] < rdy[-1] and "MONOTONIC_USEC=" in msgs[rel[0]],
          "SIGHUP: RELOADING=1 (with MONOTONIC_USEC) then READY=1 (%s)" %
          [m for m in msgs if m != "WATCHDOG=1"])
    st, _ = http(port, "/v1/classify", photo)
    check(st == 200, "classify after the reload (%s)" % st)

    # SIGTERM: STOPPING=1, exit 0
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(60)
    msgs = messages(ns, time.time() + 0.5)
    check(any("STOPPING=1" in m for m in msgs), "STOPPING=1 on SIGTERM")
    check(rc == 0, "exit 0 after SIGTERM (%s)" % rc)
finally:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    err = proc.stderr.read().decode(errors="replace")
    if failures:
        print("daemon stderr:\n" + err[-3000:])
    ns.close()
    blocker.close()
    for p in (npath, bad, printed):
        try:
            os.unlink(p)
        except OSError:
            pass
    os.rmdir(tmp)

if failures:
    print("%d check(s) failed" % len(failures))
    sys.exit(1)
print("all checks passed")
