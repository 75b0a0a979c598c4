/* modelpath.c: model/labels search path and labels files (see modelpath.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "modelpath.h"

#ifndef MNET_SHARED_DIR
#define MNET_SHARED_DIR ""
#endif

/* dir + "/" + name into out; 0, -ENAMETOOLONG, or -ENOENT if not readable. */
static int try_dir(const char *dir, size_t dirlen, const char *name, char *out, size_t outlen)
{
    if (dirlen == 0)
        return -ENOENT;
    int n = snprintf(out, outlen, "%.*s/%s", (int)dirlen, dir, name);
    if (n < 0 || (size_t)n >= outlen)
        return -ENAMETOOLONG;
    return access(out, R_OK) == 0 ? 0 : -ENOENT;
}

int mnet_path_find(const char *name, const char *dir, char *out, size_t outlen)
{
    if (!name || !*name || !out || outlen == 0)
        return -EINVAL;
    char buf[4096];
    int rc = -ENOENT, r;

    if (strchr(name, '/')) {
        if (strlen(name) >= outlen)
            return -ENAMETOOLONG;
        if (access(name, R_OK) != 0)
            return -errno;
        strcpy(out, name);
        return 0;
    }
#define TRY(d, len)                                                       \
    do {                                                                  \
        r = try_dir((d), (len), name, buf, sizeof buf);                   \
        if (r == 0)                                                       \
            goto found;                                                   \
        if (r == -ENAMETOOLONG)                                           \
            rc = r;                                                       \
    } while (0)

    if (dir)
        TRY(dir, strlen(dir));
    const char *env = getenv("MNET_MODEL_PATH");
    while (env && *env) {
        const char *colon = strchr(env, ':');
        size_t len = colon ? (size_t)(colon - env) : strlen(env);
        TRY(env, len);
        env = colon ? colon + 1 : NULL;
    }
    TRY("models", 6);
    TRY("../shared/models", 16);
    if (MNET_SHARED_DIR[0]) {
        char sd[4096];
        int n = snprintf(sd, sizeof sd, "%s/models", MNET_SHARED_DIR);
        if (n > 0 && (size_t)n < sizeof sd)
            TRY(sd, (size_t)n);
    }
#undef TRY
    return rc;
found:
    if (strlen(buf) >= outlen)
        return -ENAMETOOLONG;
    strcpy(out, buf);
    return 0;
}

int mnet_path_default_labels(const char *model_path, int classes, const char *dir, char *out,
                             size_t outlen)
{
    if (!model_path || !out || outlen == 0)
        return -EINVAL;
    const char *base = strrchr(model_path, '/');
    base = base ? base + 1 : model_path;
    const char *name;
    if (strstr(base, "inat_bird"))
        name = "inat_bird_labels.txt";
    else if (classes == 1001)
        name = "imagenet_labels.txt";
    else
        return -ENOENT;

    /* beside the model first: the labels that came with it */
    char buf[4096];
    size_t dirlen = base == model_path ? 0 : (size_t)(base - model_path - 1);
    int r = dirlen ? try_dir(model_path, dirlen, name, buf, sizeof buf)
                   : try_dir(".", 1, name, buf, sizeof buf);
    if (r == 0) {
        if (strlen(buf) >= outlen)
            return -ENAMETOOLONG;
        strcpy(out, buf);
        return 0;
    }
    return mnet_path_find(name, dir, out, outlen);
}

void mnet_labels_free(struct mnet_labels *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->count; i++)
        free(l->label[i]);
    free(l->label);
    free(l);
}

int mnet_labels_load(const char *path, struct mnet_labels **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    struct mnet_labels *l = calloc(1, sizeof *l);
    char *line = NULL;
    size_t cap = 0;
    int rc = -ENOMEM, alloc = 0;
    ssize_t n;
    if (!l)
        goto out;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (l->count == alloc) {
            if (alloc > (1 << 24)) {
                rc = -EFBIG;
                goto out;
            }
            int na = alloc ? alloc * 2 : 1024;
            char **nl = realloc(l->label, (size_t)na * sizeof *nl);
            if (!nl)
                goto out;
            l->label = nl;
            alloc = na;
        }
        if (!(l->label[l->count] = strdup(line)))
            goto out;
        l->count++;
    }
    if (ferror(f)) {
        rc = -EIO;
        goto out;
    }
    *out = l;
    l = NULL;
    rc = 0;
out:
    free(line);
    fclose(f);
    mnet_labels_free(l);
    return rc;
}

const char *mnet_labels_get(const struct mnet_labels *l, int i)
{
    return l && i >= 0 && i < l->count ? l->label[i] : NULL;
}

int mnet_file_read(const char *path, size_t max_bytes, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= max_bytes) {
                rc = -EFBIG;
                break;
            }
            size_t nc = cap ? cap * 2 : 1 << 16;
            uint8_t *nb = realloc(buf, nc);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            buf = nb;
            cap = nc;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f))
                rc = -EIO;
            break;
        }
    }
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}
