/*
 * tlsa: compute, parse, format and copy TLSA records, and load the certificates and keys
 * they are computed from. Everything here is offline data handling on OpenSSL's encoders
 * and digests. It must never decide whether a record matches a peer (OpenSSL's DANE code
 * does that) and never trust a file's name over its content.
 */
#include "dane/tlsa.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include "util/str.h"

static const char *const usage_names[] = {"PKIX-TA", "PKIX-EE", "DANE-TA", "DANE-EE"};
static const char *const selector_names[] = {"Cert", "SPKI"};
static const char *const mtype_names[] = {"Full", "SHA2-256", "SHA2-512"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *tlsa_strerror(int err)
{
	switch (err) {
	case TLSA_OK: return "ok";
	case TLSA_ENOMEM: return "out of memory";
	case TLSA_ESYNTAX: return "syntax error";
	case TLSA_ERANGE: return "value out of range";
	case TLSA_EUNSUPPORTED: return "unsupported";
	case TLSA_ECRYPTO: return "OpenSSL error";
	case TLSA_EFILE: return "cannot read file";
	case TLSA_EFORMAT: return "no certificate or key found";
	}
	return "unknown error";
}


/* The most specific OpenSSL reason on the queue, then the queue is cleared. */
static const char *ossl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r != NULL ? r : "unknown OpenSSL error";
}

const char *tlsa_usage_name(unsigned v)
{
	return v < NELEM(usage_names) ? usage_names[v] : NULL;
}

const char *tlsa_selector_name(unsigned v)
{
	return v < NELEM(selector_names) ? selector_names[v] : NULL;
}

const char *tlsa_mtype_name(unsigned v)
{
	return v < NELEM(mtype_names) ? mtype_names[v] : NULL;
}

/* ---- computing ---------------------------------------------------------------- */

/* Fill out's data with der (mtype 0) or its digest; out owns the result. */
static int digest_into(const unsigned char *der, size_t len, uint8_t mtype,
		       struct tlsa_rr *out, char *err, size_t errlen)
{
	const EVP_MD *md = NULL;
	unsigned char *data;
	unsigned int dlen = 0;

	if (mtype == TLSA_MT_SHA256)
		md = EVP_sha256();
	else if (mtype == TLSA_MT_SHA512)
		md = EVP_sha512();
	else if (mtype != TLSA_MT_FULL)
		return str_err(TLSA_EUNSUPPORTED, err, errlen, "matching type %u is not supported "
			    "(0 Full, 1 SHA2-256, 2 SHA2-512)", mtype);
	if (md == NULL && len > TLSA_DATA_MAX)
		return str_err(TLSA_ERANGE, err, errlen, "%zu bytes do not fit in a TLSA record", len);
	if ((data = malloc(md != NULL ? (size_t)EVP_MAX_MD_SIZE : len)) == NULL)
		return str_err(TLSA_ENOMEM, err, errlen, "out of memory");
	if (md == NULL) {
		memcpy(data, der, len);
		dlen = (unsigned int)len;
	} else if (!EVP_Digest(der, len, data, &dlen, md, NULL)) {
		free(data);
		return str_err(TLSA_ECRYPTO, err, errlen, "digest failed: %s", ossl_reason());
	}
	out->data = data;
	out->len = dlen;
	return TLSA_OK;
}

static int from_der(const unsigned char *der, int derlen, uint8_t usage, uint8_t selector,
		    uint8_t mtype, struct tlsa_rr *out, char *err, size_t errlen)
{
	struct tlsa_rr rr = {usage, selector, mtype, 0, NULL};
	int rc;

	if (derlen <= 0)
		return str_err(TLSA_ECRYPTO, err, errlen, "DER encoding failed: %s", ossl_reason());
	if ((rc = digest_into(der, (size_t)derlen, mtype, &rr, err, errlen)) != TLSA_OK)
		return rc;
	*out = rr;
	return TLSA_OK;
}

