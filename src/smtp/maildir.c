/*
 * maildir: the tmp -> fsync -> rename -> fsync(dir) sequence of the Maildir convention.
 * The 250 reply must wait for it; the pool runs it on worker threads so that the event
 * loop does not. It must never leave a partial file in new/ and never overwrite an
 * existing file (O_EXCL). Workers touch only their job's message; results go back to the
 * loop through a pipe.
 */
#include "smtp/maildir.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "util/str.h"

#define MAILDIR_MAX_THREADS 16

struct maildir_msg {
	char *dir;
	char name[256];
	int fd;
	int failed;       /* errno of the first failed write */
	size_t used;
	char wbuf[65536];
};

static int maildir_mkdir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
	return -1;
}

int maildir_prepare(const char *dir, char *err, size_t errlen)
{
	static const char *const sub[] = {"tmp", "new", "cur"};
	char path[4096];

	if (maildir_mkdir(dir, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, sub[i]);
		if (maildir_mkdir(path, err, errlen) < 0)
			return -1;
		if (access(path, W_OK) < 0) {
			snprintf(err, errlen, "cannot write to %s: %s", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The host part of a Maildir name: '/' and ':' are not allowed in it. */
static void maildir_host(char *out, size_t outlen, const char *host)
{
	size_t o = 0;

	for (; *host != '\0' && o + 5 < outlen; host++) {
		if (*host == '/' || *host == ':')
			o += (size_t)snprintf(out + o, outlen - o, "\\%03o", (unsigned char)*host);
		else
			out[o++] = *host;
	}
	out[o] = '\0';
}

struct maildir_msg *maildir_open(const char *dir, const char *host, char *err, size_t errlen)
{
	static unsigned seq;
	struct maildir_msg *m;
	struct timeval tv;
	char h[128], path[4096];

	if ((m = calloc(1, sizeof(*m))) == NULL || (m->dir = strdup(dir)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(m);
		return NULL;
	}
	maildir_host(h, sizeof(h), host);
	gettimeofday(&tv, NULL);
	snprintf(m->name, sizeof(m->name), "%lld.M%06ldP%dQ%u.%s", (long long)tv.tv_sec,
		 (long)tv.tv_usec, (int)getpid(), ++seq, h);
	snprintf(path, sizeof(path), "%s/tmp/%s", dir, m->name);
	m->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (m->fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		free(m->dir);
		free(m);
		return NULL;
	}
	return m;
}

static int maildir_flush(struct maildir_msg *m)
{
	size_t off = 0;

	while (off < m->used && !m->failed) {
		ssize_t n = write(m->fd, m->wbuf + off, m->used - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			m->failed = n < 0 ? errno : EIO;
		else
			off += (size_t)n;
	}
	m->used = 0;
	return m->failed ? -1 : 0;
}

int maildir_write(struct maildir_msg *m, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0 && !m->failed) {
		size_t room = sizeof(m->wbuf) - m->used, k = len < room ? len : room;
		memcpy(m->wbuf + m->used, p, k);
		m->used += k;
		p += k;
		len -= k;
		if (m->used == sizeof(m->wbuf))
			maildir_flush(m);
	}
	return m->failed ? -1 : 0;
}

static void maildir_free(struct maildir_msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	free(m->dir);
	free(m);
}

static int maildir_sync_dir(const char *dir, char *err, size_t errlen)
{
	char path[4096];
	int fd, r;

	snprintf(path, sizeof(path), "%s/new", dir);
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	r = fsync(fd);
	if (r < 0)
		snprintf(err, errlen, "fsync %s: %s", path, strerror(errno));
	close(fd);
	return r;
}

int maildir_commit(struct maildir_msg *m, char *name, size_t namelen, char *err, size_t errlen)
{
	char tmp[4096], dst[4096];
	int r = -1;

	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", m->dir, m->name);
	snprintf(dst, sizeof(dst), "%s/new/%s", m->dir, m->name);
	if (maildir_flush(m) < 0 || fsync(m->fd) < 0 || close(m->fd) < 0) {
		snprintf(err, errlen, "write %s: %s", tmp, strerror(m->failed ? m->failed : errno));
		m->fd = -1;
		unlink(tmp);
		goto out;
	}
	m->fd = -1;
	if (rename(tmp, dst) < 0) {
		snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (maildir_sync_dir(m->dir, err, errlen) < 0)
		goto out;
	if (name != NULL)
		str_copy(name, m->name, namelen);
	r = 0;
out:
	maildir_free(m);
	return r;
}

void maildir_abort(struct maildir_msg *m)
{
	char tmp[4096];

	if (m == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", m->dir, m->name);
	unlink(tmp);
	maildir_free(m);
}

/* ---- the commit pool ---- */

struct maildir_job {
	struct maildir_job *next;
	struct maildir_msg *msg;
	maildir_done_cb *done;   /* NULL once forgotten */
	void *arg;
	int rc;
	char name[256];
	char err[300];
};

struct maildir_pool {
	pthread_t th[MAILDIR_MAX_THREADS];
	unsigned nth;            /* threads running */
	unsigned want;           /* threads to start with the first job */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct maildir_job *todo, *todo_tail, *done;
	int stop;
	int wake[2];             /* worker -> loop: a byte means "look at done" */
	struct event *ev;
};

static void pool_finish(struct maildir_pool *p, struct maildir_job *j)
{
	pthread_mutex_lock(&p->mu);
	j->next = p->done;
	p->done = j;
	pthread_mutex_unlock(&p->mu);
	/* Non-blocking: a full pipe already holds a wake-up. */
	if (write(p->wake[1], "", 1) < 0 && errno != EAGAIN)
		return;
}

static void *pool_worker(void *arg)
{
	struct maildir_pool *p = arg;
	struct maildir_job *j;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->todo == NULL && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if ((j = p->todo) == NULL) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		p->todo = j->next;
		pthread_mutex_unlock(&p->mu);
		j->rc = maildir_commit(j->msg, j->name, sizeof(j->name), j->err, sizeof(j->err));
		j->msg = NULL;
		pool_finish(p, j);
	}
}

/* Loop side: hand finished jobs to their owners, oldest first. */
static void pool_reap(evutil_socket_t fd, short what, void *arg)
{
	struct maildir_pool *p = arg;
	struct maildir_job *list, *rev = NULL, *j;
	char drain[256];

	while (read(fd, drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&p->mu);
	list = p->done;
	p->done = NULL;
	pthread_mutex_unlock(&p->mu);
	while ((j = list) != NULL) {
		list = j->next;
		j->next = rev;
		rev = j;
	}
	while ((j = rev) != NULL) {
		rev = j->next;
		if (j->done != NULL)
			j->done(j->arg, j->rc, j->name, j->err);
		free(j);
	}
}

struct maildir_pool *maildir_pool_new(struct event_base *base, unsigned nthreads)
{
	struct maildir_pool *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pipe2(p->wake, O_NONBLOCK | O_CLOEXEC) < 0 ||
	    (p->ev = event_new(base, p->wake[0], EV_READ | EV_PERSIST, pool_reap, p)) == NULL ||
	    event_add(p->ev, NULL) < 0) {
		maildir_pool_free(p);
		return NULL;
	}
	/* Threads start with the first message: a lab with many idle servers costs none. */
	p->want = nthreads > MAILDIR_MAX_THREADS ? MAILDIR_MAX_THREADS : nthreads;
	return p;
}

struct maildir_job *maildir_pool_commit(struct maildir_pool *p, struct maildir_msg *m,
					maildir_done_cb *done, void *arg)
{
	struct maildir_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->msg = m;
	j->done = done;
	j->arg = arg;
	for (; p->nth < p->want; p->nth++)
		if (pthread_create(&p->th[p->nth], NULL, pool_worker, p) != 0) {
			p->want = p->nth; /* fewer threads, or none: commit on the loop */
			break;
		}
	if (p->nth == 0) {
		j->rc = maildir_commit(m, j->name, sizeof(j->name), j->err, sizeof(j->err));
		j->msg = NULL;
		pool_finish(p, j);
		return j;
	}
	pthread_mutex_lock(&p->mu);
	if (p->todo == NULL)
		p->todo = j;
	else
		p->todo_tail->next = j;
	p->todo_tail = j;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return j;
}

void maildir_job_forget(struct maildir_job *job)
{
	if (job != NULL)
		job->done = NULL;
}

void maildir_pool_free(struct maildir_pool *p)
{
	struct maildir_job *j;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
	/* Workers drained the queue before leaving; nobody is told any more. */
	while ((j = p->done) != NULL) {
		p->done = j->next;
		free(j);
	}
	if (p->ev != NULL)
		event_free(p->ev);
	if (p->wake[0] > 0) {
		close(p->wake[0]);
		close(p->wake[1]);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
