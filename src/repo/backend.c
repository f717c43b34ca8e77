/* backend.c: small wrappers over the storage backend's table of operations (backend.h), shared
 * by every backend: exact reads, puts of hash-named objects, destruction. */
#include "repo/backend.h"
#include <errno.h>

void repo_backend_destroy(struct repo_backend *be)
{
    if (be) be->ops->destroy(be);
}

int repo_backend_read(struct repo_backend *be, int type, const char *name, uint64_t off, void *buf,
                      size_t len)
{
    size_t got = 0;
    int rc = be->ops->get(be, type, name, off, buf, len, &got);
    if (rc < 0) return rc;
    return got == len ? 0 : -EIO;
}

int repo_backend_put_same(struct repo_backend *be, int type, const char *name, const void *data,
                          size_t len)
{
    int rc = be->ops->put(be, type, name, data, len);
    return rc == -EEXIST ? 0 : rc;
}
