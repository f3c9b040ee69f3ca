/*
 * maildir: crash-safe delivery of one message into a Maildir: written to tmp/, fsync'd,
 * renamed into new/, and new/ fsync'd, so that a file in new/ is always complete. It
 * never writes into new/ directly and never leaves a file there on failure.
 */
#ifndef DANEMX_MAILDIR_H
#define DANEMX_MAILDIR_H

#include <stddef.h>

struct maildir_msg;

/* Create dir and its tmp/, new/, cur/ when missing. 0, or -1 with err naming the path. */
int maildir_prepare(const char *dir, char *err, size_t errlen);
/* Start a message in dir/tmp under a unique name (host is the name's last part). */
struct maildir_msg *maildir_open(const char *dir, const char *host, char *err, size_t errlen);
/* Buffered append; -1 after any write error (sticky, reported again by commit). */
int maildir_write(struct maildir_msg *m, const void *data, size_t len);
/* fsync, rename into new/, fsync new/. Frees m either way; on success the file name
 * (without directory) is copied into name. 0 or -1 with err. */
int maildir_commit(struct maildir_msg *m, char *name, size_t namelen, char *err, size_t errlen);
/* Remove the tmp file and free m. NULL-safe. */
void maildir_abort(struct maildir_msg *m);

#endif
