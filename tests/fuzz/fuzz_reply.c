/*
 * fuzz_reply: libFuzzer harness for the SMTP reply parser and the EHLO keyword parser.
 * The input is split into lines at LF (a CR before LF is dropped, as the connection
 * layer does); every reply that completes is formatted and parsed as EHLO. Never built
 * by default: see tests/fuzz/README.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct reply_parser p;
	static struct ehlo e;
	char out[512];
	size_t start = 0;

	reply_parser_init(&p);
	for (size_t i = 0; i <= size; i++) {
		size_t len;
		int r;

		if (i < size && data[i] != '\n')
			continue;
		len = i - start;
		if (len > 0 && data[start + len - 1] == '\r')
			len--;
		r = reply_feed(&p, (const char *)data + start, len);
		if (r == REPLY_DONE) {
			reply_format(&p.reply, out, sizeof(out));
			if (strlen(out) >= sizeof(out))
				abort();
			reply_parse_ehlo(&p.reply, &e);
			ehlo_format(&e, out, sizeof(out));
			if (p.reply.nlines == 0 || p.reply.nlines > REPLY_LINES_MAX)
				abort();
		} else if (r < 0) {
			break;
		}
		start = i + 1;
	}
	return 0;
}
