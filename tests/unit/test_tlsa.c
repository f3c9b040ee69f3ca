/* Unit tests for src/dane/tlsa: records computed from a fixed certificate against digests
 * taken with the openssl command line, parse/format round trips and every parse error,
 * PEM/DER loading of certificates and keys, and a run-time cross-check of the SPKI digest
 * of a freshly generated key against `openssl pkey -pubin -outform DER | sha256sum`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/pem.h>

#include "dane/tlsa.h"
#include "util/buf.h"
#include "util/str.h"

/* Self-signed P-256 certificate for mx.example.test and its key (test data only). */
static const char cert_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBizCCATGgAwIBAgIURzIDnSXs2ZR6h1Sf+F/UZ6VcpgMwCgYIKoZIzj0EAwIw\n"
	"GjEYMBYGA1UEAwwPbXguZXhhbXBsZS50ZXN0MCAXDTI2MTEyODIxMzUyN1oYDzIx\n"
	"MjYxMTA0MjEzNTI3WjAaMRgwFgYDVQQDDA9teC5leGFtcGxlLnRlc3QwWTATBgcq\n"
	"hkjOPQIBBggqhkjOPQMBBwNCAAT6Ab3xwv4L/pYKjAHnXetJzb/hgeKeuDi8QPhs\n"
	"vlGMpryavH3VTrEo7pW6+6o7gnLy2OT9xm43+JTGrNOwFTNzo1MwUTAdBgNVHQ4E\n"
	"FgQUpw+z8HWZKGBD3lT5N15z198pZVowHwYDVR0jBBgwFoAUpw+z8HWZKGBD3lT5\n"
	"N15z198pZVowDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEAqBba\n"
	"09ESO9NdzDJJFRkE2PS+JpuCwAhK0av91M12c0MCIBUao/Hv563rSJ1zw77MiuE3\n"
	"6be89VO4i6knumYPnLx8\n"
	"-----END CERTIFICATE-----\n";
static const char key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgEJBRn0eM1J/3dkPU\n"
	"D5YmScG9kKykZ7JipE47lR1eQLWhRANCAAT6Ab3xwv4L/pYKjAHnXetJzb/hgeKe\n"
	"uDi8QPhsvlGMpryavH3VTrEo7pW6+6o7gnLy2OT9xm43+JTGrNOwFTNz\n"
	"-----END PRIVATE KEY-----\n";

/* openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum (sha512sum) */
#define SPKI_SHA256 "37ae7339e5633ac279dc5264a942177a7d1d170c4eedb348412214c7b5f3632a"
#define SPKI_SHA512 "3da535b736724a482f6e068c80125d67b3db8bc15aaf0742f4f8efe30bd63be0" \
		    "60c845dbcdd96f4acf6b2d1f5cc6b2afa75cc774c9a37ab1079e90653b0766f3"
