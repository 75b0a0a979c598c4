/* modelpath.h: find model and label files, read label files (CLIs, daemon).
 *
 * Not part of the engine library's public API (mnet.h): this is policy for
 * front ends.  A bare file name (no '/') is looked up, in order, in:
 *   1. the explicit directory (--model-dir, a config key), if given
 *   2. each entry of $MNET_MODEL_PATH (colon-separated)
 *   3. ./models
 *   4. ../shared/models
 *   5. <shared_dir>/models as configured at build time (meson shared_dir)
 * A name with a '/' is used as given.  Thread-safety: reentrant (getenv
 * only).  Errors: negative errno, nothing logged.
 */
#ifndef MNET_MODELPATH_H
#define MNET_MODELPATH_H

#include <stddef.h>
#include <stdint.h>

/* Resolve name to an existing readable path in out.  -ENOENT when nowhere,
 * -ENAMETOOLONG when a candidate does not fit outlen. */
int mnet_path_find(const char *name, const char *dir, char *out, size_t outlen);

/* Default labels for a model file when none are given: imagenet_labels.txt
 * for 1001-class models, inat_bird_labels.txt for the iNaturalist bird model;
 * looked for beside the model, then on the search path.  -ENOENT if none. */
int mnet_path_default_labels(const char *model_path, int classes, const char *dir, char *out,
                             size_t outlen);

/* A labels file: one label per line (trailing CR/LF stripped). */
struct mnet_labels {
    char **label; /* count entries */
    int count;
};
int mnet_labels_load(const char *path, struct mnet_labels **out);
void mnet_labels_free(struct mnet_labels *l); /* NULL is fine */

/* label i, or NULL when there is none */
const char *mnet_labels_get(const struct mnet_labels *l, int i);

/* Whole file into memory (malloc'd, caller frees): -EFBIG over max_bytes,
 * else 0 or negative errno from open/read. */
int mnet_file_read(const char *path, size_t max_bytes, uint8_t **out, size_t *len);

#endif
