/* GET /api/v1/me: who the caller's token says they are. */
#include "api-internal.h"

void api_me_get(struct api *api, struct http_request *request, const struct api_call *call)
{
	const struct auth_principal *who = &call->principal;

	http_reply_json(request, 200,
			json_pack("{s:s, s:o, s:I}", "role", auth_role_name(who->role),
				  "household_id",
				  who->role == AUTH_ROLE_MEMBER ? json_integer(who->household_id)
								: json_null(),
				  "token_id", (json_int_t)who->token_id));
}
