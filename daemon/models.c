/* models.c: GET /v1/models, GET /v1/models/{name}. */
#include <string.h>

#include "server.h"

json_t *model_json(const struct registry *reg, const struct model_slot *s)
{
    const struct mnet_info *in = s->info;
    const char *file = strrchr(s->cfg.path, '/');
    file = file ? file + 1 : s->cfg.path;
    json_t *o = json_pack(
        "{s:s, s:b, s:s, s:s, s:{s:i, s:i, s:i, s:s}, s:s, s:s, s:i, s:b, s:b, s:s,"
        " s:I, s:I, s:i, s:{s:i, s:i, s:i, s:i}, s:f, s:i, s:f}",
        "name", s->cfg.name,
        "default", reg && reg->slots[reg->default_index] == s,
        "file", file,
        "arch", in->arch,
        "input", "height", in->height, "width", in->width, "channels", in->channels,
                 "dtype", mnet_dtype_name(in->input_type),
        "numerics", mnet_dtype_name(in->numerics),
        "precision", config_precision_name(s->cfg.precision),
        "classes", in->classes,
        "labels", s->labels != NULL,
        "softmax_in_graph", in->output_is_softmax != 0,
        "sha256", in->sha256,
        "weights_bytes", (json_int_t)in->weights_bytes,
        "arena_bytes", (json_int_t)in->arena_bytes,
        "threads", in->threads,
        "batching", "max_batch_size", s->cfg.max_batch_size,
                    "max_batch_delay_us", s->cfg.max_batch_delay_us,
                    "max_queue_images", s->cfg.max_queue_images,
                    "queue_depth", batcher_depth(s->batcher),
        "central_fraction", s->cfg.central_fraction,
        "top_k_default", s->cfg.top_k_default,
        "load_seconds", s->load_seconds);
    return o;
}

enum MHD_Result route_models(struct http_req *r)
{
    if (!r->reg)
        return http_respond_error(r, 503, "not ready: models are loading");
    json_t *arr = json_array();
    for (int i = 0; i < r->reg->n; i++)
        json_array_append_new(arr, model_json(r->reg, r->reg->slots[i]));
    return http_respond_json(r, 200,
                             json_pack("{s:s, s:o}", "default",
                                       r->reg->slots[r->reg->default_index]->cfg.name,
                                       "models", arr));
}

enum MHD_Result route_model(struct http_req *r)
{
    return http_respond_json(r, 200, model_json(r->reg, r->slot));
}
