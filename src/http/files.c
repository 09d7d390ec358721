/* Static files: the member page and its assets, served from one folder.
 * Only regular files inside that folder are served, symlinks included only
 * while they stay inside it; no directory listings, no hidden files. Every
 * reply carries the page's security headers and an ETag, and a request whose
 * If-None-Match holds that ETag is answered 304 without a body. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http-internal.h"

/* Nothing but this origin's own files: no inline script or style, no other
 * origin, and no framing by another site. */
#define FILES_CSP                                                                         \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "       \
	"form-action 'self'; frame-ancestors 'none'"

static const struct {
	const char *extension;
	const char *type;
} content_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".mjs", "text/javascript; charset=utf-8" },
	{ ".json", "application/json" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/vnd.microsoft.icon" },
	{ ".woff2", "font/woff2" },
	{ ".txt", "text/plain; charset=utf-8" },
	{ ".webmanifest", "application/manifest+json" },
};

static const char *content_type(const char *path)
{
	size_t len = strlen(path);

	for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++) {
		size_t ext_len = strlen(content_types[i].extension);

		if (len > ext_len && strcmp(path + len - ext_len, content_types[i].extension) == 0)
			return content_types[i].type;
	}
	return "application/octet-stream";
}

/* The file a request path names, relative to the folder: "/" is index.html;
 * every segment must be a plain name (not empty, not starting with '.', no
 * backslash), which leaves no way up and no hidden file. */
static bool relative_path(const char *path, char *ret_relative, size_t size)
{
	const char *segment;

	if (path[0] != '/')
		return false;
	if (strcmp(path, "/") == 0) {
		snprintf(ret_relative, size, "index.html");
		return true;
	}
	for (segment = path + 1;; segment++) {
		size_t len = strcspn(segment, "/");

		if (len == 0 || segment[0] == '.' || memchr(segment, '\\', len))
			return false;
		segment += len;
		if (!*segment)
			break;
	}
	if (strlen(path + 1) >= size)
		return false;
	memcpy(ret_relative, path + 1, strlen(path + 1) + 1);
	return true;
}

/* Opens the file when its real path, symlinks resolved, is inside the
 * folder's; -ENOENT for anything else, so that a probe learns nothing. */
static int open_inside(const char *root, const char *relative, struct stat *ret_stat)
{
	char joined[PATH_MAX], real_root[PATH_MAX], real_file[PATH_MAX];
	size_t root_len;
	int fd;

	if (!realpath(root, real_root))
		return -errno;
	if ((size_t)snprintf(joined, sizeof(joined), "%s/%s", real_root, relative) >=
	    sizeof(joined))
		return -ENOENT;
	if (!realpath(joined, real_file))
		return -ENOENT;
	root_len = strlen(real_root);
	if (strncmp(real_file, real_root, root_len) != 0 ||
	    (real_file[root_len] != '/' && strcmp(real_root, "/") != 0))
		return -ENOENT;
	fd = open(real_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -ENOENT;
	if (fstat(fd, ret_stat) < 0 || !S_ISREG(ret_stat->st_mode)) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* Whether an If-None-Match list holds the tag ("*", or the tag itself, weak
 * or strong: RFC 9110 compares If-None-Match weakly). */
static bool etag_listed(const char *list, const char *etag)
{
	size_t etag_len = strlen(etag);

	while (list && *list) {
		size_t len;

		list += strspn(list, " \t,");
		if (strncmp(list, "W/", 2) == 0)
			list += 2;
		len = strcspn(list, " \t,");
		if ((len == 1 && list[0] == '*') ||
		    (len == etag_len && strncmp(list, etag, len) == 0))
			return true;
		list += len;
	}
	return false;
}

static void add_page_headers(struct MHD_Response *response, const char *etag)
{
	MHD_add_response_header(response, "ETag", etag);
	MHD_add_response_header(response, "Cache-Control", "no-cache");
	MHD_add_response_header(response, "Content-Security-Policy", FILES_CSP);
	MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(response, "Referrer-Policy", "no-referrer");
}

void http_reply_file(struct http_request *request, const char *root)
{
	char relative[PATH_MAX], etag[64];
	struct MHD_Response *response;
	struct stat st;
	unsigned status = 200;
	int fd;

	if (http_request_replied(request))
		return;
	if (!relative_path(request->path, relative, sizeof(relative)) ||
	    (fd = open_inside(root, relative, &st)) < 0) {
		http_reply_problem(request, 404, "not-found",
				   "there is no page or file at %s; the API is under /api/v1/",
				   request->path);
		return;
	}
	snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL +
			 (unsigned long long)st.st_mtim.tv_nsec);
	if (etag_listed(http_request_header(request, "If-None-Match"), etag)) {
		close(fd);
		status = 304;
		response = MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
	} else {
		/* MHD closes fd with the response. */
		response = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
		if (!response)
			close(fd);
	}
	if (!response) {
		http_reply_problem(request, 503, "out-of-memory",
				   "the server is short of memory; try again later");
		return;
	}
	if (status == 200)
		MHD_add_response_header(response, "Content-Type", content_type(relative));
	add_page_headers(response, etag);
	request->response = response;
	request->status = status;
}
