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

/* A few threads that run maildir_commit() off the event loop: the loop keeps serving
 * while a message is fsync'd, and concurrent fsyncs share the filesystem's journal
 * commits. Completions are delivered on the loop thread. */
struct event_base;
struct maildir_pool;
struct maildir_job;
typedef void maildir_done_cb(void *arg, int rc, const char *name, const char *err);

/* nthreads 0 commits on the loop (still reported through done, asynchronously). */
struct maildir_pool *maildir_pool_new(struct event_base *base, unsigned nthreads);
/* Take m and commit it; done(arg, 0 or -1, file name, error) follows on the loop. */
struct maildir_job *maildir_pool_commit(struct maildir_pool *p, struct maildir_msg *m,
					maildir_done_cb *done, void *arg);
/* The owner of job is gone: the commit still completes, done is not called. */
void maildir_job_forget(struct maildir_job *job);
/* Wait for every job in flight (their done callbacks are not called), then free. */
void maildir_pool_free(struct maildir_pool *p);