int tlsa_from_cert(X509 *cert, uint8_t usage, uint8_t selector, uint8_t mtype,
		   struct tlsa_rr *out, char *err, size_t errlen)
{
	unsigned char *der = NULL;
	int derlen, rc;

	if (cert == NULL)
		return str_err(TLSA_EUNSUPPORTED, err, errlen, "no certificate");
	if (selector == TLSA_SEL_CERT)
		derlen = i2d_X509(cert, &der);
	else if (selector == TLSA_SEL_SPKI)
		derlen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	else
		return str_err(TLSA_EUNSUPPORTED, err, errlen, "selector %u is not supported "
			    "(0 Cert, 1 SPKI)", selector);
	rc = from_der(der, derlen, usage, selector, mtype, out, err, errlen);
	OPENSSL_free(der);
	return rc;
}

int tlsa_from_pkey(EVP_PKEY *pkey, uint8_t usage, uint8_t selector, uint8_t mtype,
		   struct tlsa_rr *out, char *err, size_t errlen)
{
	unsigned char *der = NULL;
	int derlen, rc;

	if (pkey == NULL)
		return str_err(TLSA_EUNSUPPORTED, err, errlen, "no key");
	if (selector != TLSA_SEL_SPKI)
		return str_err(TLSA_EUNSUPPORTED, err, errlen, "selector %u needs a certificate, "
			    "a key gives only selector 1 (SPKI)", selector);
	derlen = i2d_PUBKEY(pkey, &der);   /* the public half, also of a private key */
	rc = from_der(der, derlen, usage, selector, mtype, out, err, errlen);
	OPENSSL_free(der);
	return rc;
}

/* ---- parsing ------------------------------------------------------------------ */

/* Zone-file separators: blanks and the parentheses of a multi-line record. */
static int is_sep(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(' || c == ')';
}

/* Next token of s at *pos into tok (bounded); 0 when there is none. A ';' starts a
 * comment that runs to the end of the line. */
static int next_token(const char *s, size_t *pos, char *tok, size_t toksize, size_t *start)
{
	size_t i = *pos, n = 0;

	for (;;) {
		while (s[i] != '\0' && is_sep((unsigned char)s[i]))
			i++;
		if (s[i] != ';')
			break;
		while (s[i] != '\0' && s[i] != '\n')
			i++;
	}
	if (s[i] == '\0')
		return 0;
	*start = i;
	for (; s[i] != '\0' && !is_sep((unsigned char)s[i]) && s[i] != ';'; i++)
		if (n + 1 < toksize)
			tok[n++] = s[i];
	tok[n] = '\0';
	*pos = i;
	return 1;
}

