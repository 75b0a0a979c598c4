/* kserve.c: the KServe / Triton v2 inference protocol subset.
 *
 * GET /v2, /v2/models/{name}, /v2/models/{name}/ready, and
 * POST /v2/models/{name}/infer with the binary tensor data extension:
 * - Inference-Header-Content-Length: L splits the body into a JSON inference
 *   header (L bytes) and binary tensor data; L = 0 (or no JSON at all and an
 *   image Content-Type) means the whole body is one encoded image.
 * - input "image": datatype BYTES, each element an encoded JPEG/PNG (binary
 *   chunk = one raw image, or Triton's 4-byte little-endian length-prefixed
 *   elements); or datatype UINT8 shape [N, H, W, 3] / [H, W, 3] of model-sized
 *   RGB pixels (binary or JSON "data").
 * - output "scores": FP32 (N, classes) probabilities, or with the
 *   classification extension ({"parameters": {"classification": K}}) BYTES
 *   (N, K) strings "score:index[:label]".  Without a JSON header, the answer
 *   is the classification output with K = top_k (query) or the model default.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "server.h"

struct kserve_state {
    char *id;             /* request "id", echoed */
    char out_name[64];
    int classification;   /* K, or 0 = full FP32 scores */
};

static void kserve_state_free(void *p)
{
    struct kserve_state *k = p;
    if (k)
        free(k->id);
    free(k);
}

enum MHD_Result route_v2(struct http_req *r)
{
    return http_respond_json(r, 200,
                             json_pack("{s:s, s:s, s:[s,s]}", "name", "mobilenetd", "version",
                                       MNETD_VERSION, "extensions", "binary_tensor_data",
                                       "classification"));
}

enum MHD_Result route_v2_model(struct http_req *r)
{
    const struct mnet_info *in = r->slot->info;
    return http_respond_json(
        r, 200,
        json_pack("{s:s, s:[s], s:s, s:[{s:s, s:s, s:[i]}, {s:s, s:s, s:[i,i,i,i]}],"
                  " s:[{s:s, s:s, s:[i,i]}]}",
                  "name", r->slot->cfg.name, "versions", "1", "platform", "tflite",
                  "inputs",
                  "name", "image", "datatype", "BYTES", "shape", -1,
                  "name", "image", "datatype", "UINT8", "shape", -1, in->height, in->width, 3,
                  "outputs", "name", "scores", "datatype", "FP32", "shape", -1, in->classes));
}

enum MHD_Result route_v2_model_ready(struct http_req *r)
{
    if (!server_is_ready())
        return http_respond_error(r, 503, "not ready");
    return http_respond_json(r, 200, json_pack("{s:s, s:b}", "name", r->slot->cfg.name,
                                               "ready", 1));
}

static json_t *infer_json(struct http_req *r) /* NULL: out of memory */
{
    const struct kserve_state *k = r->route_state;
    const struct model_slot *s = r->slot;
    int classes = s->info->classes;
    int n = r->n_images;
    json_t *data = json_array();
    json_t *out;
    if (k->classification > 0) {
        int kk = k->classification;
        int *idx = malloc((size_t)kk * sizeof(int));
        float *sc = malloc((size_t)kk * sizeof(float));
        if (!idx || !sc) {
            free(idx);
            free(sc);
            json_decref(data);
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            int m = mnet_top_k(r->images[i].scores, classes, kk, idx, sc);
            for (int j = 0; j < m; j++) {
                char buf[512];
                if (s->labels)
                    snprintf(buf, sizeof(buf), "%.6f:%d:%s", sc[j], idx[j],
                             registry_label(s, idx[j]));
                else
                    snprintf(buf, sizeof(buf), "%.6f:%d", sc[j], idx[j]);
                json_array_append_new(data, json_string(buf));
            }
        }
        free(idx);
        free(sc);
        out = json_pack("{s:s, s:s, s:[i,i], s:o}", "name", k->out_name, "datatype", "BYTES",
                        "shape", n, kk, "data", data);
    } else {
        for (int i = 0; i < n; i++)
            for (int c = 0; c < classes; c++)
                json_array_append_new(data, json_real(r->images[i].scores[c]));
        out = json_pack("{s:s, s:s, s:[i,i], s:o}", "name", k->out_name, "datatype", "FP32",
                        "shape", n, classes, "data", data);
    }
    json_t *resp = json_pack("{s:s, s:s, s:[o], s:{s:i}}", "model_name", s->cfg.name,
                             "model_version", "1", "outputs", out, "parameters", "batch_size",
                             r->batch_size);
    if (resp && k->id)
        json_object_set_new(resp, "id", json_string(k->id));
    return resp;
}

