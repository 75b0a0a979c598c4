#!/usr/bin/python3
"""Overload and deadlines: a tiny queue under a burst answers only 200 and
429 (or 503 when so configured), always with Retry-After, never 500; the
daemon is healthy and correct afterwards.  A request whose deadline passes
while queued gets 504 and is never computed."""
import tempfile

from common import *  # noqa: F403

BURST = 48


def burst(d, status_full):
    def one(i):
        return classify_raw(d.base, sample("hot_dog.jpg"), query="?top_k=1")
    res = run_parallel(BURST, one)
    codes = sorted(r[0] for r in res if not isinstance(r, Exception))
    check(len(codes) == BURST, "%d answers to the burst" % len(codes))
    check(set(codes) <= {200, status_full}, "only 200 and %d (got %s)" % (status_full, sorted(set(codes))))
    n_ok, n_full = codes.count(200), codes.count(status_full)
    check(n_ok >= 1 and n_full >= 1, "burst: %d x 200, %d x %d" % (n_ok, n_full, status_full))
    full = [r for r in res if not isinstance(r, Exception) and r[0] == status_full]
    check(all(r[1].get("retry-after", "").isdigit() for r in full), "every %d has Retry-After" % status_full)
    check(all(r[2] and r[2]["code"] == status_full and "max_queue_images" in r[2]["error"] for r in full),
          "every %d body names max_queue_images" % status_full)
    ok = [r for r in res if not isinstance(r, Exception) and r[0] == 200]
    check(all(label_ok("hot_dog.jpg", top1_label(r[2]["predictions"][0])) for r in ok),
          "every 200 in the burst is a correct answer")
    # healthy afterwards
    st, _, _ = curl(d.base + "/readyz")
    check(st == 200, "ready after the burst")
    st, _, j = classify_raw(d.base, sample("hot_dog.jpg"))
    check(st == 200 and label_ok("hot_dog.jpg", top1_label(j["predictions"][0])),
          "correct answer after the burst")
    m = d.metrics()
    check(m.get('mobilenetd_rejected_total{reason="queue_full"}', 0) == n_full,
          "rejected_total{reason=queue_full} = %d" % n_full)
    check(not any(k.startswith("mobilenetd_requests_total") and 'code="500"' in k for k in m),
          "no 500 in requests_total")


for status in (429, 503):
    d = Daemon(args=["--max-queue-images", "2", "--max-batch-size", "1",
                     "--max-batch-delay-us", "0", "--queue-full-status", str(status),
                     "--http-threads", "4"])
    try:
        burst(d, status)
    finally:
        check(d.stop() == 0, "exit 0")

# Deadline: the engine waits up to 1 s to fill a batch of 8, the request
# allows 100 ms: it must come back 504 and never reach the engine.
d = Daemon(args=["--max-batch-size", "8", "--max-batch-delay-us", "1000000"])
try:
    m0 = d.metrics()
    st, h, j = classify_raw(d.base, sample("hot_dog.jpg"), query="?timeout_ms=100")
    check(st == 504 and j and j["code"] == 504, "deadline passed while queued -> 504 (%s)" % st)
    m = d.metrics()
    img = [k for k in m if k.startswith("mobilenetd_images_total")]
    before = sum(m0.get(k, 0) for k in img)
    after = sum(m.get(k, 0) for k in img)
    check(after == before, "the expired image was never computed (images_total %d -> %d)" % (before, after))
    check(m.get('mobilenetd_rejected_total{reason="deadline"}', 0) == 1, "rejected_total{reason=deadline} = 1")
    st, _, j = classify_raw(d.base, sample("hot_dog.jpg"))
    check(st == 200, "a request within its deadline still works (waits for the batch delay)")
finally:
    check(d.stop() == 0, "exit 0")
finish()