static int parse_field(const char *tok, const char *what, const char *const *names, size_t nnames,
		       uint8_t *out, char *err, size_t errlen)
{
	size_t i, len = strlen(tok);
	unsigned long v = 0;

	for (i = 0; i < nnames; i++)
		if (strcasecmp(tok, names[i]) == 0) {
			*out = (uint8_t)i;
			return TLSA_OK;
		}
	if (len == 0 || strspn(tok, "0123456789") != len)
		return str_err(TLSA_ESYNTAX, err, errlen, "%s '%.40s' is neither a number 0-255 "
			    "nor a mnemonic", what, tok);
	for (i = 0; i < len && v <= 255; i++)
		v = v * 10 + (unsigned long)(tok[i] - '0');
	if (v > 255)
		return str_err(TLSA_ERANGE, err, errlen, "%s %.40s is out of range 0-255", what, tok);
	*out = (uint8_t)v;
	return TLSA_OK;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode the hex that runs from s to the end, skipping separators and comments. */
static int parse_hex(const char *s, struct tlsa_rr *rr, char *err, size_t errlen)
{
	size_t i, ndigits = 0;
	unsigned char *data;
	int v;

	if ((data = malloc(strlen(s) / 2 + 1)) == NULL)
		return str_err(TLSA_ENOMEM, err, errlen, "out of memory");
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == ';') {
			while (s[i + 1] != '\0' && s[i + 1] != '\n')
				i++;
			continue;
		}
		if (is_sep((unsigned char)s[i]))
			continue;
		if ((v = hexval((unsigned char)s[i])) < 0) {
			free(data);
			return str_err(TLSA_ESYNTAX, err, errlen, "invalid character '%c' in the "
				    "certificate association data", isprint((unsigned char)s[i]) ? s[i] : '?');
		}
		if (ndigits / 2 >= TLSA_DATA_MAX) {
			free(data);
			return str_err(TLSA_ERANGE, err, errlen, "certificate association data longer "
				    "than %d bytes", TLSA_DATA_MAX);
		}
		if (ndigits % 2 == 0)
			data[ndigits / 2] = (unsigned char)(v << 4);
		else
			data[ndigits / 2] |= (unsigned char)v;
		ndigits++;
	}
	if (ndigits == 0 || ndigits % 2 != 0) {
		free(data);
		return str_err(ndigits == 0 ? TLSA_ESYNTAX : TLSA_ERANGE, err, errlen, ndigits == 0 ?
			    "no certificate association data" : "odd number of hex digits (%zu)", ndigits);
	}
	rr->data = data;
	rr->len = ndigits / 2;
	return TLSA_OK;
}

/* Where the rdata starts: after a "TLSA" token when the text is a whole zone line. */
static size_t rdata_start(const char *text)
{
	size_t pos = 0, start = 0;
	char tok[16];
	int ntok = 0;

	/* owner, TTL, class and type: the type token comes within the first five */
	while (ntok++ < 5 && next_token(text, &pos, tok, sizeof(tok), &start))
		if (strcasecmp(tok, "TLSA") == 0)
			return pos;
	return 0;
}

int tlsa_parse(const char *text, struct tlsa_rr *out, char *err, size_t errlen)
{
	static const char *const what[3] = {"usage", "selector", "matching type"};
	static const char *const *const names[3] = {usage_names, selector_names, mtype_names};
	static const size_t nnames[3] = {NELEM(usage_names), NELEM(selector_names), NELEM(mtype_names)};
	struct tlsa_rr rr = {0, 0, 0, 0, NULL};
	uint8_t *fields[3] = {&rr.usage, &rr.selector, &rr.mtype};
	size_t pos, start = 0;
	char tok[64];
	int i, rc;

	if (text == NULL)
		return str_err(TLSA_ESYNTAX, err, errlen, "empty TLSA record");
	pos = rdata_start(text);
	for (i = 0; i < 3; i++) {
		if (!next_token(text, &pos, tok, sizeof(tok), &start))
			return str_err(TLSA_ESYNTAX, err, errlen, i == 0 ? "empty TLSA record" :
				    "TLSA record ends before its %s", what[i]);
		rc = parse_field(tok, what[i], names[i], nnames[i], fields[i], err, errlen);
		if (rc != TLSA_OK)
			return rc;
	}
	if ((rc = parse_hex(text + pos, &rr, err, errlen)) != TLSA_OK)
		return rc;
	*out = rr;
	return TLSA_OK;
}

/* ---- formatting and helpers --------------------------------------------------- */

int tlsa_format_rdata(const struct tlsa_rr *rr, struct buf *out)
{
	static const char hex[] = "0123456789abcdef";
	int rc = buf_printf(out, "%u %u %u ", rr->usage, rr->selector, rr->mtype);

	for (size_t i = 0; rc == BUF_OK && i < rr->len; i++) {
		char two[2] = {hex[rr->data[i] >> 4], hex[rr->data[i] & 15]};
		rc = buf_append(out, two, 2);
	}
	return rc == BUF_OK ? TLSA_OK : rc == BUF_ENOMEM ? TLSA_ENOMEM : TLSA_ERANGE;
}

