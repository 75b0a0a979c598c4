/* health.c: /healthz, /readyz, /v2/health/{live,ready}, /metrics. */
#include <stdlib.h>

#include "server.h"

enum MHD_Result route_health(struct http_req *r)
{
    bool v2 = r->route == ROUTE_V2_LIVE || r->route == ROUTE_V2_READY;
    if (r->route == ROUTE_HEALTHZ || r->route == ROUTE_V2_LIVE)
        return http_respond_json(r, 200, v2 ? json_pack("{s:b}", "live", 1)
                                            : json_pack("{s:s}", "status", "ok"));
    bool ready = server_is_ready();
    if (ready)
        return http_respond_json(r, 200, v2 ? json_pack("{s:b}", "ready", 1)
                                            : json_pack("{s:s}", "status", "ready"));
    const char *why = server_draining() ? "draining" : "loading";
    if (v2)
        return http_respond_json(r, 503, json_pack("{s:b, s:s}", "ready", 0, "reason", why));
    return http_respond_error(r, 503, "not ready: %s", why);
}

enum MHD_Result route_metrics(struct http_req *r)
{
    struct metrics_daemon *md = server_metrics();
    if (!md)
        return http_respond_error(r, 404, "metrics are disabled");
    /* queue depths and inflight requests are gauges of "now": refresh them at scrape time */
    server_refresh_gauges();
    if (r->reg)
        for (int i = 0; i < r->reg->n; i++)
            metrics_set(r->reg->slots[i]->m_depth, batcher_depth(r->reg->slots[i]->batcher));
    char *text = NULL;
    size_t len = 0;
    if (metrics_render(md->reg, &text, &len) < 0)
        return http_respond_error(r, 503, "cannot render metrics");
    enum MHD_Result rc = http_respond_raw(r, 200, METRICS_CONTENT_TYPE, text, len, NULL, NULL);
    free(text);
    return rc;
}