/* openssl x509 -outform DER | sha256sum */
#define CERT_SHA256 "f803f92eb98a34afb95010f5840cdb8c447a0f89fe2d9d298ede6a380f60bf5a"
#define SPKI_DER "3059301306072a8648ce3d020106082a8648ce3d03010703420004fa01bdf1c2fe0bfe" \
		 "960a8c01e75deb49cdbfe181e29eb838bc40f86cbe518ca6bc9abc7dd54eb128ee95ba" \
		 "fbaa3b8272f2d8e4fdc66e37f894c6acd3b0153373"

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	str_copy(tmpdir, "/tmp/danemx-tlsa-XXXXXX", sizeof(tmpdir));
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown_dir(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static X509 *fixed_cert(void)
{
	BIO *b = BIO_new_mem_buf(cert_pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(x);
	return x;
}

/* The record's rdata text, for comparing with the golden strings. */
static char *rdata(const struct tlsa_rr *rr)
{
	struct buf b = BUF_INIT(0);
	assert_int_equal(tlsa_format_rdata(rr, &b), TLSA_OK);
	return buf_steal(&b);
}

static void expect_rdata(const struct tlsa_rr *rr, const char *want)
{
	char *got = rdata(rr);
	assert_string_equal(got, want);
	free(got);
}

static void test_from_cert_known_values(void **state)
{
	static const struct { uint8_t u, s, m; const char *want; } cases[] = {
		{3, 1, 1, "3 1 1 " SPKI_SHA256},
		{3, 1, 2, "3 1 2 " SPKI_SHA512},
		{3, 0, 1, "3 0 1 " CERT_SHA256},
		{2, 1, 0, "2 1 0 " SPKI_DER},
		{255, 1, 1, "255 1 1 " SPKI_SHA256},
	};
	X509 *x = fixed_cert();
	struct tlsa_rr rr;
	char err[TLSA_ERRLEN];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(tlsa_from_cert(x, cases[i].u, cases[i].s, cases[i].m, &rr, err,
						sizeof(err)), TLSA_OK);
		expect_rdata(&rr, cases[i].want);
		assert_true(tlsa_rr_len_ok(&rr));
		tlsa_rr_free(&rr);
	}
	/* 3 0 0 is the whole DER certificate */
	assert_int_equal(tlsa_from_cert(x, 3, 0, 0, &rr, err, sizeof(err)), TLSA_OK);
	assert_int_equal(rr.len, (size_t)i2d_X509(x, NULL));
	tlsa_rr_free(&rr);
	assert_int_equal(tlsa_from_cert(x, 3, 2, 1, &rr, err, sizeof(err)), TLSA_EUNSUPPORTED);
	assert_non_null(strstr(err, "selector 2"));
	assert_int_equal(tlsa_from_cert(x, 3, 1, 3, &rr, err, sizeof(err)), TLSA_EUNSUPPORTED);
	assert_non_null(strstr(err, "matching type 3"));
	X509_free(x);
}

static void test_from_pkey(void **state)
{
	BIO *b = BIO_new_mem_buf(key_pem, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	struct tlsa_rr rr;
	char err[TLSA_ERRLEN];
	(void)state;
	BIO_free(b);
	assert_non_null(k);
	assert_int_equal(tlsa_from_pkey(k, 3, 1, 1, &rr, err, sizeof(err)), TLSA_OK);
	expect_rdata(&rr, "3 1 1 " SPKI_SHA256);
	tlsa_rr_free(&rr);
	assert_int_equal(tlsa_from_pkey(k, 3, 0, 1, &rr, err, sizeof(err)), TLSA_EUNSUPPORTED);
	assert_non_null(strstr(err, "needs a certificate"));
	EVP_PKEY_free(k);
}

static void test_parse_forms(void **state)
{
	static const char *const good[] = {
		"3 1 1 " SPKI_SHA256,
		"  3\t1 1 37AE7339E5633AC279DC5264A942177A 7d1d170c4eedb348412214c7b5f3632a\n",
		"DANE-EE SPKI SHA2-256 " SPKI_SHA256,
		"dane-ee spki sha2-256 " SPKI_SHA256,
		"_25._tcp.mx.example.test. 300 IN TLSA 3 1 1 ( 37ae7339e5633ac279dc5264a942177a\n"
		"\t7d1d170c4eedb348412214c7b5f3632a ) ; next key\n",
		"_25._tcp.mx.example.test. TLSA 003 1 1 " SPKI_SHA256,
	};
	struct tlsa_rr rr;
	char err[TLSA_ERRLEN];
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(tlsa_parse(good[i], &rr, err, sizeof(err)), TLSA_OK);
		expect_rdata(&rr, "3 1 1 " SPKI_SHA256);
		tlsa_rr_free(&rr);
	}
	assert_int_equal(tlsa_parse("PKIX-TA Cert Full 00", &rr, err, sizeof(err)), TLSA_OK);
	expect_rdata(&rr, "0 0 0 00");
	tlsa_rr_free(&rr);
	/* a wrong digest length parses (it is data) but is flagged as malformed */
	assert_int_equal(tlsa_parse("3 1 1 abcd", &rr, err, sizeof(err)), TLSA_OK);
	assert_false(tlsa_rr_len_ok(&rr));
	tlsa_rr_free(&rr);
}

static void test_parse_errors(void **state)
{
	static const struct { const char *in; int rc; const char *msg; } bad[] = {
		{"", TLSA_ESYNTAX, "empty"},
		{"3 1", TLSA_ESYNTAX, "before its matching type"},
		{"3 1 1", TLSA_ESYNTAX, "no certificate association data"},
		{"256 1 1 00", TLSA_ERANGE, "usage 256 is out of range 0-255"},
		{"3 99999999999999999999 1 00", TLSA_ERANGE, "selector"},
		{"3 1 -1 00", TLSA_ESYNTAX, "matching type '-1'"},
		{"DANE-XX 1 1 00", TLSA_ESYNTAX, "usage 'DANE-XX'"},
		{"3 1 1 abc", TLSA_ERANGE, "odd number of hex digits"},
		{"3 1 1 zz", TLSA_ESYNTAX, "invalid character 'z'"},
		{"3 1 1 00\x01", TLSA_ESYNTAX, "invalid character '?'"},
	};
	struct tlsa_rr rr = {9, 9, 9, 0, NULL};
	char err[TLSA_ERRLEN];
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(tlsa_parse(bad[i].in, &rr, err, sizeof(err)), bad[i].rc);
		if (strstr(err, bad[i].msg) == NULL)
			fail_msg("input '%s': error '%s' lacks '%s'", bad[i].in, err, bad[i].msg);
		assert_null(strchr(err, '\n'));
		assert_null(rr.data);   /* out untouched on failure */
	}
	assert_int_equal(tlsa_parse(NULL, &rr, NULL, 0), TLSA_ESYNTAX);
}

