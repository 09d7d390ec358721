/* The transparency log, public: the latest signed checkpoint, the verifier
 * key, entries by index, and inclusion and consistency proofs against any
 * size up to the latest checkpoint's. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api-internal.h"
#include "coopbill/ledger.h"
#include "coopbill/store.h"
#include "coopbill/tlog.h"

/* The latest checkpoint's size: what every index and size is checked against. */
static int log_size(struct api *api, struct http_request *request, int64_t *ret_size)
{
	uint8_t root[TLOG_HASH_SIZE];
	char *note;
	int r;

	r = store_tlog_checkpoint_latest(api->ledger.store, ret_size, root, &note);
	if (r < 0) {
		api_reply_store_error(request, r, "reading the log's checkpoint");
		return r;
	}
	free(note);
	return 0;
}

/* Reads a query parameter in [min, max]; replies 400 naming the range. */
static int query_in_range(struct http_request *request, const char *name, int64_t min, int64_t max,
			  int64_t fallback, int64_t *ret_value)
{
	const char *text = http_request_query(request, name);

	if (!text && fallback >= 0) {
		*ret_value = fallback;
		return 0;
	}
	if (api_parse_count(text, ret_value) < 0 || *ret_value < min || *ret_value > max) {
		if (min > max)
			http_reply_problem(request, 400, "invalid-log-range",
					   "%s must be from %" PRId64 " to %" PRId64
					   ", and the log is too small for that yet",
					   name, min, max);
		else
			http_reply_problem(request, 400, "invalid-log-range",
					   "%s must be a whole number from %" PRId64 " to %" PRId64,
					   name, min, max);
		return -EINVAL;
	}
	return 0;
}

static json_t *hash_json(const uint8_t hash[TLOG_HASH_SIZE])
{
	char text[sodium_base64_ENCODED_LEN(TLOG_HASH_SIZE, sodium_base64_VARIANT_ORIGINAL)];

	sodium_bin2base64(text, sizeof(text), hash, TLOG_HASH_SIZE, sodium_base64_VARIANT_ORIGINAL);
	return json_string(text);
}

static json_t *hashes_json(uint8_t (*hashes)[TLOG_HASH_SIZE], size_t n)
{
	json_t *list = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, hash_json(hashes[i]));
	return list;
}

static void reply_text(struct http_request *request, char *text, size_t len)
{
	http_reply_text(request, 200, "text/plain; charset=utf-8", text, len);
}

void api_tlog_checkpoint(struct api *api, struct http_request *request, const struct api_call *call)
{
	int64_t size;
	char *note;
	int r;

	r = ledger_tlog_checkpoint_latest(api->ledger.tlog, &size, &note);
	if (r < 0) {
		api_reply_store_error(request, r, "publishing the log's checkpoint");
		return;
	}
	reply_text(request, note, strlen(note));
}

void api_tlog_key(struct api *api, struct http_request *request, const struct api_call *call)
{
	char *text = NULL;

	if (asprintf(&text, "%s\n", ledger_tlog_verifier_key(api->ledger.tlog)) < 0) {
		http_reply_problem(request, 503, "out-of-memory", "short of memory");
		return;
	}
	reply_text(request, text, strlen(text));
}

void api_tlog_entry(struct api *api, struct http_request *request, const struct api_call *call)
{
	int64_t size, index;
	char *entry;
	size_t len;
	int r;

	if (log_size(api, request, &size) < 0)
		return;
	if (api_parse_count(call->params.values[0], &index) < 0 || index >= size) {
		http_reply_problem(request, 400, "invalid-log-range",
				   "the entry index must be a whole number from 0 to %" PRId64,
				   size - 1);
		return;
	}
	r = store_tlog_entry_get(api->ledger.store, index, &entry, &len);
	if (r < 0) {
		api_reply_store_error(request, r, "reading the log entry");
		return;
	}
	reply_text(request, entry, len);
}

static int inclusion_json(struct api *api, int64_t size, int64_t index, json_t **ret_proof)
{
	uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_SIZE], leaf[1][TLOG_HASH_SIZE];
	int64_t leaf_index = tlog_stored_hash_index(0, index);
	size_t len;
	int r;

	r = tlog_prove_record(size, index, store_tlog_hashes_read, api->ledger.store, proof, &len);
	if (r == 0)
		r = store_tlog_hashes_read(api->ledger.store, &leaf_index, 1, leaf);
	if (r < 0)
		return r;
	*ret_proof = json_pack("{s:I, s:I, s:o, s:o}", "index", (json_int_t)index, "size",
			       (json_int_t)size, "leaf_hash", hash_json(leaf[0]), "proof",
			       hashes_json(proof, len));
	return 0;
}

int api_tlog_inclusion_proof(struct api *api, int64_t index, json_t **ret_proof)
{
	int64_t size;
	char *note, *entry;
	size_t len;
	json_t *proof;
	int r;

	r = ledger_tlog_checkpoint_latest(api->ledger.tlog, &size, &note);
	if (r < 0)
		return r;
	r = inclusion_json(api, size, index, &proof);
	if (r == 0)
		r = store_tlog_entry_get(api->ledger.store, index, &entry, &len);
	if (r < 0) {
		free(note);
		return r;
	}
	json_object_set_new(proof, "entry", json_stringn(entry, len));
	json_object_set_new(proof, "checkpoint", json_string(note));
	free(entry);
	free(note);
	*ret_proof = proof;
	return 0;
}

void api_tlog_inclusion(struct api *api, struct http_request *request, const struct api_call *call)
{
	int64_t latest, size, index;
	json_t *proof;
	int r;

	if (log_size(api, request, &latest) < 0 ||
	    query_in_range(request, "size", 1, latest, latest, &size) < 0 ||
	    query_in_range(request, "index", 0, size - 1, -1, &index) < 0)
		return;
	r = inclusion_json(api, size, index, &proof);
	if (r < 0) {
		api_reply_store_error(request, r, "making the inclusion proof");
		return;
	}
	http_reply_json(request, 200, proof);
}

void api_tlog_consistency(struct api *api, struct http_request *request,
			  const struct api_call *call)
{
	uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_SIZE];
	int64_t latest, from, to;
	size_t len;
	int r;

	if (log_size(api, request, &latest) < 0 ||
	    query_in_range(request, "to", 1, latest, latest, &to) < 0 ||
	    query_in_range(request, "from", 1, to, -1, &from) < 0)
		return;
	r = tlog_prove_tree(to, from, store_tlog_hashes_read, api->ledger.store, proof, &len);
	if (r < 0) {
		api_reply_store_error(request, r, "making the consistency proof");
		return;
	}
	http_reply_json(request, 200,
			json_pack("{s:I, s:I, s:o}", "from", (json_int_t)from, "to", (json_int_t)to,
				  "proof", hashes_json(proof, len)));
}
