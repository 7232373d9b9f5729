/* files.c — atomic file replacement, mkdir -p and path helpers.
 *
 * Every finished result (checkpoint, .npy, metrics CSV) is written to "<path>.tmp.<pid>" in the
 * same folder, synced, then renamed over <path>: rename() within one filesystem is atomic, so a
 * reader or a crash sees the old file or the new one, never a mix.
 */
#define _XOPEN_SOURCE 700 /* nftw() */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eqs/io.h"

/* "<path>.tmp.<pid>": the pid keeps two processes writing the same path from sharing a temp. */
static char *temp_path_for(const char *path, eqs_err *err)
{
    size_t len = strlen(path) + 32;
    char *tmp = malloc(len);
    if (!tmp) {
        eqs_err_set(err, EQS_ENOMEM, "%s: out of memory for the temp file name", path);
        return NULL;
    }
    snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
    return tmp;
}

/* write() may write less than asked (signals, pipes); loop until all is out. */
static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_parts(int fd, const void *const *parts, const size_t *lens, int n_parts)
{
    for (int i = 0; i < n_parts; i++)
        if (lens[i] > 0 && write_all(fd, parts[i], lens[i]) != 0)
            return -1;
    return 0;
}

eqs_status eqs_write_file_atomic_parts(const char *path, const void *const *parts,
                                       const size_t *lens, int n_parts, eqs_err *err)
{
    char *tmp = temp_path_for(path, err);
    if (!tmp)
        return EQS_ENOMEM;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) {
        eqs_status st = eqs_err_set(err, EQS_EIO, "cannot write %s (temp file %s): %s", path, tmp,
                                    strerror(errno));
        free(tmp);
        return st;
    }
    const char *failed = NULL;
    if (write_parts(fd, parts, lens, n_parts) != 0)
        failed = "write";
    else if (fsync(fd) != 0)
        failed = "fsync";
    int saved_errno = errno;
    /* close() can report a deferred write error (NFS, full disk): it counts as a failure too. */
    if (close(fd) != 0 && !failed) {
        failed = "close";
        saved_errno = errno;
    }
    if (!failed && rename(tmp, path) != 0) {
        failed = "rename";
        saved_errno = errno;
    }
    eqs_status st = EQS_OK;
    if (failed) {
        unlink(tmp);
        st = eqs_err_set(err, EQS_EIO, "cannot write %s: %s of temp file %s failed: %s", path,
                         failed, tmp, strerror(saved_errno));
    }
    free(tmp);
    return st;
}

eqs_status eqs_write_file_atomic(const char *path, const void *data, size_t len, eqs_err *err)
{
    const void *parts[1] = {data};
    return eqs_write_file_atomic_parts(path, parts, &len, 1, err);
}

/* Creates one folder; an existing folder is fine, an existing file is not. */
static eqs_status mkdir_one(const char *dir, eqs_err *err)
{
    if (mkdir(dir, 0777) == 0)
        return EQS_OK;
    int saved_errno = errno;
    struct stat st;
    if (saved_errno == EEXIST && stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return EQS_OK;
        return eqs_err_set(err, EQS_EIO, "cannot create directory %s: a file of that name exists",
                           dir);
    }
    return eqs_err_set(err, EQS_EIO, "cannot create directory %s: %s", dir, strerror(saved_errno));
}

eqs_status eqs_mkdir_p(const char *path, eqs_err *err)
{
    char *dir = strdup(path);
    if (!dir)
        return eqs_err_set(err, EQS_ENOMEM, "%s: out of memory", path);
    eqs_status st = EQS_OK;
    /* Create each prefix ending before a '/', then the whole path; skip the root's '/'. */
    for (char *p = dir + 1; *p && st == EQS_OK; p++) {
        if (*p != '/' || p[-1] == '/')
            continue;
        *p = '\0';
        st = mkdir_one(dir, err);
        *p = '/';
    }
    if (st == EQS_OK && dir[0])
        st = mkdir_one(dir, err);
    free(dir);
    return st;
}

int eqs_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

void eqs_path_relative_to(char *out, size_t out_len, const char *base_file, const char *path)
{
    const char *slash = strrchr(base_file, '/');
    if (path[0] == '/' || !slash) {
        snprintf(out, out_len, "%s", path);
        return;
    }
    int dir_len = (int)(slash - base_file + 1); /* keeps the '/' */
    snprintf(out, out_len, "%.*s%s", dir_len, base_file, path);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void eqs_remove_tree(const char *path)
{
    if (eqs_path_exists(path))
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