static void test_parse_length_bound(void **state)
{
	size_t n = (size_t)TLSA_DATA_MAX * 2;
	char *big = malloc(n + 16);
	struct tlsa_rr rr;
	char err[TLSA_ERRLEN];
	(void)state;
	memcpy(big, "3 0 0 ", 6);
	memset(big + 6, 'a', n);
	big[6 + n] = '\0';
	assert_int_equal(tlsa_parse(big, &rr, err, sizeof(err)), TLSA_OK);
	assert_int_equal(rr.len, (size_t)TLSA_DATA_MAX);
	tlsa_rr_free(&rr);
	memcpy(big + 6 + n, "aa", 3);
	assert_int_equal(tlsa_parse(big, &rr, err, sizeof(err)), TLSA_ERANGE);
	assert_non_null(strstr(err, "longer than"));
	free(big);
}

static void test_format_zone_and_helpers(void **state)
{
	struct tlsa_rr rr, copy;
	struct buf b = BUF_INIT(0);
	char owner[32];
	(void)state;
	assert_int_equal(tlsa_parse("3 1 1 " SPKI_SHA256, &rr, NULL, 0), TLSA_OK);
	assert_int_equal(tlsa_format_zone(&rr, "mx.example.test", 0, &b), TLSA_OK);
	assert_string_equal(buf_cstr(&b), "_25._tcp.mx.example.test. IN TLSA 3 1 1 " SPKI_SHA256);
	buf_reset(&b);
	assert_int_equal(tlsa_format_zone(&rr, "mx.example.test.", 465, &b), TLSA_OK);
	assert_string_equal(buf_cstr(&b), "_465._tcp.mx.example.test. IN TLSA 3 1 1 " SPKI_SHA256);
	buf_free(&b);
	assert_int_equal(tlsa_owner("a.test", 25, owner, sizeof(owner)), TLSA_OK);
	assert_string_equal(owner, "_25._tcp.a.test.");
	assert_int_equal(tlsa_owner("a-very-long-name.example.test", 25, owner, sizeof(owner)),
			 TLSA_ERANGE);
	assert_int_equal(tlsa_owner(".", 25, owner, sizeof(owner)), TLSA_ERANGE);
	assert_int_equal(tlsa_owner("a.test", 70000, owner, sizeof(owner)), TLSA_ERANGE);
	assert_int_equal(tlsa_rr_copy(&copy, &rr), TLSA_OK);
	assert_true(copy.data != rr.data);
	assert_true(tlsa_rr_equal(&copy, &rr));
	copy.data[31] ^= 1;
	assert_false(tlsa_rr_equal(&copy, &rr));
	tlsa_rr_free(&copy);
	assert_null(copy.data);
	tlsa_rr_free(&rr);
	tlsa_rr_free(NULL);
	assert_string_equal(tlsa_usage_name(2), "DANE-TA");
	assert_string_equal(tlsa_mtype_name(2), "SHA2-512");
	assert_null(tlsa_selector_name(2));
}

