/* Unit tests for src/smtp/maildir: a committed message is complete in new/ and gone from
 * tmp/, an aborted one leaves nothing, names are unique, and the commit pool reports on the
 * loop (or, once forgotten, reports nothing but still delivers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "smtp/maildir.h"

static char dir[64];

static int setup(void **state)
{
	char err[256];

	snprintf(dir, sizeof(dir), "/tmp/danemx-md-XXXXXX");
	assert_non_null(mkdtemp(dir));
	strcat(dir, "/md");
	assert_int_equal(maildir_prepare(dir, err, sizeof(err)), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	dir[strlen(dir) - 3] = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int count(const char *sub)
{
	char path[128];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void read_new(const char *name, char *out, size_t outlen)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/new/%s", dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void test_commit_and_abort(void **state)
{
	struct maildir_msg *m;
	char err[256], name[256], body[200000];
	static char big[150000];

	memset(big, 'b', sizeof(big) - 1);
	m = maildir_open(dir, "mx/a:b", err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(count("tmp"), 1);
	assert_int_equal(maildir_write(m, "Subject: x\n\n", 12), 0);
	assert_int_equal(maildir_write(m, big, strlen(big)), 0); /* spans the write buffer */
	assert_int_equal(count("new"), 0);
	assert_int_equal(maildir_commit(m, name, sizeof(name), err, sizeof(err)), 0);
	assert_int_equal(count("tmp"), 0);
	assert_int_equal(count("new"), 1);
	/* '/' and ':' cannot appear in a Maildir name. */
	assert_null(strchr(name, '/'));
	assert_null(strchr(name, ':'));
	assert_non_null(strstr(name, "mx\\057a\\072b"));
	read_new(name, body, sizeof(body));
	assert_int_equal(strlen(body), 12 + strlen(big));
	assert_memory_equal(body, "Subject: x\n\n", 12);

	m = maildir_open(dir, "mx", err, sizeof(err));
	assert_non_null(m);
	maildir_write(m, "partial", 7);
	maildir_abort(m);
	maildir_abort(NULL);
	assert_int_equal(count("tmp"), 0);
	assert_int_equal(count("new"), 1);
}

static void test_errors(void **state)
{
	char err[256];

	assert_null(maildir_open("/nonexistent/md", "h", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/md/tmp/"));
	assert_int_equal(maildir_prepare("/nonexistent/x/md", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/x/md"));
}

struct done_rec {
	int calls, rc;
	char name[256];
	struct event_base *base;
};

static void on_done(void *arg, int rc, const char *name, const char *err)
{
	struct done_rec *d = arg;

	d->calls++;
	d->rc = rc;
	snprintf(d->name, sizeof(d->name), "%s", name);
	event_base_loopbreak(d->base);
}

static void test_pool(void **state)
{
	struct event_base *base = event_base_new();
	struct timeval limit = {10, 0};
	struct done_rec d = {0, -1, "", base}, ignored = {0, -1, "", base};
	struct maildir_pool *p;
	struct maildir_job *j;
	struct maildir_msg *m;
	char err[256], body[64];

	for (unsigned threads = 0; threads <= 2; threads += 2) {
		p = maildir_pool_new(base, threads);
		assert_non_null(p);
		m = maildir_open(dir, "h", err, sizeof(err));
		maildir_write(m, "hello\n", 6);
		d.calls = 0;
		assert_non_null(maildir_pool_commit(p, m, on_done, &d));
		/* Never reported from inside the call: only on the loop. */
		assert_int_equal(d.calls, 0);
		event_base_loopexit(base, &limit);
		event_base_dispatch(base);
		assert_int_equal(d.calls, 1);
		assert_int_equal(d.rc, 0);
		read_new(d.name, body, sizeof(body));
		assert_string_equal(body, "hello\n");
		/* A forgotten job still lands in new/; its owner hears nothing. */
		m = maildir_open(dir, "h", err, sizeof(err));
		j = maildir_pool_commit(p, m, on_done, &ignored);
		maildir_job_forget(j);
		maildir_pool_free(p);
		assert_int_equal(ignored.calls, 0);
	}
	assert_int_equal(count("new"), 4);
	assert_int_equal(count("tmp"), 0);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_and_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