int tlsa_owner(const char *host, unsigned port, char *dst, size_t dstsize)
{
	size_t hl = host != NULL ? strlen(host) : 0;
	int n;

	if (hl == 0 || strcmp(host, ".") == 0 || port > 65535)
		return TLSA_ERANGE;
	n = snprintf(dst, dstsize, "_%u._tcp.%s%s", port == 0 ? 25 : port, host,
		     host[hl - 1] == '.' ? "" : ".");
	return n < 0 || (size_t)n >= dstsize ? TLSA_ERANGE : TLSA_OK;
}

int tlsa_format_zone(const struct tlsa_rr *rr, const char *host, unsigned port, struct buf *out)
{
	char owner[DNS_NAME_MAX + 16];
	int rc;

	if ((rc = tlsa_owner(host, port, owner, sizeof(owner))) != TLSA_OK)
		return rc;
	if (buf_printf(out, "%s IN TLSA ", owner) != BUF_OK)
		return TLSA_ENOMEM;
	return tlsa_format_rdata(rr, out);
}

int tlsa_rr_len_ok(const struct tlsa_rr *rr)
{
	if (rr->mtype == TLSA_MT_SHA256)
		return rr->len == 32;
	if (rr->mtype == TLSA_MT_SHA512)
		return rr->len == 64;
	return rr->len > 0;
}

int tlsa_rr_equal(const struct tlsa_rr *a, const struct tlsa_rr *b)
{
	return a->usage == b->usage && a->selector == b->selector && a->mtype == b->mtype &&
	       a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int tlsa_rr_copy(struct tlsa_rr *dst, const struct tlsa_rr *src)
{
	struct tlsa_rr c = *src;

	c.data = NULL;
	if (src->len > 0) {
		if ((c.data = malloc(src->len)) == NULL)
			return TLSA_ENOMEM;
		memcpy(c.data, src->data, src->len);
	}
	*dst = c;
	return TLSA_OK;
}

void tlsa_rr_free(struct tlsa_rr *rr)
{
	if (rr == NULL)
		return;
	free(rr->data);
	memset(rr, 0, sizeof(*rr));
}

/* ---- loading ------------------------------------------------------------------ */

void tlsa_material_free(struct tlsa_material *m)
{
	if (m == NULL)
		return;
	sk_X509_pop_free(m->certs, X509_free);
	EVP_PKEY_free(m->pkey);
	memset(m, 0, sizeof(*m));
}

/* Keep the first key only: a file with a key and a certificate is normal, two keys is
 * odd but harmless for computing records. */
static void take_key(struct tlsa_material *m, EVP_PKEY *k, int private)
{
	if (m->pkey != NULL) {
		EVP_PKEY_free(k);
		return;
	}
	m->pkey = k;
	m->pkey_private = private;
}

static int take_cert(struct tlsa_material *m, X509 *x)
{
	if (sk_X509_push(m->certs, x) <= 0) {
		X509_free(x);
		return TLSA_ENOMEM;
	}
	return TLSA_OK;
}

/* Decode one PEM block by its label; unknown labels (parameters...) are skipped. */
static int pem_block(struct tlsa_material *m, const char *label, const char *header,
		     const unsigned char *data, long len, const char *name, char *err, size_t errlen)
{
	const unsigned char *p = data;
	EVP_PKEY *k = NULL;
	X509 *x;

	if (strcmp(label, "ENCRYPTED PRIVATE KEY") == 0 || strstr(header, "ENCRYPTED") != NULL)
		return str_err(TLSA_EUNSUPPORTED, err, errlen, "%s: encrypted private keys are not "
			    "supported", name);
	if (strcmp(label, "CERTIFICATE") == 0 || strcmp(label, "X509 CERTIFICATE") == 0) {
		if ((x = d2i_X509(NULL, &p, len)) == NULL)
			goto bad;
		return take_cert(m, x);
	}
	if (strcmp(label, "TRUSTED CERTIFICATE") == 0) {
		if ((x = d2i_X509_AUX(NULL, &p, len)) == NULL)
			goto bad;
		return take_cert(m, x);
	}
	if (strcmp(label, "PUBLIC KEY") == 0)
		k = d2i_PUBKEY(NULL, &p, len);
	else if (strcmp(label, "RSA PUBLIC KEY") == 0)
		k = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, len);
	else if (strcmp(label, "PRIVATE KEY") == 0 || strcmp(label, "RSA PRIVATE KEY") == 0 ||
		 strcmp(label, "EC PRIVATE KEY") == 0)
		k = d2i_AutoPrivateKey(NULL, &p, len);
	else
		return TLSA_OK;
	if (k == NULL)
		goto bad;
	take_key(m, k, strstr(label, "PRIVATE") != NULL);
	return TLSA_OK;
bad:
	return str_err(TLSA_EFORMAT, err, errlen, "%s: cannot decode the %s block: %s", name,
		    label, ossl_reason());
}

