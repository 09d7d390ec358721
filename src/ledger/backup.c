/* Backups: a consistent copy of the database and the log key into a new
 * folder, checked before it takes its name; and a restore that checks such
 * a folder the same way before it replaces the database. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "coopbill/config.h"
#include "coopbill/ledger.h"
#include "coopbill/store.h"

#define BACKUP_DATABASE "coopbill.db"
#define BACKUP_KEY	"log.key"
/* A log key file is one line of about 330 bytes. */
#define KEY_FILE_MAX 1024

/* Says why writing path failed: a full disk in the project's words. */
static void write_error(char *errbuf, size_t len, const char *path, int r)
{
	if (r == -ENOSPC)
		snprintf(errbuf, len, "the disk holding %s is full", path);
	else
		snprintf(errbuf, len, "cannot write %s: %s", path, strerror(-r));
}

static int sync_folder(const char *path)
{
	char folder[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, r = 0;

	snprintf(folder, sizeof(folder), "%.*s", slash ? (int)(slash - path) : 1,
		 slash ? path : ".");
	fd = open(folder[0] ? folder : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int key_read(const char *path, char ret_text[KEY_FILE_MAX], size_t *ret_len)
{
	ssize_t len;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = read(fd, ret_text, KEY_FILE_MAX);
	close(fd);
	if (len < 0)
		return -errno;
	*ret_len = (size_t)len;
	return 0;
}

/* Writes the key text into a new file (mode 0600), synced. */
static int key_write(const char *path, const char *text, size_t len)
{
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		r = errno ? -errno : -EIO;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		unlink(path);
	return r;
}

/* Checks a copy of the database, opened as store, and its key: the full
 * integrity check, then the log verified with that key. */
static int copy_check(const struct config *config, struct store *store, const char *database,
		      const char *key, int64_t *ret_log_size, char *errbuf, size_t errbuf_len)
{
	char why[512];
	int r;

	r = store_integrity_check(store, database, why, sizeof(why));
	if (r == 0)
		r = ledger_tlog_check_copy(store, key, config->log_origin, ret_log_size, why,
					   sizeof(why));
	if (r < 0)
		snprintf(errbuf, errbuf_len, "the copy does not verify: %s", why);
	return r;
}

int ledger_backup(const struct config *config, const char *dest, store_copy_progress progress,
		  void *ctx, int64_t *ret_log_size, char *errbuf, size_t errbuf_len)
{
	char partial[PATH_MAX], database[PATH_MAX + 16], key[PATH_MAX + 16], key_path[PATH_MAX];
	char key_text[KEY_FILE_MAX];
	struct store *store = NULL;
	size_t key_len = 0;
	struct stat st;
	int r;

	if (config->database_url[0]) {
		snprintf(errbuf, errbuf_len, "%s",
			 "backup copies SQLite's file ([database] path); back up a PostgreSQL "
			 "database ([database] url) with pg_dump, and copy the log key beside it");
		return -EOPNOTSUPP;
	}
	if (lstat(dest, &st) == 0) {
		snprintf(errbuf, errbuf_len, "%s exists already; name a new folder for the backup",
			 dest);
		return -EEXIST;
	}
	if (snprintf(partial, sizeof(partial), "%s.partial-XXXXXX", dest) >= (int)sizeof(partial) ||
	    ledger_tlog_key_path(config, key_path, sizeof(key_path)) < 0) {
		snprintf(errbuf, errbuf_len, "the path %s is too long", dest);
		return -ENAMETOOLONG;
	}
	/* Everything is made under a name of its own, and takes dest's name
	 * only once checked: a failure never leaves a half-written dest. */
	if (!mkdtemp(partial)) {
		r = -errno;
		if (r == -ENOENT)
			snprintf(errbuf, errbuf_len,
				 "cannot create %s: the folder it would be in does not exist",
				 dest);
		else
			write_error(errbuf, errbuf_len, dest, r);
		return r;
	}
	snprintf(database, sizeof(database), "%s/%s", partial, BACKUP_DATABASE);
	snprintf(key, sizeof(key), "%s/%s", partial, BACKUP_KEY);

	r = store_copy(config->database_path, database, progress, ctx, errbuf, errbuf_len);
	if (r < 0)
		goto out;
	r = key_read(key_path, key_text, &key_len);
	if (r < 0) {
		snprintf(errbuf, errbuf_len, "cannot read the log key %s: %s", key_path,
			 strerror(-r));
		goto out;
	}
	r = key_write(key, key_text, key_len);
	if (r < 0) {
		write_error(errbuf, errbuf_len, dest, r);
		goto out;
	}
	r = store_open_readonly(database, &store, errbuf, errbuf_len);
	if (r == 0)
		r = copy_check(config, store, database, key, ret_log_size, errbuf, errbuf_len);
	store_free(store);
	if (r < 0)
		goto out;
	if (renameat2(AT_FDCWD, partial, AT_FDCWD, dest, RENAME_NOREPLACE) < 0) {
		r = -errno;
		if (r == -EEXIST)
			snprintf(errbuf, errbuf_len, "%s appeared while the backup was made", dest);
		else
			write_error(errbuf, errbuf_len, dest, r);
		goto out;
	}
	r = sync_folder(dest);
	if (r < 0)
		write_error(errbuf, errbuf_len, dest, r);
out:
	sodium_memzero(key_text, sizeof(key_text));
	if (r < 0) {
		unlink(database);
		unlink(key);
		rmdir(partial);
	}
	return r;
}

/* The key of the box and the backup's must be one: a backup signed with
 * another key is another cooperative's log. A box without its key (a new
 * SD card) gets the backup's. */
static int restore_key(const char *key_path, const char *source_key, char *errbuf,
		       size_t errbuf_len)
{
	char ours[KEY_FILE_MAX], theirs[KEY_FILE_MAX], tmp[PATH_MAX + 8];
	size_t ours_len = 0, theirs_len = 0;
	int r;

	r = key_read(source_key, theirs, &theirs_len);
	if (r < 0) {
		snprintf(errbuf, errbuf_len, "cannot read the backup's log key %s: %s", source_key,
			 strerror(-r));
		goto out;
	}
	r = key_read(key_path, ours, &ours_len);
	if (r == 0 && (ours_len != theirs_len || sodium_memcmp(ours, theirs, ours_len) != 0)) {
		snprintf(errbuf, errbuf_len,
			 "the backup's log key %s is not this box's %s: the backup is of another "
			 "log; nothing was changed",
			 source_key, key_path);
		r = -EINVAL;
		goto out;
	}
	if (r == 0 || r != -ENOENT) {
		if (r < 0)
			snprintf(errbuf, errbuf_len, "cannot read the log key %s: %s", key_path,
				 strerror(-r));
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.new", key_path);
	unlink(tmp);
	r = key_write(tmp, theirs, theirs_len);
	if (r == 0 && rename(tmp, key_path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		write_error(errbuf, errbuf_len, key_path, r);
	}
out:
	sodium_memzero(ours, sizeof(ours));
	sodium_memzero(theirs, sizeof(theirs));
	return r;
}

/* Run as root, the restored files get the owner of the database's folder
 * (the daemon's user), so that the daemon can open them. */
static int give_to_folder_owner(const char *folder_of, const char *path)
{
	char folder[PATH_MAX];
	const char *slash = strrchr(folder_of, '/');
	struct stat st;

	if (geteuid() != 0)
		return 0;
	snprintf(folder, sizeof(folder), "%.*s", slash ? (int)(slash - folder_of) : 1,
		 slash ? folder_of : ".");
	if (stat(folder[0] ? folder : "/", &st) < 0)
		return -errno;
	return chown(path, st.st_uid, st.st_gid) < 0 ? -errno : 0;
}

int ledger_restore(const struct config *config, const char *source, store_copy_progress progress,
		   void *ctx, int64_t *ret_log_size, char *errbuf, size_t errbuf_len)
{
	char source_database[PATH_MAX], source_key[PATH_MAX], key_path[PATH_MAX];
	char staged[PATH_MAX], path[PATH_MAX + 8], why[512];
	static const char *const journals[] = { "-wal", "-shm", "-journal", "" };
	const char *live = config->database_path;
	struct store *store = NULL;
	int r;

	if (snprintf(source_database, sizeof(source_database), "%s/%s", source, BACKUP_DATABASE) >=
		    (int)sizeof(source_database) ||
	    snprintf(source_key, sizeof(source_key), "%s/%s", source, BACKUP_KEY) >=
		    (int)sizeof(source_key) ||
	    snprintf(staged, sizeof(staged), "%s.restoring", live) >= (int)sizeof(staged) ||
	    ledger_tlog_key_path(config, key_path, sizeof(key_path)) < 0) {
		snprintf(errbuf, errbuf_len, "the path %s is too long", source);
		return -ENAMETOOLONG;
	}
	if (access(source_database, R_OK) < 0 || access(source_key, R_OK) < 0) {
		r = -errno;
		snprintf(errbuf, errbuf_len,
			 "%s is not a backup that can be read: it needs %s and %s (%s)", source,
			 BACKUP_DATABASE, BACKUP_KEY, strerror(-r));
		return r;
	}
	/* The caller holds the database's lock: what an earlier restore left
	 * half-way is ours to remove, its journals first, which SQLite would
	 * otherwise apply to the new copy. */
	for (size_t i = 0; i < sizeof(journals) / sizeof(journals[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", staged, journals[i]);
		unlink(path);
	}
	r = store_copy(source_database, staged, progress, ctx, errbuf, errbuf_len);
	if (r < 0)
		return r;
	/* Opened as the daemon opens it: a backup of an older coopbilld is
	 * migrated here, before it is checked. */
	r = store_open(staged, &store, why, sizeof(why));
	if (r < 0)
		snprintf(errbuf, errbuf_len, "the backup cannot be used: %s", why);
	if (r == 0)
		r = copy_check(config, store, staged, source_key, ret_log_size, errbuf, errbuf_len);
	store_free(store);
	if (r == 0)
		r = restore_key(key_path, source_key, errbuf, errbuf_len);
	if (r == 0 &&
	    (give_to_folder_owner(live, staged) < 0 || give_to_folder_owner(live, key_path) < 0)) {
		r = -errno;
		snprintf(errbuf, errbuf_len, "cannot give %s to the owner of its folder: %m",
			 staged);
	}
	if (r < 0)
		goto out;
	/* The old database's journal must not be applied to the new file. */
	snprintf(path, sizeof(path), "%s-wal", live);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", live);
	unlink(path);
	if (rename(staged, live) < 0 || sync_folder(live) < 0) {
		r = -errno;
		write_error(errbuf, errbuf_len, live, r);
	}
out:
	if (r < 0)
		unlink(staged);
	return r;
}
