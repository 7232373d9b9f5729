/* gz_impl.h — zlib reading shared by the dataset readers of sim/io. Not a public header. */
#ifndef EQS_IO_GZ_IMPL_H
#define EQS_IO_GZ_IMPL_H

#include <stddef.h>
#include <zlib.h>

/* Reads up to len bytes (gzip or raw), looping because gzread takes an unsigned int length.
 * Returns the count read and zlib's error state in *errnum: Z_OK, Z_BUF_ERROR when a gzip
 * stream ended early (zlib's "unexpected end of file"), anything else for a corrupt stream or a
 * read error. Defined in idx.c. */
size_t eqs_io__gz_read_upto(gzFile gz, void *buf, size_t len, int *errnum);

#endif
