/* The transparency log on top of the store: key handling, appending entries
 * with their stored hashes and a signed checkpoint, verification at open, the
 * record of the largest checkpoint published (which a restore does not roll
 * back), and the canonical entries of each kind. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "coopbill/config.h"
#include "coopbill/ledger.h"
#include "coopbill/store.h"
#include "coopbill/tlog.h"

#define ENTRY_MAX 65536
/* Recently stored hashes, direct-mapped by index: appending record n reads
 * the hashes of the complete subtrees to its left, mostly written lately. */
#define HASH_CACHE_SIZE 4096
/* The hashes an append writes at a time: the entries' before them are read
 * from the cache until they are written, so the cache must hold them all. */
#define APPEND_HASHES_MAX 1024

struct cached_hash {
	int64_t index; /* -1: empty */
	uint8_t hash[TLOG_HASH_SIZE];
};

struct ledger_tlog {
	struct store *store;
	struct cached_hash cache[HASH_CACHE_SIZE];
	/* The checkpoint this daemon's last append signed (size -1: none, or
	 * it failed). An append that finds another latest checkpoint forgets
	 * the cache: another gateway appended (PostgreSQL), perhaps at indexes
	 * whose hashes this daemon cached for an append it then rolled back. */
	int64_t size_appended;
	uint8_t root_appended[TLOG_HASH_SIZE];
	struct tlog_signer signer;
	char verifier_key[TLOG_VERIFIER_KEY_TEXT_MAX];
	char *problem;
	/* The largest checkpoint published (-1: none yet), kept in a file
	 * beside the database that a restore leaves alone; behind_published
	 * when the log was restored to before it. */
	char published_path[PATH_MAX];
	int64_t published_size;
	uint8_t published_root[TLOG_HASH_SIZE];
	bool behind_published;
	/* What entries are stamped with: the wall clock, unless a test hands
	 * another. */
	int64_t (*clock_s)(void);
};

static int64_t wall_clock_s(void)
{
	return (int64_t)time(NULL);
}

static void errbuf_set(char *errbuf, size_t len, const char *format, ...)
	__attribute__((format(printf, 3, 4)));

static void errbuf_set(char *errbuf, size_t len, const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	vsnprintf(errbuf, len, format, ap);
	va_end(ap);
}

int ledger_tlog_key_path(const struct config *config, char *ret_path, size_t len)
{
	const char *slash;

	if (config->log_key_file[0])
		return snprintf(ret_path, len, "%s", config->log_key_file) < (int)len
			       ? 0
			       : -ENAMETOOLONG;
	slash = strrchr(config->database_path, '/');
	if (!slash)
		return snprintf(ret_path, len, "log.key") < (int)len ? 0 : -ENAMETOOLONG;
	return snprintf(ret_path, len, "%.*s/log.key", (int)(slash - config->database_path),
			config->database_path) < (int)len
		       ? 0
		       : -ENAMETOOLONG;
}

/* Reads the signing key in path; -ENOENT (and errbuf unset) when there is none. */
static int key_load(struct tlog_signer *ret_signer, const char *path, const char *origin,
		    char *errbuf, size_t errbuf_len)
{
	char text[TLOG_SIGNER_KEY_TEXT_MAX + 2];
	ssize_t len;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return -ENOENT;
	if (fd < 0) {
		errbuf_set(errbuf, errbuf_len, "cannot open the log key %s: %m", path);
		return -errno;
	}
	len = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (len < 0) {
		errbuf_set(errbuf, errbuf_len, "cannot read the log key %s: %m", path);
		return -errno;
	}
	text[len] = '\0';
	text[strcspn(text, "\n")] = '\0';
	r = tlog_signer_parse(text, ret_signer);
	sodium_memzero(text, sizeof(text));
	if (r < 0) {
		errbuf_set(errbuf, errbuf_len, "%s is not a log signing key", path);
		return r;
	}
	if (strcmp(ret_signer->verifier.name, origin) != 0) {
		errbuf_set(errbuf, errbuf_len,
			   "the log key %s is named %s but [log] origin is %s; the origin "
			   "cannot change once members verify the log",
			   path, ret_signer->verifier.name, origin);
		return -EINVAL;
	}
	return 0;
}

/* A key is made only for a log that has none yet: a new key beside an
 * existing log would sign nothing that members could check against the
 * checkpoints they hold, so a missing key there is an error that names it. */
