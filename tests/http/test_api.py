#!/usr/bin/python3
"""Endpoints and errors of the real daemon through real curl:
samples classified correctly by raw upload, multipart (three in order) and
KServe v2 infer; model metadata; every error code with its JSON body."""
import json
import os
import struct
import tempfile

from common import *  # noqa: F403

d = Daemon(args=["--max-body-bytes", "2M", "--max-pixels", "40000000"])
base = d.base
try:
    st, _, models = curl_json(base + "/v1/models")
    check(st == 200 and len(models["models"]) == 1, "GET /v1/models lists the model")
    name = models["default"]
    m = models["models"][0]
    check(m["classes"] == 1001 and m["input"]["height"] == 224 and m["input"]["width"] == 224,
          "model metadata: 1001 classes, 224x224 input")
    check(m["sha256"] == "7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776",
          "model metadata: sha256 of the weights file (SOURCES.md)")
    check(m["batching"]["max_batch_size"] >= 1 and m["batching"]["max_queue_images"] >= 1,
          "model metadata: batching settings")
    st, _, one = curl_json(base + "/v1/models/" + name)
    check(st == 200 and one["name"] == name and one["arch"] == m["arch"], "GET /v1/models/{name}")

    # --- raw uploads, both endpoints, every sample
    for fname in sorted(EXPECTED):
        ctype = "image/png" if fname.endswith(".png") else "image/jpeg"
        st, h, j = classify_raw(base, sample(fname), model=name, ctype=ctype)
        ok = st == 200 and j and len(j["predictions"]) == 1
        check(ok and label_ok(fname, top1_label(j["predictions"][0])),
              "raw %s -> %s" % (fname, ok and top1_label(j["predictions"][0])))
        if ok:
            tk = j["predictions"][0]["top_k"]
            check(len(tk) == 5 and all(tk[i]["score"] >= tk[i + 1]["score"] for i in range(4))
                  and 0 < tk[0]["score"] <= 1 and j["model"] == name and j["batch_size"] >= 1
                  and set(j["timing_ms"]) == {"decode", "queue", "inference"},
                  "raw %s: 5 sorted predictions, timing, batch_size" % fname)
    # curl's default Content-Type for --data-binary is x-www-form-urlencoded: still works
    st, _, j = curl_json(base + "/v1/classify", ["--data-binary", "@" + sample("parrot.jpg")])
    check(st == 200 and label_ok("parrot.jpg", top1_label(j["predictions"][0])),
          "curl --data-binary @parrot.jpg /v1/classify (default model)")
    st, _, j = classify_raw(base, sample("owl.jpg"), query="?top_k=1",
                            ctype="application/octet-stream")
    check(st == 200 and len(j["predictions"][0]["top_k"]) == 1, "top_k=1 gives one prediction")
    st, _, j = classify_raw(base, sample("owl.jpg"), query="?top_k=1001")
    check(st == 200 and len(j["predictions"][0]["top_k"]) == 1001, "top_k=1001 (all classes)")

    # --- multipart: three images, answered in order
    order = ["parrot.jpg", "cat_720p.jpg", "hot_dog.jpg"]
    st, _, j = classify_multipart(base, [sample(f) for f in order], model=name)
    ok = st == 200 and len(j["predictions"]) == 3
    check(ok, "multipart with three images -> three predictions")
    if ok:
        got = [top1_label(p) for p in j["predictions"]]
        check(all(label_ok(f, g) for f, g in zip(order, got)), "multipart answers in order: %s" % got)
    st, _, j = curl_json(base + "/v1/classify", ["-F", "image=@" + sample("grace_hopper.png"),
                                                 "-F", "top_k=2"])
    check(st == 200 and len(j["predictions"][0]["top_k"]) == 2
          and label_ok("grace_hopper.png", top1_label(j["predictions"][0])),
          "multipart PNG with a top_k form field")

    # --- KServe v2
    st, _, j = curl_json(base + "/v2")
    check(st == 200 and "classification" in j["extensions"], "GET /v2 server metadata")
    st, _, j = curl_json(base + "/v2/health/live")
    check(st == 200, "GET /v2/health/live")
    st, _, j = curl_json(base + "/v2/health/ready")
    check(st == 200 and j["ready"] is True, "GET /v2/health/ready")
    st, _, j = curl_json(base + "/v2/models/" + name)
    check(st == 200 and j["outputs"][0]["shape"] == [-1, 1001], "GET /v2/models/{name}")
    st, _, j = curl_json(base + "/v2/models/" + name + "/ready")
    check(st == 200, "GET /v2/models/{name}/ready")
    st, _, j = curl_json(base + "/v2/models/" + name + "/infer",
                         ["-H", "Inference-Header-Content-Length: 0",
                          "-H", "Content-Type: application/octet-stream",
                          "--data-binary", "@" + sample("hot_dog.jpg")])
    ok = st == 200 and j["outputs"][0]["datatype"] == "BYTES"
    check(ok and "hotdog" in j["outputs"][0]["data"][0],
          "v2 infer, raw image body (Inference-Header-Content-Length: 0): %s"
          % (ok and j["outputs"][0]["data"][0]))
    # JSON header + two BYTES images (Triton's length-prefixed elements) + classification K=3
    imgs = [open(sample("hot_dog.jpg"), "rb").read(), open(sample("parrot.jpg"), "rb").read()]
    blob = b"".join(struct.pack("<I", len(x)) + x for x in imgs)
    hdr = json.dumps({"id": "req-7", "inputs": [{"name": "image", "datatype": "BYTES", "shape": [2],
                      "parameters": {"binary_data_size": len(blob)}}],
                      "outputs": [{"name": "scores", "parameters": {"classification": 3}}]}).encode()
    body = tempfile.NamedTemporaryFile(delete=False)
    body.write(hdr + blob)
    body.close()
    st, _, j = curl_json(base + "/v2/models/" + name + "/infer",
                         ["-H", "Inference-Header-Content-Length: %d" % len(hdr),
                          "-H", "Content-Type: application/octet-stream",
                          "--data-binary", "@" + body.name])
    ok = st == 200 and j["outputs"][0]["shape"] == [2, 3] and j.get("id") == "req-7"
    check(ok and "hotdog" in j["outputs"][0]["data"][0] and "macaw" in j["outputs"][0]["data"][3],
          "v2 infer, JSON header + 2 binary BYTES elements, classification=3: %s"
          % (ok and j["outputs"][0]["data"]))
    # JSON header + one raw image chunk, no classification: full FP32 probabilities
    img = open(sample("parrot.jpg"), "rb").read()
    hdr = json.dumps({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
                      "parameters": {"binary_data_size": len(img)}}]}).encode()
    with open(body.name, "wb") as f:
        f.write(hdr + img)
    st, _, j = curl_json(base + "/v2/models/" + name + "/infer",
                         ["-H", "Inference-Header-Content-Length: %d" % len(hdr),
                          "-H", "Content-Type: application/octet-stream",
                          "--data-binary", "@" + body.name])
    ok = st == 200 and j["outputs"][0]["datatype"] == "FP32" and j["outputs"][0]["shape"] == [1, 1001]
    check(ok and abs(sum(j["outputs"][0]["data"]) - 1.0) < 0.01,
          "v2 infer without classification: FP32 (1, 1001) probabilities summing to 1")
    os.unlink(body.name)

    # --- errors: status, JSON {"error", "code"}
    def err(st, j, code, what, contains=None):
        ok = st == code and isinstance(j, dict) and j.get("code") == code and "error" in j
        if ok and contains:
            ok = contains in j["error"]
        check(ok, "%s -> %d %s" % (what, code, j and j.get("error")))

    st, _, j = curl_json(base + "/v1/classify", ["-X", "POST", "-H", "Content-Type: image/jpeg"])
    err(st, j, 400, "empty body")
    data = open(sample("parrot.jpg"), "rb").read()
    tmp = tempfile.NamedTemporaryFile(delete=False)
    tmp.write(data[: len(data) // 3])
    tmp.close()
    st, _, j = classify_raw(base, tmp.name)
    err(st, j, 400, "truncated JPEG")
    # a 300-byte JPEG declaring 65500x65500: refused from the header (413 names max_pixels)
    from PIL import Image  # Debian's python3-pil
    import io
    b = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(b, "JPEG")
    jpg = bytearray(b.getvalue())
    i = 2
    while i < len(jpg):
        marker, ln = jpg[i + 1], struct.unpack(">H", jpg[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC2):
            jpg[i + 5:i + 9] = struct.pack(">HH", 65500, 65500)
            break
        i += 2 + ln
    with open(tmp.name, "wb") as f:
        f.write(bytes(jpg))
    st, _, j = classify_raw(base, tmp.name)
    err(st, j, 413, "JPEG header declaring 65500x65500", "max_pixels")
    with open(tmp.name, "wb") as f:
        f.write(b"GIF89a" + b"\0" * 100)
    st, _, j = classify_raw(base, tmp.name, ctype="application/octet-stream")
    err(st, j, 415, "GIF body")
    with open(tmp.name, "wb") as f:
        f.write(b"hello, this is not an image at all")
    st, _, j = classify_raw(base, tmp.name)
    err(st, j, 400, "garbage bytes")
    st, _, j = classify_raw(base, sample("parrot.jpg"), ctype="text/plain")
    err(st, j, 415, "Content-Type text/plain")
    st, _, j = classify_raw(base, sample("parrot.jpg"), ctype="application/json")
    err(st, j, 415, "Content-Type application/json on classify")
    st, _, j = curl_json(base + "/v1/classify", ["-X", "POST", "-H", "Content-Length: 99999999999",
                                                 "-H", "Content-Type: image/jpeg"])
    err(st, j, 413, "huge Content-Length (refused before reading)", "max_body_bytes")
    big = tempfile.NamedTemporaryFile(delete=False)
    big.write(os.urandom(3 * 1024 * 1024))  # over the 2M cap, under twice the cap
    big.close()
    st, h, j = curl_json(base + "/v1/classify", ["-H", "Transfer-Encoding: chunked",
                                                 "-H", "Content-Type: image/jpeg",
                                                 "--data-binary", "@" + big.name])
    err(st, j, 413, "chunked body over max_body_bytes", "max_body_bytes")
    os.unlink(big.name)
    st, _, j = classify_raw(base, sample("parrot.jpg"), model="nosuchmodel")
    err(st, j, 404, "unknown model")
    st, _, j = curl_json(base + "/v1/nothing/here")
    err(st, j, 404, "unknown path")
    st, h, j = curl_json(base + "/v1/classify")
    err(st, j, 405, "GET on classify")
    check(h.get("allow") == "POST", "405 carries Allow: POST")
    st, h, j = curl_json(base + "/v1/models", ["-X", "DELETE"])
    err(st, j, 405, "DELETE /v1/models")
    check(h.get("allow") == "GET, HEAD", "405 carries Allow: GET, HEAD")
    for q in ("?top_k=0", "?top_k=1002", "?top_k=abc", "?timeout_ms=-5", "?timeout_ms=x"):
        st, _, j = classify_raw(base, sample("parrot.jpg"), query=q)
        err(st, j, 400, "bad parameter " + q)
    # a form-field value longer than the parser's buffer must not be judged by
    # its first 31 characters ("0...01" would pass as top_k=1)
    st, _, j = curl_json(base + "/v1/classify", ["-F", "image=@" + sample("parrot.jpg"),
                                                 "-F", "top_k=" + "0" * 30 + "1x"])
    err(st, j, 400, "multipart top_k field with junk after 31 characters")
    st, _, j = curl_json(base + "/v1/classify", ["-H", "Content-Type: multipart/form-data; boundary=xyz",
                                                 "--data-binary", "garbage"])
    err(st, j, 400, "malformed multipart body")
    st, _, j = curl_json(base + "/v2/models/" + name + "/infer",
                         ["-H", "Inference-Header-Content-Length: 5", "--data-binary", "{bad}xx"])
    err(st, j, 400, "v2 infer with a bad JSON header")
    os.unlink(tmp.name)

    # --- X-Request-Id echoed, generated when absent; access log line
    st, h, _ = curl(base + "/healthz", ["-H", "X-Request-Id: abc-123"])
    check(st == 200 and h.get("x-request-id") == "abc-123", "X-Request-Id echoed")
    st, h, _ = curl(base + "/healthz")
    check(st == 200 and len(h.get("x-request-id", "")) >= 8, "X-Request-Id generated")
    st, h, _ = classify_raw(base, sample("owl.jpg"), extra=["-H", "X-Request-Id: log-me-42"])
    # the line is written when MHD reports the request complete, just after curl has its answer
    line = wait_for(lambda: [l for l in d.stderr().splitlines() if "id=log-me-42" in l])
    check(len(line) == 1 and "status=200" in line[0] and "images=1" in line[0]
          and "method=POST" in line[0] and "batch=" in line[0] and "ms=" in line[0],
          "access log line: %s" % (line and line[0]))
    st, _, j = curl_json(base + "/x%0Aaccess%20id=forged")
    err(st, j, 404, "path with an encoded newline")
    check(wait_for(lambda: "path=/x?access?id=forged" in d.stderr()) and
          not any(l.startswith("access id=forged") for l in d.stderr().splitlines()),
          "control bytes in the path cannot forge access-log lines")
    st, h, body = curl(base + "/metrics")
    check(st == 200 and h.get("content-type", "").startswith("text/plain; version=0.0.4")
          and b"mobilenetd_requests_total" in body, "GET /metrics (Prometheus text 0.0.4)")
    st, _, _ = curl(base + "/healthz", ["-I"])
    check(st == 200, "HEAD /healthz")

    # docs/openapi.yaml and the server agree: every documented path and method is routed
    # (read with a line scan: paths sit at indent 2, their methods at indent 4)
    spec_path = os.path.join(os.environ.get("MNET_SOURCE", os.path.join(os.path.dirname(__file__), "../..")),
                             "docs", "openapi.yaml")
    paths, cur, in_paths = {}, None, False
    with open(require(spec_path)) as f:
        for line in f:
            if line.startswith("paths:"):
                in_paths = True
            elif line[:1].strip():
                in_paths = False
            elif in_paths and line.startswith("  /") and line.rstrip().endswith(":"):
                cur = line.strip()[:-1]
                paths[cur] = []
            elif in_paths and cur and line.startswith("    ") and line.strip().rstrip(":") in ("get", "post"):
                paths[cur].append(line.strip().rstrip(":"))
    check(len(paths) == 13, "openapi.yaml documents 13 paths (%d)" % len(paths))
    for path, ops in sorted(paths.items()):
        for method in ops:
            url = base + path.replace("{name}", name)
            args = ["-X", method.upper()]
            if method == "post":
                args += ["-H", "Content-Type: image/jpeg", "--data-binary", "@" + sample("hot_dog.jpg")]
            st, _, _ = curl(url, args)
            check(st == 200, "openapi %s %s -> %d" % (method.upper(), path, st))
finally:
    rc = d.stop()
check(rc == 0, "SIGTERM exits 0 (got %s)" % rc)

# ---- two models from one config file: ImageNet (default) and the iNaturalist birds
conf = """[server]
default_model = imagenet
[model imagenet]
path = %s
labels = %s
[model birds]
path = %s
labels = %s
""" % (V2_QUANT, LABELS, require(BIRD), require(BIRD_LABELS))
d = Daemon(model=None, labels=None, config_text=conf)
try:
    st, _, j = curl_json(d.base + "/v1/models")
    check(st == 200 and j["default"] == "imagenet" and
          sorted(m["name"] for m in j["models"]) == ["birds", "imagenet"], "two models listed")
    st, _, j = curl_json(d.base + "/v1/models/birds")
    check(st == 200 and j["classes"] == 965, "birds: 965 classes")
    for fname, want in sorted(BIRD_EXPECTED.items()):
        st, _, j = classify_raw(d.base, sample(fname), model="birds")
        check(st == 200 and want in top1_label(j["predictions"][0]),
              "birds: %s -> %s" % (fname, st == 200 and top1_label(j["predictions"][0])))
    st, _, j = classify_raw(d.base, sample("hot_dog.jpg"))
    check(st == 200 and j["model"] == "imagenet" and label_ok("hot_dog.jpg", top1_label(j["predictions"][0])),
          "/v1/classify uses the default model")
    st, _, j = curl_json(d.base + "/v2/models/birds/infer",
                         ["-H", "Inference-Header-Content-Length: 0", "-H", "Content-Type: image/jpeg",
                          "--data-binary", "@" + sample("owl.jpg")])
    check(st == 200 and "Burrowing Owl" in j["outputs"][0]["data"][0], "v2 infer on the bird model")
finally:
    check(d.stop() == 0, "exit 0")
finish()
