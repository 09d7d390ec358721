/* CSV replies (RFC 4180): lists of flat rows and single documents as
 * "field,value" rows, for clients that ask for text/csv. */
#include <stdio.h>
#include <string.h>

#include "http-internal.h"

void http_csv_field(FILE *out, const char *text, bool last)
{
	/* A leading = + - @ would make a spreadsheet run the cell as a formula. */
	bool formula = strchr("=+-@", text[0]) != NULL && text[0] != '\0';

	if (formula || strpbrk(text, ",\"\r\n")) {
		fputc('"', out);
		if (formula)
			fputc('\'', out);
		for (const char *c = text; *c; c++) {
			if (*c == '"')
				fputc('"', out);
			fputc(*c, out);
		}
		fputc('"', out);
	} else {
		fputs(text, out);
	}
	fputs(last ? "\r\n" : ",", out);
}

/* Writes a JSON scalar as a CSV field: integers in decimal, null (and what
 * is not a scalar) as an empty field. */
static void csv_value(FILE *out, json_t *value, bool last)
{
	const char *text = "";

	/* A number is never a formula: -500 stays a number. */
	if (json_is_integer(value)) {
		fprintf(out, "%" JSON_INTEGER_FORMAT "%s", json_integer_value(value),
			last ? "\r\n" : ",");
		return;
	}
	if (json_is_string(value))
		text = json_string_value(value);
	else if (json_is_true(value))
		text = "true";
	else if (json_is_false(value))
		text = "false";
	http_csv_field(out, text, last);
}

void http_reply_rows(struct http_request *request, json_t *body, const char *key, json_t *rows,
		     const char *const *columns, size_t n_columns)
{
	char *csv = NULL;
	size_t len = 0, i;
	json_t *row;
	FILE *out;

	if (!http_request_wants_csv(request)) {
		if (!body)
			body = json_object();
		json_object_set_new(body, key, rows);
		http_reply_json(request, 200, body);
		return;
	}
	json_decref(body);
	out = open_memstream(&csv, &len);
	if (!out) {
		json_decref(rows);
		http_reply_problem(request, 503, "out-of-memory", "the server is short of memory");
		return;
	}
	for (size_t c = 0; c < n_columns; c++)
		http_csv_field(out, columns[c], c + 1 == n_columns);
	json_array_foreach(rows, i, row)
	{
		for (size_t c = 0; c < n_columns; c++)
			csv_value(out, json_object_get(row, columns[c]), c + 1 == n_columns);
	}
	fclose(out);
	json_decref(rows);
	http_reply_csv(request, 200, csv, len);
}

/* Writes value as "field,value" rows, its fields named by their path from
 * the document's top: "revenue_by_kind_minor.fixed", "cost_sharing[0].pool_minor". */
static void document_csv_rows(FILE *out, char *path, size_t path_size, json_t *value)
{
	size_t len = strlen(path), i;
	const char *key;
	json_t *member;

	if (json_is_object(value)) {
		json_object_foreach(value, key, member)
		{
			snprintf(path + len, path_size - len, "%s%s", len ? "." : "", key);
			document_csv_rows(out, path, path_size, member);
		}
	} else if (json_is_array(value)) {
		json_array_foreach(value, i, member)
		{
			snprintf(path + len, path_size - len, "[%zu]", i);
			document_csv_rows(out, path, path_size, member);
		}
	} else {
		http_csv_field(out, path, false);
		csv_value(out, value, true);
	}
	path[len] = '\0';
}

void http_reply_document(struct http_request *request, json_t *document)
{
	char *csv = NULL, path[256] = "";
	size_t len = 0;
	FILE *out;

	if (!http_request_wants_csv(request)) {
		http_reply_json(request, 200, document);
		return;
	}
	out = open_memstream(&csv, &len);
	if (!out) {
		json_decref(document);
		http_reply_problem(request, 503, "out-of-memory", "the server is short of memory");
		return;
	}
	fputs("field,value\r\n", out);
	document_csv_rows(out, path, sizeof(path), document);
	fclose(out);
	json_decref(document);
	http_reply_csv(request, 200, csv, len);
}
