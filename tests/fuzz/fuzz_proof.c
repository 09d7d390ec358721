/* Proof documents as a server sends them to coopbill-verify, inclusion
 * ({"index", "size", "leaf_hash", "proof"}) or consistency ({"from", "to",
 * "proof"}), read by parse_proof() and checked by tlog_check_record() or
 * tlog_check_tree() against the roots the input names ("root", and
 * "old_root" for the saved checkpoint): refused or accepted without a fault.
 * The input is also read as a problem document, as the detail a failed
 * request shows. */
#include "fuzz.h"
#include "verify-source.h"

/* A number of the document, for the question parse_proof() is asked. */
static int64_t document_number(json_t *document, const char *key)
{
	return json_integer_value(json_object_get(document, key));
}

static void document_root(json_t *document, const char *key, uint8_t ret_root[TLOG_HASH_SIZE])
{
	if (decode_hash(json_object_get(document, key), ret_root) < 0)
		memset(ret_root, 0, TLOG_HASH_SIZE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct session session;
	struct response response = { .body = fuzz_text(data, size), .len = size };
	uint8_t leaf_hash[TLOG_HASH_SIZE], root[TLOG_HASH_SIZE], old_root[TLOG_HASH_SIZE];
	char detail[DETAIL_SHOWN_MAX + 4];
	struct proof *proof = malloc(sizeof(*proof));
	json_t *document = json_loadb(response.body, size, 0, NULL);
	int64_t first, second;

	if (!proof)
		abort();
	document_root(document, "root", root);
	document_root(document, "old_root", old_root);
	if (json_object_get(document, "index")) {
		first = document_number(document, "index");
		second = document_number(document, "size");
		if (parse_proof(&session, &response, "index", first, "size", second, leaf_hash,
				proof) == 0)
			tlog_check_record((const uint8_t(*)[TLOG_HASH_SIZE])proof->hashes,
					  proof->len, second, root, first, leaf_hash);
	} else {
		first = document_number(document, "from");
		second = document_number(document, "to");
		if (parse_proof(&session, &response, "from", first, "to", second, NULL, proof) == 0)
			tlog_check_tree((const uint8_t(*)[TLOG_HASH_SIZE])proof->hashes, proof->len,
					second, root, first, old_root);
	}
	problem_detail(&response, detail);
	fuzz_check(strlen(detail) <= DETAIL_SHOWN_MAX + 3);
	json_decref(document);
	free(proof);
	free(response.body);
	return 0;
}