static int load_pem(const unsigned char *data, size_t len, const char *name,
		    struct tlsa_material *m, char *err, size_t errlen)
{
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	char *label = NULL, *header = NULL;
	unsigned char *der = NULL;
	long derlen = 0;
	int rc = TLSA_OK;

	if (bio == NULL)
		return str_err(TLSA_ENOMEM, err, errlen, "out of memory");
	while (rc == TLSA_OK && PEM_read_bio(bio, &label, &header, &der, &derlen) == 1) {
		rc = pem_block(m, label, header, der, derlen, name, err, errlen);
		OPENSSL_free(label);
		OPENSSL_free(header);
		OPENSSL_free(der);
		label = header = NULL;
		der = NULL;
	}
	/* The loop ends on "no start line" after the last block; a damaged block ends it
	 * too, and then we say so rather than silently using half a chain. */
	if (rc == TLSA_OK && ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE)
		rc = str_err(TLSA_EFORMAT, err, errlen, "%s: damaged PEM data: %s", name, ossl_reason());
	ERR_clear_error();
	BIO_free(bio);
	return rc;
}

/* DER: one or more concatenated certificates, or one public key, or one private key. */
static int load_der(const unsigned char *data, size_t len, const char *name,
		    struct tlsa_material *m, char *err, size_t errlen)
{
	const unsigned char *p = data, *end = data + len;
	EVP_PKEY *k;
	X509 *x;
	int rc;

	while (p < end && (x = d2i_X509(NULL, &p, end - p)) != NULL)
		if ((rc = take_cert(m, x)) != TLSA_OK)
			return str_err(rc, err, errlen, "out of memory");
	if (sk_X509_num(m->certs) > 0 && p == end)
		goto ok;
	sk_X509_pop_free(m->certs, X509_free);
	if ((m->certs = sk_X509_new_null()) == NULL)
		return str_err(TLSA_ENOMEM, err, errlen, "out of memory");
	p = data;
	if ((k = d2i_PUBKEY(NULL, &p, (long)len)) != NULL && p == end) {
		take_key(m, k, 0);
		goto ok;
	}
	EVP_PKEY_free(k);
	p = data;
	if ((k = d2i_AutoPrivateKey(NULL, &p, (long)len)) != NULL && p == end) {
		take_key(m, k, 1);
		goto ok;
	}
	EVP_PKEY_free(k);
	ERR_clear_error();
	return str_err(TLSA_EFORMAT, err, errlen, "%s: not a PEM file, nor a DER certificate, "
		    "public key or private key", name);
ok:
	ERR_clear_error();
	return TLSA_OK;
}

int tlsa_load_mem(const unsigned char *data, size_t len, const char *name,
		  struct tlsa_material *m, char *err, size_t errlen)
{
	struct tlsa_material t = {NULL, NULL, 0};
	int rc;

