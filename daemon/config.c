/* config.c: stub (implementation in progress). */
#include "config.h"
#include <errno.h>
#include <string.h>
#include <stdlib.h>

int config_parse_args(int argc, char **argv, struct config *out, char *err, size_t errlen)
{
    (void)argc; (void)argv; (void)out;
    if (err && errlen) snprintf(err, errlen, "config: not implemented yet");
    return -ENOSYS;
}
int config_reload(const struct config *cur, struct config *out, char *err, size_t errlen)
{
    return config_parse_args(cur->argc, cur->argv, out, err, errlen);
}
void config_free(struct config *c)
{
    if (!c) return;
    free(c->models);
    memset(c, 0, sizeof *c);
}
