/* coopbill-verify: a member's own check of the cooperative's transparency log.
 * It fetches the signed checkpoint, an entry's inclusion proof and the
 * consistency proof from a checkpoint saved earlier, and verifies them with the
 * tlog module against a key the member got from the cooperative, not the server. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "build-config.h"
#include "coopbill/tlog.h"

#define EXIT_FAILED 1
#define EXIT_USAGE  2

/* Limits on what the server may send: no honest answer comes near them. */
#define RESPONSE_SIZE_MAX (1024 * 1024)
#define TIMEOUT_S	  10L
/* How much of a server's problem detail a verdict repeats. */
#define DETAIL_SHOWN_MAX 200
#define WHY_SIZE	 1024
#define ROOT_BASE64_SIZE sodium_base64_ENCODED_LEN(TLOG_HASH_SIZE, sodium_base64_VARIANT_ORIGINAL)

struct options {
	const char *base_url;
	const char *key;
	const char *since_path;
	int64_t entry; /* -1: no --entry */
};

/* One HTTP answer: the body with a NUL after it, which the length leaves out. */
struct response {
	char *body;
	size_t len;
	bool too_large;
};

/* The connection to one log and the reason the last check failed. */
struct session {
	CURL *curl;
	char *base_url; /* without a trailing slash */
	struct tlog_verifier key;
	char why[WHY_SIZE];
	char curl_error[CURL_ERROR_SIZE];
};

/* A checkpoint whose signature verified, and the signed note it came in. */
struct signed_checkpoint {
	struct tlog_checkpoint checkpoint;
	char *note;
	size_t note_len;
};

struct proof {
	uint8_t hashes[TLOG_PROOF_MAX][TLOG_HASH_SIZE];
	size_t len;
};

static int fail(struct session *session, int r, const char *format, ...)
	__attribute__((format(printf, 3, 4)));

/* Records why a check failed, for its verdict, and returns r. */
static int fail(struct session *session, int r, const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	vsnprintf(session->why, sizeof(session->why), format, ap);
	va_end(ap);
	return r;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: coopbill-verify [--entry I] [--since FILE] BASE_URL KEY\n"
		"\n"
		"Checks the cooperative's transparency log: that its checkpoint is signed\n"
		"by KEY, that entry I is in it, and that it extends the checkpoint saved in\n"
		"FILE. KEY is the verifier key line the cooperative published (notice\n"
		"board, members' meeting), like coop.example/log+1a2b3c4d+AWx...\n"
		"\n"
		"  -e, --entry I      check that entry I (from 0) is in the log and print it\n"
		"  -s, --since FILE   check that the log extends the checkpoint saved in FILE,\n"
		"                     then save the new one there (FILE is created if missing\n"
		"                     and left unchanged when a check fails)\n"
		"  -V, --version      print the version and exit\n"
		"  -h, --help         print this help and exit\n"
		"\n"
		"Prints one verdict line per check, OK or FAILED. Exits 0 when all are OK,\n"
		"1 when one FAILED, 2 for a usage error.\n");
}