static int key_load_or_create(struct ledger_tlog *tlog, const struct config *config,
			      bool log_exists, char *errbuf, size_t errbuf_len)
{
	char path[PATH_MAX], text[TLOG_SIGNER_KEY_TEXT_MAX + 2];
	ssize_t len;
	int fd, r;

	r = ledger_tlog_key_path(config, path, sizeof(path));
	if (r < 0) {
		errbuf_set(errbuf, errbuf_len, "the log key's path is too long");
		return r;
	}
	r = key_load(&tlog->signer, path, config->log_origin, errbuf, errbuf_len);
	if (r != -ENOENT)
		return r;
	if (log_exists) {
		errbuf_set(errbuf, errbuf_len,
			   "the log key %s is missing, but the database's transparency log is "
			   "signed with it; restore that file from the backup (a new key would "
			   "break the log that members verify)",
			   path);
		return -ENOENT;
	}

	r = tlog_signer_generate(config->log_origin, &tlog->signer);
	if (r == 0)
		r = tlog_signer_format(&tlog->signer, text);
	if (r < 0) {
		errbuf_set(errbuf, errbuf_len, "cannot make a log key named %s",
			   config->log_origin);
		return r;
	}
	strcat(text, "\n");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		sodium_memzero(text, sizeof(text));
		errbuf_set(errbuf, errbuf_len, "cannot create the log key %s: %m", path);
		return -errno;
	}
	len = write(fd, text, strlen(text));
	r = len == (ssize_t)strlen(text) && fsync(fd) == 0 ? 0 : -EIO;
	close(fd);
	sodium_memzero(text, sizeof(text));
	if (r < 0) {
		unlink(path);
		errbuf_set(errbuf, errbuf_len, "cannot write the log key %s", path);
	}
	return r;
}

static void cache_clear(struct ledger_tlog *tlog)
{
	for (size_t i = 0; i < HASH_CACHE_SIZE; i++)
		tlog->cache[i].index = -1;
}

/* Forgets hashes at or past `from`: written by a transaction that was rolled
 * back after this module's part succeeded. */
static void cache_drop_from(struct ledger_tlog *tlog, int64_t from)
{
	for (size_t i = 0; i < HASH_CACHE_SIZE; i++)
		if (tlog->cache[i].index >= from)
			tlog->cache[i].index = -1;
}

static void cache_put(struct ledger_tlog *tlog, int64_t index, const uint8_t hash[TLOG_HASH_SIZE])
{
	struct cached_hash *slot = &tlog->cache[index % HASH_CACHE_SIZE];

	slot->index = index;
	memcpy(slot->hash, hash, TLOG_HASH_SIZE);
}