static char *write_file(const char *name, const void *data, size_t len)
{
	static char path[128];
	FILE *fp;
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
	return path;
}

/* Load path and check its first certificate or else its key gives SPKI_SHA256. */
static void expect_file_spki(const char *path, int ncerts, int has_key)
{
	struct tlsa_material m;
	struct tlsa_rr rr;
	char err[TLSA_ERRLEN];
	if (tlsa_load(path, &m, err, sizeof(err)) != TLSA_OK)
		fail_msg("%s: %s", path, err);
	assert_int_equal(sk_X509_num(m.certs), ncerts);
	assert_int_equal(m.pkey != NULL, has_key);
	if (ncerts > 0)
		assert_int_equal(tlsa_from_cert(sk_X509_value(m.certs, 0), 3, 1, 1, &rr, err, sizeof(err)), 0);
	else
		assert_int_equal(tlsa_from_pkey(m.pkey, 3, 1, 1, &rr, err, sizeof(err)), 0);
	expect_rdata(&rr, "3 1 1 " SPKI_SHA256);
	tlsa_rr_free(&rr);
	tlsa_material_free(&m);
}

static void test_load_pem_der(void **state)
{
	X509 *x = fixed_cert();
	BIO *b = BIO_new_mem_buf(key_pem, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	unsigned char *der = NULL;
	char both[2048];
	int len;
	(void)state;
	BIO_free(b);
	expect_file_spki(write_file("cert.pem", cert_pem, strlen(cert_pem)), 1, 0);
	expect_file_spki(write_file("key.pem", key_pem, strlen(key_pem)), 0, 1);
	snprintf(both, sizeof(both), "junk before\n%s%s%s", key_pem, cert_pem, cert_pem);
	expect_file_spki(write_file("both.pem", both, strlen(both)), 2, 1);
	len = i2d_X509(x, &der);
	expect_file_spki(write_file("cert.der", der, (size_t)len), 1, 0);
	OPENSSL_free(der);
	der = NULL;
	len = i2d_PUBKEY(k, &der);
	expect_file_spki(write_file("pub.der", der, (size_t)len), 0, 1);
	OPENSSL_free(der);
	der = NULL;
	len = i2d_PrivateKey(k, &der);
	expect_file_spki(write_file("key.der", der, (size_t)len), 0, 1);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void test_load_errors(void **state)
{
	struct tlsa_material m = {NULL, NULL, 0};
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	char err[TLSA_ERRLEN], damaged[2048];
	const char *enc = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
			  "-----END ENCRYPTED PRIVATE KEY-----\n";
	(void)state;
	assert_int_equal(tlsa_load("/nonexistent/x.pem", &m, err, sizeof(err)), TLSA_EFILE);
	assert_string_equal(err, "/nonexistent/x.pem: No such file or directory");
	assert_int_equal(tlsa_load(tmpdir, &m, err, sizeof(err)), TLSA_EFILE);
	assert_int_equal(tlsa_load(write_file("empty", "", 0), &m, err, sizeof(err)), TLSA_EFORMAT);
	assert_non_null(strstr(err, "empty file"));
	assert_int_equal(tlsa_load(write_file("junk", "hello world\n", 12), &m, err, sizeof(err)),
			 TLSA_EFORMAT);
	assert_non_null(strstr(err, "not a PEM file"));
	str_copy(damaged, cert_pem, sizeof(damaged));
	damaged[100] = '*';
	assert_int_equal(tlsa_load(write_file("damaged.pem", damaged, strlen(damaged)), &m, err,
				   sizeof(err)), TLSA_EFORMAT);
	assert_int_equal(tlsa_load(write_file("enc.pem", enc, strlen(enc)), &m, err, sizeof(err)),
			 TLSA_EUNSUPPORTED);
	assert_non_null(strstr(err, "encrypted"));
	assert_null(m.certs);
	assert_int_equal(tlsa_load_cert(write_file("k.pem", key_pem, strlen(key_pem)), &x, err,
					sizeof(err)), TLSA_EFORMAT);
	assert_null(x);
	assert_int_equal(tlsa_load_key(write_file("c.pem", cert_pem, strlen(cert_pem)), &k, err,
				       sizeof(err)), TLSA_EFORMAT);
	assert_null(k);
}

/* The brief's cross-check: the API's SPKI digest of a fresh RSA key equals what the
 * openssl command line computes from the same public key file. */
static void test_cross_check_openssl_cli(void **state)
{
	EVP_PKEY *k = EVP_RSA_gen(2048), *loaded = NULL;
	char path[128], cmd[512], line[256];
	struct tlsa_rr rr;
	char *got;
	FILE *fp;
	(void)state;
	assert_non_null(k);
	snprintf(path, sizeof(path), "%s/rsa.pub.pem", tmpdir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(PEM_write_PUBKEY(fp, k), 1);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "openssl pkey -pubin -in '%s' -outform DER | sha256sum", path);
	fp = popen(cmd, "r");
	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	assert_int_equal(pclose(fp), 0);
	line[64] = '\0';
	assert_int_equal(tlsa_load_key(path, &loaded, NULL, 0), TLSA_OK);
	assert_int_equal(tlsa_from_pkey(loaded, 3, 1, 1, &rr, NULL, 0), TLSA_OK);
	EVP_PKEY_free(loaded);
	got = rdata(&rr);
	assert_string_equal(got + 6, line);
	free(got);
	tlsa_rr_free(&rr);
	EVP_PKEY_free(k);
}

/* Hostile text: random sequences of record-like tokens and bytes. Whatever comes in, the
 * parser returns a code, leaves out untouched on failure, and on success yields data
 * within bounds whose formatted form parses back to the same record. */
static void test_parse_random(void **state)
{
	static const char *const toks[] = {
		"3", "1", "0", "2", "255", "256", "DANE-EE", "spki", "SHA2-512", "TLSA", "IN", "(",
		")", ";", "\n", " ", "\t", "ab", "cd", "0", "f", "zz", "-1", "_25._tcp.x.", "\x01",
		"\xff", "99999999999", "",
	};
	static const char *const prefixes[] = {
		"", "3 1 1 ", "DANE-TA Cert Full ", "_25._tcp.a. IN TLSA 2 0 2 ",
	};
	unsigned seed = 7;
	char in[512];
	int parsed = 0;
	(void)state;
	for (int round = 0; round < 20000; round++) {
		struct tlsa_rr rr = {0, 0, 0, 0, NULL}, back;
		char err[TLSA_ERRLEN];
		size_t o = strlen(prefixes[round % 4]);
		int n;
		memcpy(in, prefixes[round % 4], o);
		seed = seed * 1103515245u + 12345u;
		n = (int)(seed >> 16) % 12;
		for (int t = 0; t < n; t++) {
			const char *tok;
			seed = seed * 1103515245u + 12345u;
			tok = toks[(seed >> 16) % (sizeof(toks) / sizeof(toks[0]))];
			if (o + strlen(tok) + 2 >= sizeof(in))
				break;
			memcpy(in + o, tok, strlen(tok));
			o += strlen(tok);
			if ((seed >> 8) & 1)
				in[o++] = ' ';
		}
		in[o] = '\0';
		if (tlsa_parse(in, &rr, err, sizeof(err)) != TLSA_OK) {
			assert_null(rr.data);
			assert_true(strlen(err) > 0 && strchr(err, '\n') == NULL);
			continue;
		}
		assert_true(rr.len > 0 && rr.len <= TLSA_DATA_MAX);
		parsed++;
		char *text = rdata(&rr);
		assert_int_equal(tlsa_parse(text, &back, NULL, 0), TLSA_OK);
		assert_true(tlsa_rr_equal(&rr, &back));
		free(text);
		tlsa_rr_free(&back);
		tlsa_rr_free(&rr);
	}
	if (parsed < 500) fail_msg("only %d parsed", parsed);   /* the round trip was exercised, not only the errors */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_cert_known_values),
		cmocka_unit_test(test_from_pkey),
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_length_bound),
		cmocka_unit_test(test_parse_random),
		cmocka_unit_test(test_format_zone_and_helpers),
		cmocka_unit_test(test_load_pem_der),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_cross_check_openssl_cli),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
