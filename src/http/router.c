/* Path patterns with "{name}" segments, matched segment by segment. */
#include <string.h>

#include "coopbill/http.h"

bool http_path_match(const char *pattern, const char *path, struct http_params *ret_params)
{
	struct http_params params = { 0 };

	while (*pattern && *path) {
		if (*pattern != '/' || *path != '/')
			return false;
		pattern++;
		path++;
		if (*pattern == '{') {
			size_t len = strcspn(path, "/");

			if (len == 0 || len >= HTTP_PARAM_MAX || params.n == HTTP_MAX_PARAMS)
				return false;
			memcpy(params.values[params.n], path, len);
			params.values[params.n][len] = '\0';
			params.n++;
			path += len;
			pattern = strchr(pattern, '}');
			if (!pattern)
				return false;
			pattern++;
		} else {
			size_t len = strcspn(pattern, "/");

			if (strncmp(pattern, path, len) != 0 || (path[len] != '/' && path[len]))
				return false;
			pattern += len;
			path += len;
		}
	}
	if (*pattern || *path)
		return false;
	*ret_params = params;
	return true;
}