/* Split a BYTES binary chunk into images: one raw image, or length-prefixed elements. */
static int add_bytes_chunk(struct http_req *r, const uint8_t *p, size_t len, char *err,
                           size_t errlen)
{
    if (mnet_image_format(p, len) || len < 4)
        return infer_add_image(r, p, len, err, errlen);
    size_t off = 0;
    int n = 0;
    while (off < len) {
        if (len - off < 4) {
            snprintf(err, errlen, "BYTES element %d: truncated length prefix", n);
            return -EINVAL;
        }
        uint32_t el = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 |
                      (uint32_t)p[off + 2] << 16 | (uint32_t)p[off + 3] << 24;
        off += 4;
        if (el > len - off) {
            snprintf(err, errlen, "BYTES element %d: length %u past the data", n, el);
            return -EINVAL;
        }
        char e[256];
        int rc = infer_add_image(r, p + off, el, e, sizeof(e));
        if (rc < 0) {
            snprintf(err, errlen, "BYTES element %d: %s", n, e);
            return rc;
        }
        off += el;
        n++;
    }
    return n > 0 ? 0 : -ENODATA;
}

static int add_uint8_input(struct http_req *r, json_t *in, const uint8_t *bin, size_t binlen,
                           char *err, size_t errlen)
{
    const struct mnet_info *info = r->slot->info;
    size_t img = (size_t)info->height * (size_t)info->width * 3;
    json_t *shape = json_object_get(in, "shape");
    size_t dims[4], nd = json_array_size(shape);
    if (nd < 3 || nd > 4) {
        snprintf(err, errlen, "UINT8 input must have shape [N, %d, %d, 3] or [%d, %d, 3]",
                 info->height, info->width, info->height, info->width);
        return -EINVAL;
    }
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(shape, i);
        if (!json_is_integer(d) || json_integer_value(d) < 1 ||
            json_integer_value(d) > 100000) {
            snprintf(err, errlen, "bad shape");
            return -EINVAL;
        }
        dims[i] = (size_t)json_integer_value(d);
    }
    size_t n = nd == 4 ? dims[0] : 1;
    const size_t *hw = nd == 4 ? dims + 1 : dims;
    if (hw[0] != (size_t)info->height || hw[1] != (size_t)info->width || hw[2] != 3) {
        snprintf(err, errlen, "UINT8 input must be %dx%dx3 (the model's input size)",
                 info->height, info->width);
        return -EINVAL;
    }
    if (bin) {
        if (binlen != n * img) {
            snprintf(err, errlen, "binary_data_size %zu does not match the shape (%zu bytes)",
                     binlen, n * img);
            return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
            int rc = infer_add_pixels(r, bin + i * img);
            if (rc < 0) {
                snprintf(err, errlen, "%s", rc == -EMSGSIZE ? "too many images" : "out of memory");
                return rc;
            }
        }
        return 0;
    }
    json_t *data = json_object_get(in, "data");
    if (json_array_size(data) != n * img) {
        snprintf(err, errlen, "UINT8 input needs %zu values in \"data\"", n * img);
        return -EINVAL;
    }
    uint8_t *px = malloc(img);
    if (!px)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < img; j++) {
            json_t *v = json_array_get(data, i * img + j);
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 255) {
                free(px);
                snprintf(err, errlen, "UINT8 data must be integers 0..255");
                return -EINVAL;
            }
            px[j] = (uint8_t)json_integer_value(v);
        }
        int rc = infer_add_pixels(r, px);
        if (rc < 0) {
            free(px);
            snprintf(err, errlen, "%s", rc == -EMSGSIZE ? "too many images" : "out of memory");
            return rc;
        }
    }
    free(px);
    return 0;
}

/* Parse the JSON header and the binary section; add the images.  Returns 0
 * or a negative errno with err set. */
/* The JSON part is parsed into a tree (~40 bytes per number), so it gets its
 * own cap below max_body_bytes: 4 MiB holds six 224x224 UINT8 images as JSON
 * numbers; encoded images travel as binary data, outside this cap. */
#define KSERVE_JSON_MAX (4u << 20)

