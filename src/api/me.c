/* GET /api/v1/me: who the caller's token says they are. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "api-internal.h"

void api_me_get(struct api *api, struct http_request *request, const struct api_call *call)
{
	const struct auth_principal *who = &call->principal;
	char household[24] = "null";
	char *text = NULL;
	int len;

	/* Written at once, without building a JSON tree: every page a member
	 * opens asks this first. The role's name is one of a few plain words. */
	if (who->role == AUTH_ROLE_MEMBER)
		snprintf(household, sizeof(household), "%" PRId64, who->household_id);
	len = asprintf(&text, "{\"role\":\"%s\",\"household_id\":%s,\"token_id\":%" PRId64 "}",
		       auth_role_name(who->role), household, who->token_id);
	if (len < 0) {
		http_reply_problem(request, 503, "out-of-memory",
				   "the server is short of memory; try again later");
		return;
	}
	http_reply_text(request, 200, "application/json", text, (size_t)len);
}
