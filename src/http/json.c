/* Request bodies as JSON: one object, duplicate keys rejected, and a 400 reply
 * that says where the document is broken; its keys unpacked strictly, with
 * what is wrong said in the project's words. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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

static const char *const json_type_names[] = {
	[HTTP_JSON_STRING] = "a string",  [HTTP_JSON_INTEGER] = "an integer",
	[HTTP_JSON_ARRAY] = "an array",	  [HTTP_JSON_INTEGER_OR_NULL] = "an integer or null",
	[HTTP_JSON_OBJECT] = "an object",
};

static bool json_type_matches(enum http_json_type type, const json_t *value)
{
	switch (type) {
	case HTTP_JSON_STRING:
		return json_is_string(value);
	case HTTP_JSON_INTEGER:
		return json_is_integer(value);
	case HTTP_JSON_ARRAY:
		return json_is_array(value);
	case HTTP_JSON_INTEGER_OR_NULL:
		return json_is_integer(value) || json_is_null(value);
	case HTTP_JSON_OBJECT:
		return json_is_object(value);
	}
	return false;
}

static const struct http_json_field *json_field_find(const struct http_json_field *fields,
						     size_t n_fields, const char *key)
{
	for (size_t i = 0; i < n_fields; i++)
		if (strcmp(fields[i].key, key) == 0)
			return &fields[i];
	return NULL;
}

int http_json_unpack(json_t *object, const struct http_json_field *fields, size_t n_fields,
		     char *ret_reason, size_t reason_size)
{
	const char *key;
	json_t *value;

	if (!json_is_object(object)) {
		snprintf(ret_reason, reason_size, "not a JSON object");
		return -EINVAL;
	}
	/* An unknown key first: it is often a misspelt one that is missing. */
	json_object_foreach(object, key, value)
	{
		if (!json_field_find(fields, n_fields, key)) {
			snprintf(ret_reason, reason_size, "unknown key %s", key);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < n_fields; i++) {
		value = json_object_get(object, fields[i].key);
		if (!value && !fields[i].optional) {
			snprintf(ret_reason, reason_size, "%s is missing", fields[i].key);
			return -EINVAL;
		}
		if (value && !json_type_matches(fields[i].type, value)) {
			snprintf(ret_reason, reason_size, "%s must be %s", fields[i].key,
				 json_type_names[fields[i].type]);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < n_fields; i++) {
		value = json_object_get(object, fields[i].key);
		if (!value)
			continue;
		switch (fields[i].type) {
		case HTTP_JSON_STRING:
			*(const char **)fields[i].ret = json_string_value(value);
			break;
		case HTTP_JSON_INTEGER:
			*(json_int_t *)fields[i].ret = json_integer_value(value);
			break;
		case HTTP_JSON_ARRAY:
		case HTTP_JSON_INTEGER_OR_NULL:
		case HTTP_JSON_OBJECT:
			*(json_t **)fields[i].ret = value;
			break;
		}
	}
	return 0;
}