static int parse_infer(struct http_req *r, struct kserve_state *k, size_t hlen, char *err,
                       size_t errlen)
{
    if (hlen > KSERVE_JSON_MAX) {
        snprintf(err, errlen, "inference header of %zu bytes is over %u: send tensors as "
                              "binary data", hlen, KSERVE_JSON_MAX);
        return -E2BIG;
    }
    json_error_t je;
    json_t *root = json_loadb((const char *)r->body.data, hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        snprintf(err, errlen, "inference header is not a JSON object: %s",
                 root ? "wrong type" : je.text);
        json_decref(root);
        return -EINVAL;
    }
    int rc = -EINVAL;
    json_t *id = json_object_get(root, "id");
    if (json_is_string(id))
        k->id = strdup(json_string_value(id));
    json_t *outputs = json_object_get(root, "outputs");
    if (outputs) {
        if (!json_is_array(outputs) || json_array_size(outputs) > 1) {
            snprintf(err, errlen, "\"outputs\" must be an array with at most one entry (\"scores\")");
            goto out;
        }
        json_t *o = json_array_get(outputs, 0);
        if (o) {
            const char *name = json_string_value(json_object_get(o, "name"));
            if (!name || strcmp(name, "scores") != 0) {
                snprintf(err, errlen, "unknown output (the model has one: \"scores\")");
                goto out;
            }
            json_t *cl = json_object_get(json_object_get(o, "parameters"), "classification");
            if (cl) {
                if (!json_is_integer(cl) || json_integer_value(cl) < 1 ||
                    json_integer_value(cl) > r->slot->info->classes) {
                    snprintf(err, errlen, "classification must be an integer in 1..%d",
                             r->slot->info->classes);
                    goto out;
                }
                k->classification = (int)json_integer_value(cl);
            }
        }
    }
    json_t *inputs = json_object_get(root, "inputs");
    if (!json_is_array(inputs) || json_array_size(inputs) < 1) {
        snprintf(err, errlen, "\"inputs\" must be a non-empty array");
        goto out;
    }
    size_t off = hlen; /* binary data follows the header, in input order */
    for (size_t i = 0; i < json_array_size(inputs); i++) {
        json_t *in = json_array_get(inputs, i);
        const char *dt = json_string_value(json_object_get(in, "datatype"));
        json_t *bds = json_object_get(json_object_get(in, "parameters"), "binary_data_size");
        const uint8_t *bin = NULL;
        size_t binlen = 0;
        if (bds) {
            if (!json_is_integer(bds) || json_integer_value(bds) < 0 ||
                (uint64_t)json_integer_value(bds) > r->body.len - off) {
                snprintf(err, errlen, "input %zu: binary_data_size past the end of the body", i);
                goto out;
            }
            bin = r->body.data + off;
            binlen = (size_t)json_integer_value(bds);
            off += binlen;
        }
        if (dt && strcmp(dt, "BYTES") == 0) {
            if (!bin) {
                snprintf(err, errlen, "input %zu: BYTES images need the binary data extension "
                                      "(parameters.binary_data_size)", i);
                goto out;
            }
            rc = add_bytes_chunk(r, bin, binlen, err, errlen);
        } else if (dt && strcmp(dt, "UINT8") == 0) {
            rc = add_uint8_input(r, in, bin, binlen, err, errlen);
        } else {
            snprintf(err, errlen, "input %zu: datatype must be BYTES (encoded images) or UINT8", i);
            rc = -EINVAL;
        }
        if (rc < 0)
            goto out;
    }
    if (off != r->body.len) {
        snprintf(err, errlen, "%zu bytes of binary data not claimed by any input",
                 r->body.len - off);
        rc = -EINVAL;
        goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

enum MHD_Result route_v2_infer(struct http_req *r)
{
    if (r->submitted)
        return infer_respond_done(r, infer_json);
    struct kserve_state *k = calloc(1, sizeof(*k));
    if (!k)
        return infer_respond_failure(r, -ENOMEM);
    r->route_state = k;
    r->route_state_free = kserve_state_free;
    snprintf(k->out_name, sizeof(k->out_name), "scores");

    char err[300] = "";
    if (infer_parse_query(r, true, err, sizeof(err)) < 0)
        return infer_reject_input(r, -EINVAL, err);
    if (r->body.len == 0)
        return infer_reject_input(r, -ENODATA, "empty body");
    const char *hl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 "Inference-Header-Content-Length");
    long hlen;
    if (hl) {
        if (http_parse_int(hl, 0, (long)r->body.len, &hlen) < 0) {
            snprintf(err, sizeof(err), "Inference-Header-Content-Length must be 0..%zu",
                     r->body.len);
            return infer_reject_input(r, -EINVAL, err);
        }
    } else {
        hlen = r->kind == HTTP_BODY_JSON ? (long)r->body.len : 0;
    }
    int rc;
    if (hlen == 0) {
        /* the whole body is one encoded image: answer with the classification output */
        k->classification = r->top_k;
        rc = infer_add_image(r, r->body.data, r->body.len, err, sizeof(err));
    } else {
        rc = parse_infer(r, k, (size_t)hlen, err, sizeof(err));
    }
    if (rc < 0)
        return infer_reject_input(r, rc, err);
    http_body_free(&r->body);
    rc = infer_submit(r);
    if (rc < 0)
        return infer_respond_failure(r, rc);
    return MHD_YES;
}
