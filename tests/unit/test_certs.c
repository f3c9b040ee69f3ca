/* Unit tests for src/lab/certs: the lab hierarchy verifies as a PKIX chain, the faulty
 * leaves fail the way their scenario needs (expired, self-signed, wrong name), keys are
 * shared or fresh as asked, RSA is RSA, and the written files hold what the receivers
 * and zones need (key 0600 and matching its certificate, chain order, root when asked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "dane/tlsa.h"
#include "lab/certs.h"
#include "util/str.h"

static struct lab_pki pki;
static char tmpdir[64];

static int setup(void **state)
{
	char err[256];
	(void)state;
	str_copy(tmpdir, "/tmp/danemx-certs-XXXXXX", sizeof(tmpdir));
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return lab_pki_create(&pki, err, sizeof(err)) == LAB_CERTS_OK ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	lab_pki_free(&pki);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* PKIX-verify leaf with its chain against the lab root for host; the X509_V_ code. */
static int pkix_verify(const struct lab_leaf *l, const char *host)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc;

	assert_int_equal(X509_STORE_add_cert(store, pki.root), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, l->cert, l->chain), 1);
	assert_int_equal(X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host, 0), 1);
	X509_verify_cert(ctx);
	rc = X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

static void spki(X509 *x, struct tlsa_rr *rr)
{
	assert_int_equal(tlsa_from_cert(x, 3, 1, 1, rr, NULL, 0), TLSA_OK);
}

static void test_good_leaf_verifies(void **state)
{
	struct lab_leaf l;
	char err[256];
	(void)state;
	assert_int_equal(lab_leaf_create(&pki, "mx1.good.test", 0, &l, err, sizeof(err)), 0);
	assert_int_equal(pkix_verify(&l, "mx1.good.test"), X509_V_OK);
	assert_int_equal(pkix_verify(&l, "other.test"), X509_V_ERR_HOSTNAME_MISMATCH);
	assert_int_equal(sk_X509_num(l.chain), 1);
	assert_int_equal(X509_cmp(sk_X509_value(l.chain, 0), pki.inter), 0);
	assert_int_equal(X509_check_issued(pki.root, pki.inter), X509_V_OK);
	assert_int_equal(X509_check_ca(pki.inter), 1);
	assert_int_equal(X509_check_ca(l.cert), 0);
	lab_leaf_free(&l);
}

static void test_faulty_leaves(void **state)
{
	struct lab_leaf l;
	(void)state;
	assert_int_equal(lab_leaf_create(&pki, "mx.expired.test", LAB_LEAF_EXPIRED, &l, NULL, 0), 0);
	assert_int_equal(pkix_verify(&l, "mx.expired.test"), X509_V_ERR_CERT_HAS_EXPIRED);
	assert_true(X509_cmp_current_time(X509_get0_notAfter(l.cert)) < 0);
	lab_leaf_free(&l);
	assert_int_equal(lab_leaf_create(&pki, "mx.self.test", LAB_LEAF_SELF_SIGNED, &l, NULL, 0), 0);
	assert_int_equal(X509_check_issued(l.cert, l.cert), X509_V_OK);
	assert_int_equal(sk_X509_num(l.chain), 0);
	assert_int_not_equal(pkix_verify(&l, "mx.self.test"), X509_V_OK);
	lab_leaf_free(&l);
	assert_int_equal(lab_leaf_create(&pki, "", 0, &l, NULL, 0), LAB_CERTS_EINVAL);
}

