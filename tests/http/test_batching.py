#!/usr/bin/python3
"""32 concurrent curl clients: the engine runs batches larger than 1 (the
batch_size histogram says so), and every answer is identical to the answer
the same image gets alone."""
from common import *  # noqa: F403

N_CLIENTS = 32
PER_CLIENT = 2
names = sorted(EXPECTED) + ["owl.jpg", "pets.jpg"]
d = Daemon(args=["--max-batch-size", "8", "--max-batch-delay-us", "5000",
                 "--max-queue-images", "256", "--request-timeout-ms", "300000"])
try:
    # one at a time first: the reference answers
    ref = {}
    for n in names:
        st, _, j = classify_raw(d.base, sample(n), query="?top_k=5")
        check(st == 200 and j["batch_size"] == 1, "alone: %s answered with batch_size 1" % n)
        ref[n] = j["predictions"][0]
    m0 = d.metrics()

    def client(i):
        out = []
        for k in range(PER_CLIENT):
            n = names[(i + k) % len(names)]
            st, _, j = classify_raw(d.base, sample(n), query="?top_k=5")
            out.append((n, st, j))
        return out

    results = run_parallel(N_CLIENTS, client)
    bad = [r for r in results if isinstance(r, Exception)]
    check(not bad, "no client raised (%s)" % bad[:1])
    answers = [a for r in results if isinstance(r, list) for a in r]
    check(len(answers) == N_CLIENTS * PER_CLIENT, "%d answers" % len(answers))
    check(all(st == 200 for _, st, _ in answers),
          "all 200 (got %s)" % sorted({st for _, st, _ in answers}))
    same = [st == 200 and j["predictions"][0] == ref[n] for n, st, j in answers]
    check(all(same), "every concurrent answer identical to the one-at-a-time answer (%d/%d)"
          % (sum(same), len(same)))
    sizes = [j["batch_size"] for _, st, j in answers if st == 200]
    check(sizes and max(sizes) > 1, "some answers report batch_size > 1 (max %s)" % max(sizes or [0]))

    m = d.metrics()
    key = [k for k in m if k.startswith("mobilenetd_batch_size_count{")]
    check(len(key) == 1, "batch_size histogram present")
    if key:
        lab = key[0][len("mobilenetd_batch_size_count"):]
        count = m[key[0]] - m0.get(key[0], 0)
        le1 = "mobilenetd_batch_size_bucket" + lab[:-1] + ',le="1"}'
        ones = m.get(le1, 0) - m0.get(le1, 0)
        total_images = m["mobilenetd_batch_size_sum" + lab] - m0.get("mobilenetd_batch_size_sum" + lab, 0)
        check(total_images == N_CLIENTS * PER_CLIENT,
              "batch_size histogram sums to the %d images (%d)" % (N_CLIENTS * PER_CLIENT, total_images))
        check(count > ones, "histogram: %d of %d batches larger than 1" % (count - ones, count))
        print("batches: %d for %d images (mean %.2f)" % (count, total_images, total_images / max(count, 1)))
finally:
    rc = d.stop()
check(rc == 0, "exit 0 after SIGTERM")
finish()
