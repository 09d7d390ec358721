/* Tokens seen and revoked: a member lists their household's tokens and
 * revokes any of them, or all ("sign out everywhere"); the treasurer does
 * the same for any household and, under /api/v1/tokens, for every token,
 * admin tokens too. Never a secret: only hashes are stored. The rules and
 * the writes are the ledger's (ledger/tokens.c). */
#include <errno.h>
#include <stdlib.h>

#include "api-internal.h"
#include "coopbill/ledger.h"
#include "coopbill/store.h"

/* A token as a list shows it; current marks the one that asks. */
static json_t *token_json(const struct store_token *token, const struct api_call *call,
			  bool with_household)
{
	json_t *json = json_pack(
		"{s:I, s:s, s:s, s:s, s:o, s:b}", "id", (json_int_t)token->id, "name", token->name,
		"role", token->role, "created_at", token->created_at, "last_used_at",
		token->last_used_at[0] ? json_string(token->last_used_at) : json_null(), "current",
		token->id == call->principal.token_id);

	if (json && with_household)
		json_object_set_new(json, "household_id",
				    token->household_id ? json_integer(token->household_id)
							: json_null());
	return json;
}

static void reply_tokens(struct api *api, struct http_request *request, const struct api_call *call,
			 int64_t household_id)
{
	struct store_token *tokens = NULL;
	struct ledger_error err;
	json_t *list;
	size_t n;

	if (ledger_tokens_list(&api->ledger, household_id, &tokens, &n, &err) < 0) {
		api_reply_ledger_error(request, &err);
		return;
	}
	list = json_array();
	for (size_t i = 0; list && i < n; i++)
		json_array_append_new(list, token_json(&tokens[i], call, household_id == 0));
	free(tokens);
	http_reply_json(request, 200, json_pack("{s:o}", "tokens", list));
}

/* The token id in the path's segment `index`, or a 400 reply. */
static int path_token(struct http_request *request, const struct api_call *call, size_t index,
		      int64_t *ret_id)
{
	const char *text = call->params.values[index];

	if (api_parse_id(text, ret_id) < 0) {
		http_reply_problem(request, 400, "invalid-token-id",
				   "\"%s\" is not a token id; token ids are positive whole "
				   "numbers, as the list of tokens shows them",
				   text);
		return -EINVAL;
	}
	return 0;
}

static void reply_revoked(struct http_request *request, const int64_t *ids, size_t n_ids)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < n_ids; i++)
		json_array_append_new(list, json_integer(ids[i]));
	http_reply_json(request, 200, json_pack("{s:o}", "revoked", list));
}

void api_household_tokens_list(struct api *api, struct http_request *request,
			       const struct api_call *call)
{
	int64_t household_id;

	if (api_path_household_id(request, call, &household_id) < 0)
		return;
	reply_tokens(api, request, call, household_id);
}

void api_household_token_revoke(struct api *api, struct http_request *request,
				const struct api_call *call)
{
	int64_t household_id, token_id;
	struct ledger_error err;

	if (api_path_household_id(request, call, &household_id) < 0 ||
	    path_token(request, call, 1, &token_id) < 0)
		return;
	if (ledger_token_revoke(&api->ledger, household_id, token_id, call->actor, &err) < 0) {
		api_reply_ledger_error(request, &err);
		return;
	}
	reply_revoked(request, &token_id, 1);
}

void api_household_tokens_revoke(struct api *api, struct http_request *request,
				 const struct api_call *call)
{
	int64_t household_id, *ids = NULL;
	struct ledger_error err;
	size_t n_ids;

	if (api_path_household_id(request, call, &household_id) < 0)
		return;
	if (ledger_tokens_revoke_household(&api->ledger, household_id, call->actor, &ids, &n_ids,
					   &err) < 0) {
		api_reply_ledger_error(request, &err);
		return;
	}
	reply_revoked(request, ids, n_ids);
	free(ids);
}

void api_tokens_list(struct api *api, struct http_request *request, const struct api_call *call)
{
	reply_tokens(api, request, call, 0);
}

void api_token_revoke(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct ledger_error err;
	int64_t token_id;

	if (path_token(request, call, 0, &token_id) < 0)
		return;
	if (ledger_token_revoke(&api->ledger, 0, token_id, call->actor, &err) < 0) {
		api_reply_ledger_error(request, &err);
		return;
	}
	reply_revoked(request, &token_id, 1);
}