static void test_keys_shared_fresh_rsa(void **state)
{
	struct lab_leaf a, b, c, r;
	struct tlsa_rr ra, rb, rc;
	(void)state;
	assert_int_equal(lab_leaf_create(&pki, "a.test", 0, &a, NULL, 0), 0);
	assert_int_equal(lab_leaf_create(&pki, "b.test", 0, &b, NULL, 0), 0);
	assert_int_equal(lab_leaf_create(&pki, "c.test", LAB_LEAF_OWN_KEY, &c, NULL, 0), 0);
	spki(a.cert, &ra);
	spki(b.cert, &rb);
	spki(c.cert, &rc);
	assert_true(tlsa_rr_equal(&ra, &rb));
	assert_false(tlsa_rr_equal(&ra, &rc));
	assert_int_equal(X509_cmp(a.cert, b.cert) != 0, 1);
	assert_int_equal(lab_leaf_create(&pki, "rsa.test", LAB_LEAF_RSA, &r, NULL, 0), 0);
	assert_int_equal(EVP_PKEY_get_base_id(r.key), EVP_PKEY_RSA);
	assert_int_equal(EVP_PKEY_get_bits(r.key), 2048);
	assert_int_equal(EVP_PKEY_get_base_id(a.key), EVP_PKEY_EC);
	assert_int_equal(pkix_verify(&r, "rsa.test"), X509_V_OK);
	tlsa_rr_free(&ra);
	tlsa_rr_free(&rb);
	tlsa_rr_free(&rc);
	lab_leaf_free(&a);
	lab_leaf_free(&b);
	lab_leaf_free(&c);
	lab_leaf_free(&r);
}

static void test_files(void **state)
{
	struct lab_leaf l;
	struct tlsa_material chain, key;
	struct tlsa_rr from_cert, from_key;
	struct stat st;
	char err[256], path[PATH_MAX];
	(void)state;
	assert_int_equal(lab_leaf_create(&pki, "mx.ta.test", LAB_LEAF_CHAIN_ROOT, &l, err, sizeof(err)), 0);
	assert_int_equal(lab_leaf_write(&l, tmpdir, "mx.ta.test", err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/mx.ta.test.key.pem", tmpdir);
	assert_string_equal(l.key_path, path);
	assert_int_equal(stat(l.key_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(tlsa_load(l.chain_path, &chain, err, sizeof(err)), TLSA_OK);
	assert_int_equal(tlsa_load(l.key_path, &key, err, sizeof(err)), TLSA_OK);
	assert_int_equal(sk_X509_num(chain.certs), 3);
	assert_int_equal(X509_cmp(sk_X509_value(chain.certs, 0), l.cert), 0);
	assert_int_equal(X509_cmp(sk_X509_value(chain.certs, 1), pki.inter), 0);
	assert_int_equal(X509_cmp(sk_X509_value(chain.certs, 2), pki.root), 0);
	assert_int_equal(key.pkey_private, 1);
	assert_int_equal(X509_check_private_key(sk_X509_value(chain.certs, 0), key.pkey), 1);
	spki(sk_X509_value(chain.certs, 0), &from_cert);
	assert_int_equal(tlsa_from_pkey(key.pkey, 3, 1, 1, &from_key, NULL, 0), TLSA_OK);
	assert_true(tlsa_rr_equal(&from_cert, &from_key));
	tlsa_rr_free(&from_cert);
	tlsa_rr_free(&from_key);
	tlsa_material_free(&chain);
	tlsa_material_free(&key);
	assert_int_equal(lab_pki_write(&pki, tmpdir, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/root.pem", tmpdir);
	assert_int_equal(tlsa_load(path, &chain, err, sizeof(err)), TLSA_OK);
	assert_int_equal(X509_cmp(sk_X509_value(chain.certs, 0), pki.root), 0);
	assert_null(chain.pkey);   /* never the CA key */
	tlsa_material_free(&chain);
	assert_int_equal(lab_leaf_write(&l, "/nonexistent", "x", err, sizeof(err)), LAB_CERTS_EIO);
	assert_non_null(strstr(err, "/nonexistent/x.key.pem"));
	lab_leaf_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_leaf_verifies),
		cmocka_unit_test(test_faulty_leaves),
		cmocka_unit_test(test_keys_shared_fresh_rsa),
		cmocka_unit_test(test_files),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