/* Canonical decimal, as the log numbers its entries. */
static int parse_index(const char *text, int64_t *ret_index)
{
	int64_t index = 0;
	size_t len = strlen(text);

	if (len == 0 || len > 19 || (text[0] == '0' && len > 1))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		int digit = text[i] - '0';

		if (text[i] < '0' || text[i] > '9' || index > (INT64_MAX - digit) / 10)
			return -EINVAL;
		index = index * 10 + digit;
	}
	*ret_index = index;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *ret_options)
{
	static const struct option long_options[] = {
		{ "entry", required_argument, NULL, 'e' },
		{ "since", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct options options = { .entry = -1 };
	int c;

	while ((c = getopt_long(argc, argv, "e:s:Vh", long_options, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (parse_index(optarg, &options.entry) < 0) {
				fprintf(stderr,
					"coopbill-verify: --entry needs an index 0, 1, 2, ..., "
					"not \"%s\"\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 's':
			if (optarg[0] == '\0') {
				fprintf(stderr, "coopbill-verify: --since needs a file name\n");
				return -EINVAL;
			}
			options.since_path = optarg;
			break;
		case 'V':
			printf("coopbill-verify %s\n", COOPBILL_VERSION);
			exit(EXIT_SUCCESS);
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "coopbill-verify: expected BASE_URL and KEY; see --help\n");
		return -EINVAL;
	}
	options.base_url = argv[optind];
	options.key = argv[optind + 1];
	if (strncmp(options.base_url, "http://", 7) != 0 &&
	    strncmp(options.base_url, "https://", 8) != 0) {
		fprintf(stderr, "coopbill-verify: BASE_URL must start with http:// or https://, "
				"like http://192.168.1.1:8080\n");
		return -EINVAL;
	}
	*ret_options = options;
	return 0;
}

/* Copies server-supplied text for a verdict: at most DETAIL_SHOWN_MAX bytes,
 * cut at a character boundary, control characters shown as '?'. */
static void copy_shown(const char *text, char ret_shown[DETAIL_SHOWN_MAX + 4])
{
	size_t len = strnlen(text, DETAIL_SHOWN_MAX + 1);
	bool cut = len > DETAIL_SHOWN_MAX;

	if (cut) {
		len = DETAIL_SHOWN_MAX;
		while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
			len--;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		ret_shown[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (cut) {
		memcpy(ret_shown + len, "...", 3);
		len += 3;
	}
	ret_shown[len] = '\0';
}

static size_t collect(char *chunk, size_t size, size_t n, void *userdata)
{
	struct response *response = userdata;
	size_t len = size * n;
	char *body;

	if (len > RESPONSE_SIZE_MAX - response->len) {
		response->too_large = true;
		return 0;
	}
	body = realloc(response->body, response->len + len + 1);
	if (!body)
		return 0;
	memcpy(body + response->len, chunk, len);
	response->len += len;
	body[response->len] = '\0';
	response->body = body;
	return len;
}

static int session_init(struct session *session, const char *base_url, const char *key)
{
	size_t len = strlen(base_url);
	int r;

	r = tlog_verifier_parse(key, &session->key);
	if (r < 0)
		return r;
	/* The endpoints' paths start with a slash of their own. */
	while (len > 0 && base_url[len - 1] == '/')
		len--;
	session->base_url = strndup(base_url, len);
	if (!session->base_url)
		return -ENOMEM;
	session->curl = curl_easy_init();
	if (!session->curl)
		return -ENOMEM;
	/* A member's check must not hang or follow the server elsewhere. */
	if (curl_easy_setopt(session->curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(session->curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(session->curl, CURLOPT_CONNECTTIMEOUT, TIMEOUT_S) != CURLE_OK ||
	    curl_easy_setopt(session->curl, CURLOPT_TIMEOUT, TIMEOUT_S) != CURLE_OK ||
	    curl_easy_setopt(session->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(session->curl, CURLOPT_MAXFILESIZE_LARGE,
			     (curl_off_t)RESPONSE_SIZE_MAX) != CURLE_OK ||
	    curl_easy_setopt(session->curl, CURLOPT_USERAGENT,
			     "coopbill-verify/" COOPBILL_VERSION) != CURLE_OK ||
	    curl_easy_setopt(session->curl, CURLOPT_ERRORBUFFER, session->curl_error) != CURLE_OK ||
	    curl_easy_setopt(session->curl, CURLOPT_WRITEFUNCTION, collect) != CURLE_OK)
		return -EIO;
	return 0;
}

static void session_done(struct session *session)
{
	curl_easy_cleanup(session->curl);
	free(session->base_url);
}

/* The detail of an RFC 9457 problem document, or a note that there is none. */
static void problem_detail(const struct response *response, char ret_detail[DETAIL_SHOWN_MAX + 4])
{
	json_t *problem = json_loadb(response->body, response->len, 0, NULL);
	json_t *detail = json_object_get(problem, "detail");

	if (json_is_string(detail))
		copy_shown(json_string_value(detail), ret_detail);
	else
		copy_shown("no problem detail", ret_detail);
	json_decref(problem);
}

/* GETs path below the base URL; only a 200 answer is a success. */
static int fetch(struct session *session, const char *path, struct response *ret_response)
{
	struct response response = { .body = NULL };
	char detail[DETAIL_SHOWN_MAX + 4];
	char *url = NULL;
	long status = 0;
	CURLcode code;
	int r;

	if (asprintf(&url, "%s%s", session->base_url, path) < 0) {
		url = NULL;
		r = fail(session, -ENOMEM, "out of memory");
		goto out;
	}
	session->curl_error[0] = '\0';
	if (curl_easy_setopt(session->curl, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(session->curl, CURLOPT_WRITEDATA, &response) != CURLE_OK) {
		r = fail(session, -EIO, "GET %s: cannot set up the request", url);
		goto out;
	}
	code = curl_easy_perform(session->curl);
	if (response.too_large || code == CURLE_FILESIZE_EXCEEDED) {
		r = fail(session, -EFBIG, "GET %s: the answer exceeds the limit of %d bytes", url,
			 RESPONSE_SIZE_MAX);
		goto out;
	}
	if (code != CURLE_OK) {
		r = fail(session, -EIO, "GET %s: %s", url,
			 session->curl_error[0] ? session->curl_error : curl_easy_strerror(code));
		goto out;
	}
	if (!response.body) {
		response.body = calloc(1, 1);
		if (!response.body) {
			r = fail(session, -ENOMEM, "out of memory");
			goto out;
		}
	}
	curl_easy_getinfo(session->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 400) {
		problem_detail(&response, detail);
		r = fail(session, -EIO, "GET %s: HTTP %ld: %s", url, status, detail);
		goto out;
	}
	if (status >= 300 && status < 400) {
		r = fail(session, -EIO, "GET %s: HTTP %ld, a redirect, which is not followed", url,
			 status);
		goto out;
	}
	if (status != 200) {
		r = fail(session, -EIO, "GET %s: HTTP %ld where 200 was expected", url, status);
		goto out;
	}
	*ret_response = response;
	response.body = NULL;
	r = 0;
out:
	free(response.body);
	free(url);
	return r;
}

/* Verifies a signed note with the trusted key and reads the checkpoint in it.
 * source names the note in the reason for a failure. */
static int open_checkpoint(struct session *session, const char *note, size_t note_len,
			   const char *source, struct tlog_checkpoint *ret_checkpoint)
{
	static const uint8_t empty_root[TLOG_HASH_SIZE] = {
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
		0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
		0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
	};
	struct tlog_checkpoint checkpoint;
	char *text = NULL;
	size_t text_len;
	int r;

	r = tlog_note_open(note, note_len, &session->key, &text, &text_len);
	if (r == -ENOKEY) {
		r = fail(session, r, "%s has no signature by the key %s+%08" PRIx32, source,
			 session->key.name, session->key.key_id);
		goto out;
	}
	if (r == -EKEYREJECTED) {
		r = fail(session, r,
			 "%s has a signature by %s that does not verify: "
			 "it was altered or not signed by the cooperative's key",
			 source, session->key.name);
		goto out;
	}
	if (r == -EBADMSG) {
		r = fail(session, r, "%s is not a well-formed signed note", source);
		goto out;
	}
	if (r < 0) {
		r = fail(session, r, "%s: %s", source, strerror(-r));
		goto out;
	}
	r = tlog_checkpoint_parse(text, text_len, &checkpoint);
	if (r < 0) {
		r = fail(session, r, "%s is signed but is not a checkpoint", source);
		goto out;
	}
	if (strcmp(checkpoint.origin, session->key.name) != 0) {
		r = fail(session, -EBADMSG, "%s is for the log \"%s\", not \"%s\"", source,
			 checkpoint.origin, session->key.name);
		goto out;
	}
	/* RFC 6962 §2.1: the empty tree has one root; a signed other one is a lie. */
	if (checkpoint.size == 0 && memcmp(checkpoint.root, empty_root, TLOG_HASH_SIZE) != 0) {
		r = fail(session, -EBADMSG, "%s has size 0 but not the empty tree's root", source);
		goto out;
	}
	*ret_checkpoint = checkpoint;
	r = 0;
out:
	free(text);
	return r;
}

static int verify_checkpoint(struct session *session, struct signed_checkpoint *ret_latest)
{
	struct response response = { .body = NULL };
	struct tlog_checkpoint checkpoint;
	int r;

	r = fetch(session, "/api/v1/log/checkpoint", &response);
	if (r < 0)
		goto out;
	r = open_checkpoint(session, response.body, response.len, "the server's checkpoint",
			    &checkpoint);
	if (r < 0)
		goto out;
	ret_latest->checkpoint = checkpoint;
	ret_latest->note = response.body;
	ret_latest->note_len = response.len;
	response.body = NULL;
out:
	free(response.body);
	return r;
}

/* A hash as the JSON documents carry it: canonical base64 of 32 bytes. */
static int decode_hash(json_t *value, uint8_t ret_hash[TLOG_HASH_SIZE])
{
	uint8_t hash[TLOG_HASH_SIZE];
	size_t len;

	if (!json_is_string(value) ||
	    tlog_base64_decode(json_string_value(value), json_string_length(value), hash,
			       sizeof(hash), &len) < 0 ||
	    len != TLOG_HASH_SIZE)
		return -EBADMSG;
	memcpy(ret_hash, hash, TLOG_HASH_SIZE);
	return 0;
}

/* Parses a proof document and checks that it answers the question asked:
 * the two numbers under first_name and second_name, and a list of hashes. */
static int parse_proof(struct session *session, const struct response *response,
		       const char *first_name, int64_t first, const char *second_name,
		       int64_t second, uint8_t ret_leaf_hash[TLOG_HASH_SIZE],
		       struct proof *ret_proof)
{
	json_t *document, *hashes;
	size_t i;
	int r;

	document = json_loadb(response->body, response->len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(document)) {
		r = fail(session, -EBADMSG, "the proof is not a JSON object");
		goto out;
	}
	if (!json_is_integer(json_object_get(document, first_name)) ||
	    json_integer_value(json_object_get(document, first_name)) != first ||
	    !json_is_integer(json_object_get(document, second_name)) ||
	    json_integer_value(json_object_get(document, second_name)) != second) {
		r = fail(session, -EBADMSG,
			 "the server sent a proof for another question than %s %" PRId64
			 ", %s %" PRId64,
			 first_name, first, second_name, second);
		goto out;
	}
	if (ret_leaf_hash &&
	    decode_hash(json_object_get(document, "leaf_hash"), ret_leaf_hash) < 0) {
		r = fail(session, -EBADMSG, "the proof's leaf_hash is not base64 of 32 bytes");
		goto out;
	}
	hashes = json_object_get(document, "proof");
	if (!json_is_array(hashes) || json_array_size(hashes) > TLOG_PROOF_MAX) {
		r = fail(session, -EBADMSG, "the proof is not a list of at most %d hashes",
			 TLOG_PROOF_MAX);
		goto out;
	}
	for (i = 0; i < json_array_size(hashes); i++) {
		if (decode_hash(json_array_get(hashes, i), ret_proof->hashes[i]) < 0) {
			r = fail(session, -EBADMSG,
				 "hash %zu of the proof is not base64 of 32 bytes", i);
			goto out;
		}
	}
	ret_proof->len = json_array_size(hashes);
	r = 0;
out:
	json_decref(document);
	return r;
}

/* Fetches entry index and proves it is in the checkpoint's tree, from its
 * own bytes: the server's leaf hash is only compared, never trusted. */
static int verify_entry(struct session *session, const struct tlog_checkpoint *checkpoint,
			int64_t index, struct response *ret_entry)
{
	struct response entry = { .body = NULL }, response = { .body = NULL };
	uint8_t leaf_hash[TLOG_HASH_SIZE], server_leaf_hash[TLOG_HASH_SIZE];
	struct proof *proof = NULL;
	char path[128];
	int r;

	if (index >= checkpoint->size) {
		r = fail(session, -ERANGE,
			 "the checkpoint's log has %" PRId64 " entries, so no entry %" PRId64,
			 checkpoint->size, index);
		goto out;
	}
	proof = malloc(sizeof(*proof));
	if (!proof) {
		r = fail(session, -ENOMEM, "out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "/api/v1/log/entries/%" PRId64, index);
	r = fetch(session, path, &entry);
	if (r < 0)
		goto out;
	snprintf(path, sizeof(path), "/api/v1/log/proof/inclusion?index=%" PRId64 "&size=%" PRId64,
		 index, checkpoint->size);
	r = fetch(session, path, &response);
	if (r < 0)
		goto out;
	r = parse_proof(session, &response, "index", index, "size", checkpoint->size,
			server_leaf_hash, proof);
	if (r < 0)
		goto out;
	tlog_record_hash(entry.body, entry.len, leaf_hash);
	if (memcmp(leaf_hash, server_leaf_hash, TLOG_HASH_SIZE) != 0) {
		r = fail(session, -EBADMSG,
			 "the entry's bytes do not hash to the leaf hash the server gives for it");
		goto out;
	}
	r = tlog_check_record((const uint8_t(*)[TLOG_HASH_SIZE])proof->hashes, proof->len,
			      checkpoint->size, checkpoint->root, index, leaf_hash);
	if (r < 0) {
		r = fail(session, r,
			 "the inclusion proof does not lead to the checkpoint's root: the entry "
			 "is not in the log that was signed");
		goto out;
	}
	*ret_entry = entry;
	entry.body = NULL;
out:
	free(response.body);
	free(entry.body);
	free(proof);
	return r;
}

/* Reads the checkpoint saved in path; -ENOENT when there is none yet. */
static int load_saved(struct session *session, const char *path, struct tlog_checkpoint *ret_saved)
{
	char *note = NULL;
	struct stat st;
	size_t len = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = fail(session, -errno, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		r = fail(session, -errno, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = fail(session, -EINVAL, "%s is not a regular file", path);
		goto out;
	}
	if (st.st_size > TLOG_NOTE_SIZE_MAX) {
		r = fail(session, -EFBIG, "%s is larger than a checkpoint can be (%d bytes)", path,
			 TLOG_NOTE_SIZE_MAX);
		goto out;
	}
	note = malloc((size_t)st.st_size + 1);
	if (!note) {
		r = fail(session, -ENOMEM, "out of memory");
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, note + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = fail(session, n < 0 ? -errno : -EIO, "cannot read %s: %s", path,
				 n < 0 ? strerror(errno) : "it shrank while being read");
			goto out;
		}
		len += (size_t)n;
	}
	r = open_checkpoint(session, note, len, "the checkpoint saved earlier", ret_saved);
out:
	if (fd >= 0)
		close(fd);
	free(note);
	return r;
}

/* Checks that the latest checkpoint's log extends the saved one's. */
static int verify_consistency(struct session *session, const struct tlog_checkpoint *saved,
			      const struct tlog_checkpoint *latest)
{
	struct response response = { .body = NULL };
	struct proof *proof = NULL;
	char path[128];
	int r;

	if (latest->size < saved->size) {
		r = fail(session, -EBADMSG,
			 "history was rewritten: the log shrank from %" PRId64 " to %" PRId64
			 " entries",
			 saved->size, latest->size);
		goto out;
	}
	if (latest->size == saved->size) {
		r = memcmp(latest->root, saved->root, TLOG_HASH_SIZE) == 0 ? 0 : -EBADMSG;
		if (r < 0)
			fail(session, r,
			     "history was rewritten: two different logs of %" PRId64 " entries",
			     latest->size);
		goto out;
	}
	/* Every log extends the empty one: there is nothing to prove. */
	if (saved->size == 0) {
		r = 0;
		goto out;
	}
	proof = malloc(sizeof(*proof));
	if (!proof) {
		r = fail(session, -ENOMEM, "out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "/api/v1/log/proof/consistency?from=%" PRId64 "&to=%" PRId64,
		 saved->size, latest->size);
	r = fetch(session, path, &response);
	if (r < 0)
		goto out;
	r = parse_proof(session, &response, "from", saved->size, "to", latest->size, NULL, proof);
	if (r < 0)
		goto out;
	r = tlog_check_tree((const uint8_t(*)[TLOG_HASH_SIZE])proof->hashes, proof->len,
			    latest->size, latest->root, saved->size, saved->root);
	if (r < 0)
		fail(session, r,
		     "history was rewritten: the consistency proof does not show the log of "
		     "%" PRId64 " entries extending the saved one of %" PRId64,
		     latest->size, saved->size);
out:
	free(response.body);
	free(proof);
	return r;
}

/* Replaces path with the note, atomically: a reader sees the old or the new. */
static int save_note(struct session *session, const char *path, const char *note, size_t len)
{
	char *temp_path = NULL;
	int fd = -1, r;

	if (asprintf(&temp_path, "%s.XXXXXX", path) < 0) {
		temp_path = NULL;
		r = fail(session, -ENOMEM, "out of memory");
		goto out;
	}
	fd = mkostemp(temp_path, O_CLOEXEC);
	if (fd < 0) {
		r = fail(session, -errno, "cannot create a temporary file beside %s: %s", path,
			 strerror(errno));
		free(temp_path);
		temp_path = NULL;
		goto out;
	}
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, note + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = fail(session, -errno, "cannot write %s: %s", temp_path,
				 strerror(errno));
			goto out;
		}
		done += (size_t)n;
	}
	if (fsync(fd) < 0) {
		r = fail(session, -errno, "cannot write %s: %s", temp_path, strerror(errno));
		goto out;
	}
	r = close(fd);
	fd = -1;
	if (r < 0) {
		r = fail(session, -errno, "cannot write %s: %s", temp_path, strerror(errno));
		goto out;
	}
	if (rename(temp_path, path) < 0) {
		r = fail(session, -errno, "cannot rename %s to %s: %s", temp_path, path,
			 strerror(errno));
		goto out;
	}
	free(temp_path);
	temp_path = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (temp_path) {
		unlink(temp_path);
		free(temp_path);
	}
	return r;
}

/* Prints an entry indented under its verdict, control characters escaped so
 * that an entry cannot play tricks on the member's terminal. */
static void print_entry(const char *text, size_t len)
{
	bool line_start = true;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (line_start)
			fputs("    ", stdout);
		line_start = c == '\n';
		if (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f))
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	if (!line_start)
		putchar('\n');
}

static bool run_entry(struct session *session, const struct signed_checkpoint *latest,
		      int64_t index)
{
	struct response entry = { .body = NULL };

	if (!latest) {
		printf("entry %" PRId64 " FAILED: the server's checkpoint did not verify, so "
		       "there is nothing to check the entry against\n",
		       index);
		return false;
	}
	if (verify_entry(session, &latest->checkpoint, index, &entry) < 0) {
		printf("entry %" PRId64 " FAILED: %s\n", index, session->why);
		return false;
	}
	printf("entry %" PRId64 " OK: included in the checkpoint of size %" PRId64 "\n", index,
	       latest->checkpoint.size);
	print_entry(entry.body, entry.len);
	free(entry.body);
	return true;
}

static bool run_since(struct session *session, const struct signed_checkpoint *latest,
		      const char *path)
{
	struct tlog_checkpoint saved;
	int r;

	r = load_saved(session, path, &saved);
	if (r < 0 && r != -ENOENT) {
		printf("consistent FAILED: %s; %s is left as it was\n", session->why, path);
		return false;
	}
	if (!latest) {
		printf("consistent FAILED: the server's checkpoint did not verify; %s %s\n", path,
		       r == -ENOENT ? "is not created" : "is left as it was");
		return false;
	}
	if (r == -ENOENT) {
		if (save_note(session, path, latest->note, latest->note_len) < 0) {
			printf("saved FAILED: no earlier checkpoint in %s, and saving one failed: "
			       "%s\n",
			       path, session->why);
			return false;
		}
		printf("saved: no earlier checkpoint in %s; saved size %" PRId64 "\n", path,
		       latest->checkpoint.size);
		return true;
	}
	if (verify_consistency(session, &saved, &latest->checkpoint) < 0) {
		printf("consistent FAILED: %s; %s is left as it was\n", session->why, path);
		return false;
	}
	printf("consistent OK: size %" PRId64 " → %" PRId64 "\n", saved.size,
	       latest->checkpoint.size);
	if (save_note(session, path, latest->note, latest->note_len) < 0) {
		printf("saved FAILED: %s\n", session->why);
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	struct signed_checkpoint latest = { .note = NULL };
	struct session session = { .curl = NULL };
	char root64[ROOT_BASE64_SIZE];
	struct options options;
	bool ok, have_latest;
	int r;

	if (parse_options(argc, argv, &options) < 0)
		return EXIT_USAGE;
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "coopbill-verify: cannot initialise libsodium or libcurl\n");
		return EXIT_FAILED;
	}
	r = session_init(&session, options.base_url, options.key);
	if (r == -EINVAL || r == -EOPNOTSUPP) {
		fprintf(stderr,
			"coopbill-verify: KEY is not a verifier key line like "
			"coop.example/log+1a2b3c4d+AWx...: %s\n",
			r == -EOPNOTSUPP ? "not an Ed25519 key" : "malformed or wrong key ID");
		session_done(&session);
		curl_global_cleanup();
		return EXIT_USAGE;
	}
	if (r < 0) {
		fprintf(stderr, "coopbill-verify: cannot set up: %s\n", strerror(-r));
		session_done(&session);
		curl_global_cleanup();
		return EXIT_FAILED;
	}

	have_latest = verify_checkpoint(&session, &latest) == 0;
	if (have_latest) {
		sodium_bin2base64(root64, sizeof(root64), latest.checkpoint.root, TLOG_HASH_SIZE,
				  sodium_base64_VARIANT_ORIGINAL);
		printf("checkpoint OK: %s size %" PRId64 " root %s\n", latest.checkpoint.origin,
		       latest.checkpoint.size, root64);
	} else {
		printf("checkpoint FAILED: %s\n", session.why);
	}
	ok = have_latest;
	if (options.entry >= 0)
		ok &= run_entry(&session, have_latest ? &latest : NULL, options.entry);
	if (options.since_path)
		ok &= run_since(&session, have_latest ? &latest : NULL, options.since_path);

	free(latest.note);
	session_done(&session);
	curl_global_cleanup();
	if (fflush(stdout) != 0)
		return EXIT_FAILED;
	return ok ? EXIT_SUCCESS : EXIT_FAILED;
}
