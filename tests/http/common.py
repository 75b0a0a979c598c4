"""Shared helpers for the HTTP tests: start the real mobilenetd on a free
loopback port with the real models, and talk to it with real curl.

Environment (set by meson's test_env): MNET_SHARED (models, photos),
MNET_BUILD (the build tree with daemon/mobilenetd).  MNETD_TEST_BIN overrides
the binary (e.g. an ASan build).  Missing data is a failure, never a skip.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SHARED = os.environ.get("MNET_SHARED", os.path.join(os.path.dirname(__file__), "../../../shared"))
BUILD = os.environ.get("MNET_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
BIN = os.environ.get("MNETD_TEST_BIN", os.path.join(BUILD, "daemon", "mobilenetd"))
MODELS = os.path.join(SHARED, "models")
SAMPLES = os.path.join(SHARED, "testdata", "samples")
V2_QUANT = os.path.join(MODELS, "mobilenet_v2_1.0_224_quant.tflite")
BIRD = os.path.join(MODELS, "mobilenet_v2_1.0_224_inat_bird_quant.tflite")
V1_SMALL = os.path.join(MODELS, "mobilenet_v1_0.25_128_quant.tflite")
LABELS = os.path.join(MODELS, "imagenet_labels.txt")
BIRD_LABELS = os.path.join(MODELS, "inat_bird_labels.txt")

# The sample photos and what an ImageNet MobileNet must see in them (top-1
# label contains one of these words; labels from imagenet_labels.txt).
# owl.jpg is a burrowing owl, a class ImageNet lacks: it is checked against
# the iNaturalist bird model instead (BIRD_EXPECTED).
EXPECTED = {
    "cat_720p.jpg": ("tabby", "tiger cat", "Egyptian cat"),
    "grace_hopper.jpg": ("military uniform",),
    "grace_hopper.png": ("military uniform",),
    "parrot.jpg": ("macaw",),
    "hot_dog.jpg": ("hotdog",),
}

BIRD_EXPECTED = {"owl.jpg": "Burrowing Owl", "parrot.jpg": "Macaw"}

failures = []


def check(cond, what):
    """Record one assertion; print it either way."""
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        failures.append(what)
    sys.stdout.flush()
    return cond


def finish():
    n = len(failures)
    if n:
        print("%d check(s) failed:" % n)
        for f in failures:
            print("  - " + f)
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


def require(path):
    if not os.path.exists(path):
        print("FAIL missing test data: %s" % path)
        sys.exit(1)
    return path


def sample(name):
    return require(os.path.join(SAMPLES, name))


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Daemon:
    """The real mobilenetd on 127.0.0.1:<free port>; stderr kept in a file."""

    def __init__(self, args=None, model=V2_QUANT, labels=LABELS, env=None, config_text=None,
                 wait_ready=True):
        require(BIN)
        if model:
            require(model)
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.tmp = tempfile.mkdtemp(prefix="mnetd-test-")
        self.log_path = os.path.join(self.tmp, "stderr.log")
        cmd = [BIN, "--listen", "127.0.0.1:%d" % self.port]
        if config_text is not None:
            self.config_path = os.path.join(self.tmp, "mobilenetd.conf")
            with open(self.config_path, "w") as f:
                f.write(config_text)
            cmd += ["--config", self.config_path]
        if model:
            cmd += ["--model", model]
        if labels:
            cmd += ["--labels", labels]
        cmd += list(args or [])
        e = dict(os.environ)
        e.pop("NOTIFY_SOCKET", None)
        e.pop("LISTEN_FDS", None)
        if env:
            e.update(env)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log, env=e)
        if wait_ready:
            self.wait_ready()

    def wait_up(self, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("mobilenetd exited %d:\n%s" % (self.proc.returncode, self.stderr()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mobilenetd did not listen:\n" + self.stderr())

    def wait_ready(self, timeout=60):
        self.wait_up(timeout)
        end = time.time() + timeout
        while time.time() < end:
            st, _, _ = curl(self.base + "/readyz")
            if st == 200:
                return
            if self.proc.poll() is not None:
                raise RuntimeError("mobilenetd exited:\n" + self.stderr())
            time.sleep(0.05)
        raise RuntimeError("mobilenetd not ready:\n" + self.stderr())

    def stderr(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def metrics(self):
        st, _, body = curl(self.base + "/metrics")
        return parse_metrics(body.decode()) if st == 200 else {}


def parse_metrics(text):
    """{'name{labels}': value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        k, _, v = line.rpartition(" ")
        try:
            out[k] = float(v)
        except ValueError:
            pass
    return out


def curl(url, args=None, timeout=60, data_file=None):
    """Run real curl; returns (status, headers dict (lower-case), body bytes).
    status 0 when curl got no HTTP answer (then headers has 'curl_exit')."""
    hdr = tempfile.NamedTemporaryFile(delete=False)
    hdr.close()
    cmd = ["curl", "-s", "-S", "--max-time", str(timeout), "-D", hdr.name, "-o", "-"]
    cmd += list(args or [])
    cmd.append(url)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with open(hdr.name, "rb") as f:
        raw = f.read().decode("latin-1")
    os.unlink(hdr.name)
    status, headers = 0, {}
    for line in raw.split("\r\n"):
        if line.startswith("HTTP/"):
            parts = line.split()
            if len(parts) > 1 and parts[1] != "100":
                status, headers = int(parts[1]), {}
        elif ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if status == 0:
        headers["curl_exit"] = str(p.returncode)
        headers["curl_err"] = p.stderr.decode("utf-8", "replace")
    return status, headers, p.stdout


def curl_json(url, args=None, timeout=60):
    st, h, body = curl(url, args, timeout)
    try:
        j = json.loads(body) if body else None
    except ValueError:
        j = None
    return st, h, j


def classify_raw(base, path, model=None, query="", ctype="image/jpeg", extra=None):
    url = base + ("/v1/models/%s:classify" % model if model else "/v1/classify") + query
    args = ["-H", "Content-Type: " + ctype, "--data-binary", "@" + path] + list(extra or [])
    return curl_json(url, args)


def classify_multipart(base, paths, model=None, query="", field="image"):
    url = base + ("/v1/models/%s:classify" % model if model else "/v1/classify") + query
    args = []
    for p in paths:
        args += ["-F", "%s=@%s" % (field, p)]
    return curl_json(url, args)


def top1_label(pred):
    return pred["top_k"][0].get("label", "")


def label_ok(name, label):
    return any(w.lower() in label.lower() for w in EXPECTED[name])


def wait_for(fn, timeout=5.0):
    """Poll fn() until it returns something true (or the timeout); returns the last value."""
    end = time.time() + timeout
    v = fn()
    while not v and time.time() < end:
        time.sleep(0.05)
        v = fn()
    return v


def run_parallel(n, fn):
    """Run fn(i) for i in range(n) on n threads; returns the results in order."""
    res = [None] * n
    def work(i):
        try:
            res[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - a test reports, never crashes
            res[i] = e
    ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return res