	if (len == 0)
		return str_err(TLSA_EFORMAT, err, errlen, "%s: empty file", name);
	if (len > TLSA_FILE_MAX)
		return str_err(TLSA_ERANGE, err, errlen, "%s: larger than %ld bytes", name, TLSA_FILE_MAX);
	if ((t.certs = sk_X509_new_null()) == NULL)
		return str_err(TLSA_ENOMEM, err, errlen, "out of memory");
	if (memmem(data, len, "-----BEGIN ", 11) != NULL)
		rc = load_pem(data, len, name, &t, err, errlen);
	else
		rc = load_der(data, len, name, &t, err, errlen);
	if (rc == TLSA_OK && sk_X509_num(t.certs) == 0 && t.pkey == NULL)
		rc = str_err(TLSA_EFORMAT, err, errlen, "%s: no certificate or key in the file", name);
	if (rc != TLSA_OK) {
		tlsa_material_free(&t);
		return rc;
	}
	*m = t;
	return TLSA_OK;
}

/* Read a whole regular file of bounded size. */
static int read_file(const char *path, unsigned char **data, size_t *len, char *err, size_t errlen)
{
	unsigned char *d = NULL;
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd, rc = TLSA_OK;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return str_err(TLSA_EFILE, err, errlen, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = str_err(TLSA_EFILE, err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > TLSA_FILE_MAX) {
		rc = str_err(TLSA_ERANGE, err, errlen, "%s: larger than %ld bytes", path, TLSA_FILE_MAX);
		goto out;
	}
	if ((d = malloc((size_t)st.st_size + 1)) == NULL) {
		rc = str_err(TLSA_ENOMEM, err, errlen, "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size && (n = read(fd, d + got, (size_t)st.st_size - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = str_err(TLSA_EFILE, err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		got += (size_t)n;
	}
	*data = d;
	*len = got;
	d = NULL;
out:
	free(d);
	close(fd);
	return rc;
}

int tlsa_load(const char *path, struct tlsa_material *m, char *err, size_t errlen)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int rc;

	if ((rc = read_file(path, &data, &len, err, errlen)) != TLSA_OK)
		return rc;
	rc = tlsa_load_mem(data, len, path, m, err, errlen);
	OPENSSL_cleanse(data, len);   /* it may have held a private key */
	free(data);
	return rc;
}

int tlsa_load_cert(const char *path, X509 **out, char *err, size_t errlen)
{
	struct tlsa_material m;
	int rc;

	if ((rc = tlsa_load(path, &m, err, errlen)) != TLSA_OK)
		return rc;
	if (sk_X509_num(m.certs) == 0)
		rc = str_err(TLSA_EFORMAT, err, errlen, "%s: no certificate in the file", path);
	else
		*out = sk_X509_shift(m.certs);
	tlsa_material_free(&m);
	return rc;
}

int tlsa_load_chain(const char *path, STACK_OF(X509) **out, char *err, size_t errlen)
{
	struct tlsa_material m;
	int rc;

	if ((rc = tlsa_load(path, &m, err, errlen)) != TLSA_OK)
		return rc;
	if (sk_X509_num(m.certs) == 0) {
		rc = str_err(TLSA_EFORMAT, err, errlen, "%s: no certificate in the file", path);
	} else {
		*out = m.certs;
		m.certs = NULL;
	}
	tlsa_material_free(&m);
	return rc;
}

int tlsa_load_key(const char *path, EVP_PKEY **out, char *err, size_t errlen)
{
	struct tlsa_material m;
	int rc;

	if ((rc = tlsa_load(path, &m, err, errlen)) != TLSA_OK)
		return rc;
	if (m.pkey == NULL) {
		rc = str_err(TLSA_EFORMAT, err, errlen, "%s: no key in the file", path);
	} else {
		*out = m.pkey;
		m.pkey = NULL;
	}
	tlsa_material_free(&m);
	return rc;
}
