/* Copies of the database: SQLite's online backup of one snapshot into a new
 * file, in steps, while the daemon goes on writing. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store-internal.h"

/* Pages copied per step: 4 MiB at SQLite's default page size, so that a
 * step takes milliseconds and progress moves on a large database. */
#define COPY_STEP_PAGES 1024
/* How long to wait before retrying a step another connection held up. */
#define COPY_RETRY_MS 20

static void copy_error(char *errbuf, size_t errbuf_len, const char *what, const char *path, int r)
{
	if (r == -ENOSPC)
		snprintf(errbuf, errbuf_len, "the disk holding %s is full", path);
	else
		snprintf(errbuf, errbuf_len, "cannot %s %s: %s", what, path, strerror(-r));
}

/* Removes a failed copy and the journal SQLite may have left beside it. */
static void copy_remove(const char *dest_path)
{
	char path[PATH_MAX];

	unlink(dest_path);
	if (snprintf(path, sizeof(path), "%s-journal", dest_path) < (int)sizeof(path))
		unlink(path);
}

static int copy_pages(sqlite3 *source, sqlite3 *dest, store_copy_progress progress, void *ctx)
{
	sqlite3_backup *backup;
	int rc;

	backup = sqlite3_backup_init(dest, "main", source, "main");
	if (!backup)
		return store_map_error(sqlite3_extended_errcode(dest));
	for (;;) {
		rc = sqlite3_backup_step(backup, COPY_STEP_PAGES);
		if (rc == SQLITE_DONE)
			break;
		if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
			sqlite3_sleep(COPY_RETRY_MS);
			continue;
		}
		if (rc != SQLITE_OK)
			break;
		if (progress)
			progress(sqlite3_backup_pagecount(backup) -
					 sqlite3_backup_remaining(backup),
				 sqlite3_backup_pagecount(backup), ctx);
	}
	if (progress && rc == SQLITE_DONE)
		progress(sqlite3_backup_pagecount(backup), sqlite3_backup_pagecount(backup), ctx);
	sqlite3_backup_finish(backup);
	return rc == SQLITE_DONE ? 0 : store_map_error(rc);
}

int store_copy(const char *source_path, const char *dest_path, store_copy_progress progress,
	       void *ctx, char *errbuf, size_t errbuf_len)
{
	sqlite3 *source = NULL, *dest = NULL;
	bool reading = false;
	int fd, rc, r;

	errbuf[0] = '\0';
	/* The copy is a new file: never over another. */
	fd = open(dest_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		if (r == -EEXIST)
			snprintf(errbuf, errbuf_len, "%s exists already", dest_path);
		else
			copy_error(errbuf, errbuf_len, "create", dest_path, r);
		return r;
	}
	close(fd);

	rc = sqlite3_open_v2(source_path, &source,
			     SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
			     NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(source, STORE_BUSY_TIMEOUT_MS);
		/* One read transaction through every step: the copy is the
		 * snapshot of the moment it began, whatever the daemon commits
		 * meanwhile (WAL readers do not block its writes). */
		rc = sqlite3_exec(source, "BEGIN; SELECT count(*) FROM sqlite_schema", NULL, NULL,
				  NULL);
		reading = rc == SQLITE_OK;
	}
	if (rc != SQLITE_OK) {
		r = store_map_error(rc);
		snprintf(errbuf, errbuf_len, "cannot read the database %s: %s", source_path,
			 source ? sqlite3_errmsg(source) : sqlite3_errstr(rc));
		goto out;
	}
	rc = sqlite3_open_v2(dest_path, &dest,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
			     NULL);
	if (rc != SQLITE_OK) {
		r = store_map_error(rc);
		copy_error(errbuf, errbuf_len, "write", dest_path, r);
		goto out;
	}
	r = copy_pages(source, dest, progress, ctx);
	/* A copy in rollback mode is one file, whole once closed. */
	if (r == 0) {
		rc = sqlite3_exec(dest, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
		r = rc == SQLITE_OK ? 0 : store_map_error(rc);
	}
	if (r < 0)
		copy_error(errbuf, errbuf_len, "write", dest_path, r);
out:
	if (reading)
		sqlite3_exec(source, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(source);
	if (dest && sqlite3_close(dest) != SQLITE_OK && r == 0) {
		r = -EIO;
		copy_error(errbuf, errbuf_len, "write", dest_path, r);
	}
	if (r < 0)
		copy_remove(dest_path);
	return r;
}
