/* Request heads: the input is a request line and headers (a blank line, then
 * a body, optional), sent with the treasurer's token after the input's own
 * headers to the daemon's own HTTP server and API over a real database
 * (api-harness.h). It fuzzes the router, the path's ids and periods, the
 * query strings of every GET and content negotiation. The daemon replies to
 * anything, and never with a 500. */
#include "api-harness.h"
#include "fuzz.h"

/* Where the head ends: at the first blank line, or the input's end. */
static size_t head_length(const uint8_t *data, size_t size, size_t *ret_body_start)
{
	for (size_t i = 0; i + 1 < size; i++) {
		if (data[i] == '\n' && data[i + 1] == '\n') {
			*ret_body_start = i + 2;
			return i;
		}
		if (i + 3 < size && memcmp(data + i, "\r\n\r\n", 4) == 0) {
			*ret_body_start = i + 4;
			return i;
		}
	}
	*ret_body_start = size;
	return size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t body_start, head_len = head_length(data, size, &body_start), len;
	size_t body_len = size - body_start;
	char *request = malloc(size + 512);
	unsigned status;

	if (!request)
		abort();
	api_harness_start();
	while (head_len > 0 && (data[head_len - 1] == '\r' || data[head_len - 1] == '\n'))
		head_len--;
	memcpy(request, data, head_len);
	len = head_len;
	len += (size_t)snprintf(request + len, 512,
				"\r\n%s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
				api_harness_authorization(), body_len);
	memcpy(request + len, data + body_start, body_len);
	status = api_harness_send(request, len + body_len);
	/* A request refused by libmicrohttpd itself (a request line it cannot
	 * read) may get no reply; one that reaches the API gets one that is
	 * not a 500. */
	fuzz_check(status < 500 || status == 501 || status == 503 || status == 505);
	free(request);
	return 0;
}