/* A tlog_hash_reader: the cache first, then the database. */
static int ledger_tlog_hashes_read(void *ctx, const int64_t *indexes, size_t n_indexes,
				   uint8_t (*ret_hashes)[TLOG_HASH_SIZE])
{
	struct ledger_tlog *tlog = ctx;
	int r;

	for (size_t i = 0; i < n_indexes; i++) {
		const struct cached_hash *slot = &tlog->cache[indexes[i] % HASH_CACHE_SIZE];

		if (slot->index == indexes[i]) {
			memcpy(ret_hashes[i], slot->hash, TLOG_HASH_SIZE);
			continue;
		}
		r = store_tlog_hashes_read(tlog->store, &indexes[i], 1, &ret_hashes[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Signs and stores the checkpoint of the first `size` records; its root in
 * ret_root (may be NULL). */
static int checkpoint_sign(struct ledger_tlog *tlog, int64_t size, uint8_t *ret_root)
{
	struct tlog_checkpoint checkpoint = { .size = size };
	char text[TLOG_CHECKPOINT_TEXT_MAX], *note = NULL;
	size_t text_len, note_len;
	int r;

	snprintf(checkpoint.origin, sizeof(checkpoint.origin), "%s", tlog->signer.verifier.name);
	r = tlog_tree_hash(size, ledger_tlog_hashes_read, tlog, checkpoint.root);
	if (r == 0)
		r = tlog_checkpoint_format(&checkpoint, text, &text_len);
	if (r == 0)
		r = tlog_note_sign(text, text_len, &tlog->signer, &note, &note_len);
	if (r == 0)
		r = store_tlog_checkpoint_put(tlog->store, size, checkpoint.root, note);
	free(note);
	if (r == 0 && ret_root)
		memcpy(ret_root, checkpoint.root, TLOG_HASH_SIZE);
	return r;
}

struct verify_state {
	struct ledger_tlog *tlog;
	int64_t next_index;
	int64_t bad_index;
};

/* Recomputes an entry's stored hashes from its bytes and the hashes before
 * it (already checked) and compares them with what is stored. */
static int verify_entry(int64_t index, const void *entry, size_t len, void *data)
{
	uint8_t computed[TLOG_STORED_HASHES_MAX][TLOG_HASH_SIZE], stored[TLOG_HASH_SIZE];
	struct verify_state *state = data;
	struct ledger_tlog *tlog = state->tlog;
	int64_t first = tlog_stored_hash_index(0, index);
	size_t count;
	int r;

	/* A missing row is an edit too. */
	if (index != state->next_index) {
		state->bad_index = state->next_index;
		return -EBADMSG;
	}
	state->next_index++;
	/* Earlier hashes, checked already, mostly come from the cache. */
	r = tlog_stored_hashes(index, entry, len, ledger_tlog_hashes_read, tlog, computed, &count);
	for (size_t i = 0; r == 0 && i < count; i++) {
		int64_t at = first + (int64_t)i;

		r = store_tlog_hashes_read(tlog->store, &at, 1, &stored);
		if (r == 0 && sodium_memcmp(stored, computed[i], TLOG_HASH_SIZE) != 0)
			r = -EBADMSG;
		if (r == 0)
			cache_put(tlog, at, stored);
	}
	if (r < 0)
		state->bad_index = index;
	return r;
}

static int problem_set(struct ledger_tlog *tlog, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

static int problem_set(struct ledger_tlog *tlog, const char *format, ...)
{
	va_list ap;
	int r;

	va_start(ap, format);
	r = vasprintf(&tlog->problem, format, ap);
	va_end(ap);
	if (r < 0) {
		tlog->problem = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int ledger_tlog_verify(struct ledger_tlog *tlog)
{
	struct verify_state state = { .tlog = tlog, .bad_index = -1 };
	uint8_t checkpoint_root[TLOG_HASH_SIZE], root[TLOG_HASH_SIZE];
	int64_t checkpoint_size, size;
	char *note = NULL, *text = NULL;
	size_t text_len;
	int r;

	r = store_tlog_checkpoint_latest(tlog->store, &checkpoint_size, checkpoint_root, &note);
	if (r < 0)
		return r;
	r = tlog_note_open(note, strlen(note), &tlog->signer.verifier, &text, &text_len);
	free(text);
	free(note);
	if (r < 0) {
		r = problem_set(tlog,
				"the latest checkpoint (size %" PRId64 ") is not signed by "
				"the log key; restore the database and its key from a backup",
				checkpoint_size);
		goto out;
	}
	r = store_tlog_size(tlog->store, &size);
	if (r < 0)
		goto out;
	if (size != checkpoint_size) {
		r = problem_set(tlog,
				"the log has %" PRId64 " entries but its latest signed checkpoint "
				"covers %" PRId64
				"; the database was edited or the storage is corrupt; restore the "
				"database from a backup",
				size, checkpoint_size);
		goto out;
	}
	r = store_tlog_entries_each(tlog->store, verify_entry, &state);
	if (r == -EBADMSG || r == -ENOENT || state.bad_index >= 0) {
		r = problem_set(tlog,
				"log entry %" PRId64
				" does not match its stored hash; the database "
				"was edited or the storage is corrupt; restore the database "
				"from a backup",
				state.bad_index);
		goto out;
	}
	if (r < 0)
		goto out;
	r = tlog_tree_hash(size, store_tlog_hashes_read, tlog->store, root);
	if (r == 0 && sodium_memcmp(root, checkpoint_root, TLOG_HASH_SIZE) != 0)
		r = problem_set(tlog,
				"the log's root hash differs from its latest signed checkpoint "
				"(size %" PRId64
				"); the database was edited or the storage is corrupt; restore the "
				"database from a backup",
				size);
out:
	return r;
}

int ledger_tlog_published_path(const struct config *config, char *ret_path, size_t len)
{
	return snprintf(ret_path, len, "%s.published", config->database_path) < (int)len
		       ? 0
		       : -ENAMETOOLONG;
}

/* Reads the largest checkpoint published, if any, and checks it against the
 * log: a log restored to before it, or that differs from it, may not sign
 * again (that would sign a size twice, with two roots). */
static int published_check(struct ledger_tlog *tlog, int64_t size)
{
	/* A checkpoint note with the box's one signature. */
	char note[8192], *text = NULL;
	struct tlog_checkpoint checkpoint;
	uint8_t root[TLOG_HASH_SIZE];
	size_t text_len;
	ssize_t len;
	int fd, r;

	fd = open(tlog->published_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	len = read(fd, note, sizeof(note) - 1);
	close(fd);
	if (len < 0)
		return -errno;
	note[len] = '\0';
	r = tlog_note_open(note, (size_t)len, &tlog->signer.verifier, &text, &text_len);
	if (r == 0)
		r = tlog_checkpoint_parse(text, text_len, &checkpoint);
	free(text);
	if (r < 0)
		return problem_set(tlog,
				   "%s, the record of the largest checkpoint this box published, "
				   "is not a checkpoint signed by the log key; put back the one "
				   "the box wrote, or delete it if the storage damaged it",
				   tlog->published_path);
	tlog->published_size = checkpoint.size;
	memcpy(tlog->published_root, checkpoint.root, TLOG_HASH_SIZE);
	if (size < checkpoint.size) {
		tlog->behind_published = true;
		return problem_set(tlog,
				   "the log has %" PRId64 " entries, but this box already "
				   "published a checkpoint of %" PRId64 " (the database was "
				   "restored from an older backup); signing now would sign sizes "
				   "it has signed before with other roots, so the log refuses "
				   "new entries until the loss is recorded with coopbilld log "
				   "record-loss",
				   size, checkpoint.size);
	}
	r = tlog_tree_hash(checkpoint.size, store_tlog_hashes_read, tlog->store, root);
	if (r == 0 && sodium_memcmp(root, checkpoint.root, TLOG_HASH_SIZE) != 0) {
		tlog->behind_published = true;
		return problem_set(tlog,
				   "the log's first %" PRId64 " entries differ from the checkpoint "
				   "of that size this box published (the database was restored "
				   "from another log's backup); the log refuses new entries "
				   "until the loss is recorded with coopbilld log record-loss",
				   checkpoint.size);
	}
	return r;
}

/* Records note (the checkpoint of `size`) as published: written and synced
 * before anyone may see it, by replacing the file whole. */
static int published_write(struct ledger_tlog *tlog, int64_t size,
			   const uint8_t root[TLOG_HASH_SIZE], const char *note)
{
	char tmp[PATH_MAX + 8], folder[PATH_MAX];
	size_t len = strlen(note);
	const char *slash;
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.new", tlog->published_path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = write(fd, note, len) == (ssize_t)len ? 0 : -(errno ? errno : EIO);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && rename(tmp, tlog->published_path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	slash = strrchr(tlog->published_path, '/');
	snprintf(folder, sizeof(folder), "%.*s", slash ? (int)(slash - tlog->published_path) : 1,
		 slash ? tlog->published_path : ".");
	fd = open(folder[0] ? folder : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (fsync(fd) < 0)
			r = -errno;
		close(fd);
	}
	if (r < 0)
		return r;
	tlog->published_size = size;
	memcpy(tlog->published_root, root, TLOG_HASH_SIZE);
	return 0;
}

int ledger_tlog_checkpoint_latest(struct ledger_tlog *tlog, int64_t *ret_size, char **ret_note)
{
	uint8_t root[TLOG_HASH_SIZE];
	char *note = NULL;
	int64_t size;
	int r;

	r = store_tlog_checkpoint_latest(tlog->store, &size, root, &note);
	if (r == 0 && size > tlog->published_size)
		r = published_write(tlog, size, root, note);
	if (r < 0) {
		free(note);
		return r;
	}
	*ret_size = size;
	*ret_note = note;
	return 0;
}

/* Appends the meter gaps recorded while the log did not verify. */
static int ledger_tlog_log_unlogged_gaps(struct ledger_tlog *tlog)
{
	struct store_gap *gaps = NULL;
	size_t n_gaps = 0;
	int r;

	r = store_begin(tlog->store);
	if (r < 0)
		return r;
	r = store_gaps_unlogged(tlog->store, &gaps, &n_gaps);
	if (r == 0 && n_gaps > 0)
		r = ledger_tlog_log_gaps(tlog, gaps, n_gaps);
	if (r == 0 && n_gaps > 0)
		r = store_gaps_unlogged_clear(tlog->store);
	if (r == 0)
		r = store_commit(tlog->store);
	else
		store_rollback(tlog->store);
	free(gaps);
	return r;
}

static int tlog_new(struct store *store, struct ledger_tlog **ret_tlog)
{
	struct ledger_tlog *tlog;

	if (sodium_init() < 0)
		return -EIO;
	tlog = calloc(1, sizeof(*tlog));
	if (!tlog)
		return -ENOMEM;
	tlog->store = store;
	tlog->clock_s = wall_clock_s;
	tlog->published_size = -1;
	tlog->size_appended = -1;
	cache_clear(tlog);
	*ret_tlog = tlog;
	return 0;
}

int ledger_tlog_open(struct store *store, const struct config *config,
		     struct ledger_tlog **ret_tlog, char *errbuf, size_t errbuf_len)
{
	struct ledger_tlog *tlog;
	uint8_t root[TLOG_HASH_SIZE];
	int64_t size;
	char *note = NULL;
	bool log_exists;
	int r;

	r = tlog_new(store, &tlog);
	if (r < 0)
		return r;
	r = ledger_tlog_published_path(config, tlog->published_path, sizeof(tlog->published_path));
	if (r < 0) {
		errbuf_set(errbuf, errbuf_len, "the database's path is too long");
		goto out;
	}
	r = store_tlog_checkpoint_latest(store, &size, root, &note);
	free(note);
	log_exists = r == 0;
	if (r == 0 || r == -ENOENT) {
		r = key_load_or_create(tlog, config, log_exists, errbuf, errbuf_len);
		if (r < 0)
			goto out;
		r = tlog_verifier_format(&tlog->signer.verifier, tlog->verifier_key);
		if (r < 0)
			goto out;
	}
	if (r == 0 && !log_exists) {
		/* The log is live from the first start: an empty tree, signed. */
		r = store_begin(store);
		if (r == 0)
			r = checkpoint_sign(tlog, 0, NULL);
		if (r == 0)
			r = store_commit(store);
		else
			store_rollback(store);
	}
	if (r == 0)
		r = ledger_tlog_verify(tlog);
	if (r == 0 && !tlog->problem) {
		r = store_tlog_size(store, &size);
		if (r == 0)
			r = published_check(tlog, size);
	}
	if (r == 0 && !tlog->problem)
		r = ledger_tlog_log_unlogged_gaps(tlog);
	if (r < 0)
		errbuf_set(errbuf, errbuf_len, "cannot read the transparency log: %s",
			   strerror(-r));
out:
	if (r < 0) {
		ledger_tlog_free(tlog);
		return r;
	}
	*ret_tlog = tlog;
	return 0;
}

void ledger_tlog_free(struct ledger_tlog *tlog)
{
	if (!tlog)
		return;
	tlog_signer_wipe(&tlog->signer);
	free(tlog->problem);
	free(tlog);
}

const char *ledger_tlog_problem(const struct ledger_tlog *tlog)
{
	return tlog->problem;
}

const char *ledger_tlog_verifier_key(const struct ledger_tlog *tlog)
{
	return tlog->verifier_key;
}

/* Writes the entries [from, to) of an append that starts at index size,
 * and the hashes they stored, which start with the first's. */
static int append_write(struct ledger_tlog *tlog, int64_t size, const char *const *entries,
			size_t from, size_t to, const uint8_t (*hashes)[TLOG_HASH_SIZE],
			size_t n_hashes)
{
	int r;

	r = store_tlog_entries_put(tlog->store, size + (int64_t)from, entries + from, to - from);
	if (r == 0)
		r = store_tlog_hashes_put(tlog->store,
					  tlog_stored_hash_index(0, size + (int64_t)from), hashes,
					  n_hashes);
	return r;
}

int ledger_tlog_append(struct ledger_tlog *tlog, const char *const *entries, size_t n_entries,
		       int64_t *ret_first_index)
{
	uint8_t(*hashes)[TLOG_HASH_SIZE] = NULL, root[TLOG_HASH_SIZE];
	char *note = NULL;
	int64_t size;
	size_t count, n_hashes = 0, written = 0;
	int r;

	if (tlog->problem)
		return -EBADMSG;
	r = store_tlog_checkpoint_latest(tlog->store, &size, root, &note);
	free(note);
	if (r == 0)
		r = store_tlog_size(tlog->store, &size);
	if (r < 0)
		return r;
	if (size != tlog->size_appended || memcmp(root, tlog->root_appended, TLOG_HASH_SIZE) != 0)
		cache_clear(tlog);
	tlog->size_appended = -1;
	hashes = malloc(APPEND_HASHES_MAX * sizeof(*hashes));
	if (!hashes)
		return -ENOMEM;
	for (size_t i = 0; i < n_entries; i++) {
		int64_t index = size + (int64_t)i;
		size_t len = strlen(entries[i]);

		if (len == 0 || len > ENTRY_MAX || entries[i][len - 1] != '\n') {
			r = -EINVAL;
			goto fail;
		}
		if (n_hashes + TLOG_STORED_HASHES_MAX > APPEND_HASHES_MAX) {
			r = append_write(tlog, size, entries, written, i, hashes, n_hashes);
			if (r < 0)
				goto fail;
			written = i;
			n_hashes = 0;
		}
		r = tlog_stored_hashes(index, entries[i], len, ledger_tlog_hashes_read, tlog,
				       hashes + n_hashes, &count);
		if (r < 0)
			goto fail;
		for (size_t k = 0; k < count; k++)
			cache_put(tlog, tlog_stored_hash_index(0, index) + (int64_t)k,
				  hashes[n_hashes + k]);
		n_hashes += count;
	}
	r = append_write(tlog, size, entries, written, n_entries, hashes, n_hashes);
	if (r == 0)
		r = checkpoint_sign(tlog, size + (int64_t)n_entries, tlog->root_appended);
	if (r < 0)
		goto fail;
	free(hashes);
	tlog->size_appended = size + (int64_t)n_entries;
	if (ret_first_index)
		*ret_first_index = size;
	return 0;
fail:
	free(hashes);
	/* The caller rolls back: what this call cached never happened. */
	cache_drop_from(tlog, tlog_stored_hash_index(0, size));
	return r;
}

int ledger_tlog_record_loss(struct ledger_tlog *tlog, int64_t *ret_size, int64_t *ret_published)
{
	char b64[sodium_base64_ENCODED_LEN(TLOG_HASH_SIZE, sodium_base64_VARIANT_ORIGINAL)];
	char **entries = NULL, fields[160], *problem = tlog->problem, *note = NULL;
	uint8_t root[TLOG_HASH_SIZE];
	int64_t size, n = 0, new_size;
	int r;

	if (!tlog->behind_published)
		return -EALREADY;
	r = store_begin(tlog->store);
	if (r < 0)
		return r;
	r = store_tlog_size(tlog->store, &size);
	if (r < 0)
		goto out;
	/* One entry for each index lost, then one that says why: the next
	 * checkpoint is past every size this box has signed. */
	n = (size < tlog->published_size ? tlog->published_size - size : 0) + 1;
	entries = calloc((size_t)n, sizeof(*entries));
	if (!entries) {
		r = -ENOMEM;
		goto out;
	}
	for (int64_t i = 0; r == 0 && i < n - 1; i++) {
		snprintf(fields, sizeof(fields), "index %" PRId64 "\n", size + i);
		r = ledger_tlog_entry_new(tlog, "entry-lost", 0, fields, &entries[i]);
	}
	sodium_bin2base64(b64, sizeof(b64), tlog->published_root, TLOG_HASH_SIZE,
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(fields, sizeof(fields),
		 "restored_size %" PRId64 "\npublished_size %" PRId64 "\npublished_root %s\n", size,
		 tlog->published_size, b64);
	if (r == 0)
		r = ledger_tlog_entry_new(tlog, "log-restored", 0, fields, &entries[n - 1]);
	tlog->problem = NULL;
	if (r == 0)
		r = ledger_tlog_append(tlog, (const char *const *)entries, (size_t)n, NULL);
	/* Published before it commits: a crash in between leaves a record
	 * ahead of the log, which this command then records again. */
	if (r == 0)
		r = store_tlog_checkpoint_latest(tlog->store, &new_size, root, &note);
	if (r == 0)
		r = published_write(tlog, new_size, root, note);
	if (r == 0)
		r = store_commit(tlog->store);
out:
	for (int64_t i = 0; entries && i < n; i++)
		free(entries[i]);
	free(entries);
	free(note);
	if (r < 0) {
		store_rollback(tlog->store);
		cache_clear(tlog);
		tlog->problem = problem;
		return r;
	}
	free(problem);
	tlog->behind_published = false;
	*ret_size = size;
	*ret_published = new_size;
	return 0;
}

int ledger_tlog_check_copy(struct store *store, const char *key_path, const char *origin,
			   int64_t *ret_size, char *errbuf, size_t errbuf_len)
{
	struct ledger_tlog *tlog;
	int64_t size;
	int r;

	r = tlog_new(store, &tlog);
	if (r < 0)
		return r;
	errbuf_set(errbuf, errbuf_len, "%s", "");
	r = key_load(&tlog->signer, key_path, origin, errbuf, errbuf_len);
	if (r == -ENOENT)
		errbuf_set(errbuf, errbuf_len, "the log key %s is missing", key_path);
	else if (r == 0)
		r = ledger_tlog_verify(tlog);
	if (r == -ENOENT && !errbuf[0])
		errbuf_set(errbuf, errbuf_len, "it holds no transparency log");
	if (r == 0 && tlog->problem) {
		errbuf_set(errbuf, errbuf_len, "its transparency log does not verify: %s",
			   tlog->problem);
		r = -EBADMSG;
	}
	if (r == 0)
		r = store_tlog_size(store, &size);
	if (r < 0 && !errbuf[0])
		errbuf_set(errbuf, errbuf_len, "cannot read its transparency log: %s",
			   strerror(-r));
	if (r == 0)
		*ret_size = size;
	ledger_tlog_free(tlog);
	return r;
}

static void hex(const uint8_t *bytes, size_t len, char *ret_hex)
{
	sodium_bin2hex(ret_hex, len * 2 + 1, bytes, len);
}

/* The salts of households (ids ascending, each once), read in one query;
 * those that have none are given one, stored in a few statements. Salt i is
 * household_ids[i]'s. */
static int salts_get(struct ledger_tlog *tlog, const int64_t *household_ids, size_t n,
		     uint8_t (*ret_salts)[32])
{
	struct store_household_salt *stored = NULL, *made;
	size_t n_stored = 0, n_made = 0, s = 0;
	int r;

	made = calloc(n, sizeof(*made));
	if (!made)
		return -ENOMEM;
	r = store_household_salts_get(tlog->store, household_ids[0], household_ids[n - 1], &stored,
				      &n_stored);
	for (size_t i = 0; r == 0 && i < n; i++) {
		while (s < n_stored && stored[s].household_id < household_ids[i])
			s++;
		if (s < n_stored && stored[s].household_id == household_ids[i]) {
			memcpy(ret_salts[i], stored[s].salt, sizeof(ret_salts[i]));
			continue;
		}
		made[n_made].household_id = household_ids[i];
		randombytes_buf(made[n_made].salt, sizeof(made[n_made].salt));
		memcpy(ret_salts[i], made[n_made++].salt, sizeof(ret_salts[i]));
	}
	if (r == 0)
		r = store_household_salts_put(tlog->store, made, n_made);
	if (stored)
		sodium_memzero(stored, n_stored * sizeof(*stored));
	sodium_memzero(made, n * sizeof(*made));
	free(stored);
	free(made);
	return r;
}

static void commitment_make(int64_t household_id, const uint8_t salt[32], char ret_commitment[65])
{
	uint8_t commitment[32];
	char id[24];

	snprintf(id, sizeof(id), "%" PRId64, household_id);
	crypto_generichash(commitment, sizeof(commitment), (const uint8_t *)id, strlen(id), salt,
			   32);
	hex(commitment, sizeof(commitment), ret_commitment);
}

int ledger_tlog_household_commitment(struct ledger_tlog *tlog, int64_t household_id,
				     char ret_commitment[65], char ret_salt[65])
{
	uint8_t salt[1][32];
	int r;

	r = salts_get(tlog, &household_id, 1, salt);
	if (r < 0)
		return r;
	commitment_make(household_id, salt[0], ret_commitment);
	if (ret_salt)
		hex(salt[0], sizeof(salt[0]), ret_salt);
	sodium_memzero(salt, sizeof(salt));
	return 0;
}

/* An entry with its household line ("" for none). */
static int entry_format(struct ledger_tlog *tlog, const char *type, const char *household,
			const char *fields, char **ret_entry)
{
	char *entry;

	if (asprintf(&entry, "%s\n%s%stime %lld\n", type, household, fields ? fields : "",
		     (long long)tlog->clock_s()) < 0)
		return -ENOMEM;
	*ret_entry = entry;
	return 0;
}

/* "household <commitment>\n" of a household with its salt. */
static void household_line_make(int64_t household_id, const uint8_t salt[32], char ret_line[80])
{
	char commitment[65];

	commitment_make(household_id, salt, commitment);
	snprintf(ret_line, 80, "household %s\n", commitment);
}

/* "household <commitment>\n", or "" for no household (household_id 0). */
static int household_line(struct ledger_tlog *tlog, int64_t household_id, char ret_line[80])
{
	uint8_t salt[1][32];
	int r;

	ret_line[0] = '\0';
	if (household_id <= 0)
		return 0;
	r = salts_get(tlog, &household_id, 1, salt);
	if (r == 0)
		household_line_make(household_id, salt[0], ret_line);
	sodium_memzero(salt, sizeof(salt));
	return r;
}

int ledger_tlog_entry_new(struct ledger_tlog *tlog, const char *type, int64_t household_id,
			  const char *fields, char **ret_entry)
{
	char household[80];
	int r;

	r = household_line(tlog, household_id, household);
	if (r < 0)
		return r;
	return entry_format(tlog, type, household, fields, ret_entry);
}

int ledger_tlog_entries_new(struct ledger_tlog *tlog, const char *type,
			    const int64_t *household_ids, const char *const *fields, size_t n,
			    char **ret_entries)
{
	char household[80];
	uint8_t(*salts)[32];
	size_t made = 0;
	int r;

	if (n == 0)
		return 0;
	salts = calloc(n, sizeof(*salts));
	if (!salts)
		return -ENOMEM;
	r = salts_get(tlog, household_ids, n, salts);
	while (r == 0 && made < n) {
		household_line_make(household_ids[made], salts[made], household);
		r = entry_format(tlog, type, household, fields[made], &ret_entries[made]);
		if (r == 0)
			made++;
	}
	sodium_memzero(salts, n * sizeof(*salts));
	free(salts);
	for (size_t i = 0; r < 0 && i < made; i++)
		free(ret_entries[i]);
	return r;
}

void ledger_tlog_clock_set(struct ledger_tlog *tlog, int64_t (*clock_s)(void))
{
	tlog->clock_s = clock_s;
}

int ledger_tlog_log(struct ledger_tlog *tlog, const char *type, int64_t household_id,
		    const char *fields, int64_t *ret_index)
{
	char *entry;
	int r;

	r = ledger_tlog_entry_new(tlog, type, household_id, fields, &entry);
	if (r < 0)
		return r;
	r = ledger_tlog_append(tlog, (const char *const *)&entry, 1, ret_index);
	free(entry);
	return r;
}

int ledger_tlog_sign(struct ledger_tlog *tlog, const char *text, size_t len, char **ret_signature)
{
	char *note, *signature;
	size_t note_len;
	int r;

	r = tlog_note_sign(text, len, &tlog->signer, &note, &note_len);
	if (r < 0)
		return r;
	/* The note is the text, a blank line, then the signature line. */
	signature = strndup(note + len + 1, note_len - len - 2);
	free(note);
	if (!signature)
		return -ENOMEM;
	*ret_signature = signature;
	return 0;
}

int ledger_tlog_log_household(struct ledger_tlog *tlog, const char *type,
			      const struct household *household)
{
	char fields[256], left_at[32] = "", tariff[40] = "";

	if (household->left_at[0])
		snprintf(left_at, sizeof(left_at), "left_at %s\n", household->left_at);
	if (household->tariff_id)
		snprintf(tariff, sizeof(tariff), "tariff %lld\n", (long long)household->tariff_id);
	snprintf(fields, sizeof(fields), "status %s\njoined_at %s\n%saddresses %zu\n%sgateway %s\n",
		 household->status == HOUSEHOLD_ACTIVE ? "active" : "closed", household->joined_at,
		 left_at, household->n_addresses, tariff, household->gateway);
	return ledger_tlog_log(tlog, type, household->id, fields, NULL);
}

/* A token-issued or token-revoked entry: the token's role, then its
 * household's commitment (member tokens), then the time. */
static int token_entry(struct ledger_tlog *tlog, const char *type, const char *role,
		       int64_t household_id, char **ret_entry)
{
	char household[80];
	int r;

	r = household_line(tlog, household_id, household);
	if (r < 0)
		return r;
	if (asprintf(ret_entry, "%s\nrole %s\n%stime %lld\n", type, role, household,
		     (long long)tlog->clock_s()) < 0) {
		*ret_entry = NULL;
		return -ENOMEM;
	}
	return 0;
}

int ledger_tlog_log_token(struct ledger_tlog *tlog, const char *role, int64_t household_id)
{
	char *entry = NULL;
	int r;

	r = token_entry(tlog, "token-issued", role, household_id, &entry);
	if (r == 0)
		r = ledger_tlog_append(tlog, (const char *const *)&entry, 1, NULL);
	free(entry);
	return r;
}

int ledger_tlog_log_tokens_revoked(struct ledger_tlog *tlog, const struct store_token *tokens,
				   size_t n_tokens)
{
	char **entries = calloc(n_tokens ? n_tokens : 1, sizeof(*entries));
	int r = entries ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < n_tokens; i++)
		r = token_entry(tlog, "token-revoked", tokens[i].role, tokens[i].household_id,
				&entries[i]);
	if (r == 0 && n_tokens > 0)
		r = ledger_tlog_append(tlog, (const char *const *)entries, n_tokens, NULL);
	for (size_t i = 0; entries && i < n_tokens; i++)
		free(entries[i]);
	free(entries);
	return r;
}

int ledger_tlog_log_gaps(struct ledger_tlog *tlog, const struct store_gap *gaps, size_t n_gaps)
{
	char **entries = calloc(n_gaps ? n_gaps : 1, sizeof(*entries));
	char commitment[65], since[40];
	int r = entries ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < n_gaps; i++) {
		const struct store_gap *gap = &gaps[i];

		r = ledger_tlog_household_commitment(tlog, gap->household_id, commitment, NULL);
		if (r < 0)
			break;
		since[0] = '\0';
		if (gap->since)
			snprintf(since, sizeof(since), "since %lld\n", (long long)gap->since);
		/* Internet gaps read as before local traffic was counted apart. */
		if (asprintf(&entries[i],
			     "meter-gap\nhousehold %s\ndirection %s\n%sreason %s\n%sat %lld\n"
			     "bytes_before %" PRIu64 "\nbytes_after %" PRIu64 "\n",
			     commitment, store_direction_name(gap->direction),
			     gap->scope == 1 ? "scope local\n" : "", gap->reason, since,
			     (long long)gap->at, gap->bytes_before, gap->bytes_after) < 0) {
			entries[i] = NULL;
			r = -ENOMEM;
		}
	}
	if (r == 0 && n_gaps > 0)
		r = ledger_tlog_append(tlog, (const char *const *)entries, n_gaps, NULL);
	for (size_t i = 0; entries && i < n_gaps; i++)
		free(entries[i]);
	free(entries);
	return r;
}

int ledger_tlog_meter_gaps(void *tlog, const struct store_gap *gaps, size_t n_gaps)
{
	int r;

	if (ledger_tlog_problem(tlog))
		return 0;
	r = ledger_tlog_log_gaps(tlog, gaps, n_gaps);
	return r < 0 ? r : 1;
}
