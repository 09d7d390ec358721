/* Request bodies as JSON: one object, duplicate keys rejected, and a 400 reply
 * that says where the document is broken. */
#include <errno.h>

#include "coopbill/http.h"

int http_request_json(struct http_request *request, json_t **ret_body)
{
	json_error_t error;
	const char *body;
	json_t *value;
	size_t len;

	body = http_request_body(request, &len);
	if (len == 0) {
		http_reply_problem(request, 400, "invalid-json",
				   "the request needs a JSON object as its body");
		return -EINVAL;
	}
	value = json_loadb(body, len, JSON_REJECT_DUPLICATES, &error);
	if (!value) {
		http_reply_problem(request, 400, "invalid-json",
				   "the body is not valid JSON: %s (line %d, column %d)",
				   error.text, error.line, error.column);
		return -EINVAL;
	}
	if (!json_is_object(value)) {
		json_decref(value);
		http_reply_problem(request, 400, "invalid-json",
				   "the body must be a JSON object, like {\"name\": \"...\"}");
		return -EINVAL;
	}
	*ret_body = value;
	return 0;
}
