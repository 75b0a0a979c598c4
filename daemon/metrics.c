/* metrics.c: stub (implementation in progress). */
#include "metrics.h"
#include <errno.h>
int metrics_registry_new(metrics_registry **out) { (void)out; return -ENOSYS; }
void metrics_registry_free(metrics_registry *r) { (void)r; }
