/* Tokens seen and revoked: a household's or all tokens not revoked, and the
 * revocation of one token or of all of a household's ("sign out
 * everywhere"), each in one transaction with an audit event and a
 * token-revoked tlog entry per token. Issuing is in households.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "coopbill/ledger.h"
#include "coopbill/store.h"

int ledger_tokens_list(struct ledger *ledger, int64_t household_id, struct store_token **ret_tokens,
		       size_t *ret_n_tokens, struct ledger_error *err)
{
	int r;

	if (household_id) {
		r = ledger_household_require(ledger, household_id, err);
		if (r < 0)
			return r;
	}
	r = store_tokens_list(ledger->store, household_id, ret_tokens, ret_n_tokens);
	if (r < 0)
		return ledger_storage_error(err, r, "listing the tokens");
	return 0;
}

/* Revokes tokens, each with its audit event, and logs them, in the
 * caller's transaction. The audit trail names the token, never its secret. */
static int revoke(struct ledger *ledger, const struct store_token *tokens, size_t n_tokens,
		  const char *actor)
{
	char detail[128];
	int r = 0;

	for (size_t i = 0; r == 0 && i < n_tokens; i++) {
		r = store_token_revoke(ledger->store, tokens[i].id);
		if (r < 0)
			break;
		snprintf(detail, sizeof(detail), "{\"token_id\":%lld,\"role\":\"%s\"}",
			 (long long)tokens[i].id, tokens[i].role);
		r = store_audit_append(ledger->store, actor, "token.revoke", tokens[i].household_id,
				       detail);
	}
	if (r == 0)
		r = ledger_tlog_log_tokens_revoked(ledger->tlog, tokens, n_tokens);
	return r;
}

int ledger_token_revoke(struct ledger *ledger, int64_t household_id, int64_t token_id,
			const char *actor, struct ledger_error *err)
{
	struct store_token token;
	int r;

	r = store_begin(ledger->store);
	if (r < 0)
		return ledger_storage_error(err, r, "revoking the token");
	r = store_token_get(ledger->store, token_id, &token);
	if (r == -ENOENT ||
	    (r == 0 && (token.revoked || (household_id && token.household_id != household_id)))) {
		store_rollback(ledger->store);
		if (household_id)
			return ledger_refuse(err, LEDGER_NOT_FOUND, "not-found",
					     "household %lld has no token %lld that is still valid",
					     (long long)household_id, (long long)token_id);
		return ledger_refuse(err, LEDGER_NOT_FOUND, "not-found",
				     "there is no token %lld that is still valid",
				     (long long)token_id);
	}
	if (r == 0)
		r = revoke(ledger, &token, 1, actor);
	if (r == 0)
		r = store_commit(ledger->store);
	if (r < 0) {
		store_rollback(ledger->store);
		return ledger_storage_error(err, r, "revoking the token");
	}
	return 0;
}

int ledger_tokens_revoke_household(struct ledger *ledger, int64_t household_id, const char *actor,
				   int64_t **ret_ids, size_t *ret_n_ids, struct ledger_error *err)
{
	struct store_token *tokens = NULL;
	int64_t *ids = NULL;
	size_t n_tokens = 0;
	int r;

	r = ledger_household_require(ledger, household_id, err);
	if (r < 0)
		return r;
	r = store_begin(ledger->store);
	if (r == 0)
		r = store_tokens_list(ledger->store, household_id, &tokens, &n_tokens);
	if (r == 0) {
		ids = calloc(n_tokens ? n_tokens : 1, sizeof(*ids));
		if (!ids)
			r = -ENOMEM;
	}
	if (r == 0)
		r = revoke(ledger, tokens, n_tokens, actor);
	if (r == 0)
		r = store_commit(ledger->store);
	if (r < 0) {
		store_rollback(ledger->store);
		free(tokens);
		free(ids);
		return ledger_storage_error(err, r, "revoking the household's tokens");
	}
	for (size_t i = 0; i < n_tokens; i++)
		ids[i] = tokens[i].id;
	free(tokens);
	*ret_ids = ids;
	*ret_n_ids = n_tokens;
	return 0;
}
