/* Bearer tokens: 32 random bytes shown once as base64url, stored only as their
 * BLAKE2b-256 hash, and resolved back to a role and household per request,
 * which also notes when each token was last used. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "coopbill/auth.h"
#include "coopbill/store.h"

static const char *const role_names[] = {
	[AUTH_ROLE_NONE] = "none",
	[AUTH_ROLE_ADMIN] = "admin",
	[AUTH_ROLE_MEMBER] = "member",
};

const char *auth_role_name(enum auth_role role)
{
	if ((size_t)role >= sizeof(role_names) / sizeof(role_names[0]))
		return "none";
	return role_names[role];
}

int auth_role_from_name(const char *name, enum auth_role *ret_role)
{
	if (strcmp(name, "admin") == 0)
		*ret_role = AUTH_ROLE_ADMIN;
	else if (strcmp(name, "member") == 0)
		*ret_role = AUTH_ROLE_MEMBER;
	else
		return -EINVAL;
	return 0;
}

int auth_signin_url(const char *public_url, const char *token, char **ret_url)
{
	char *url;

	if (!public_url || !token)
		return -EINVAL;
	if (asprintf(&url, "%s/#token=%s", public_url, token) < 0)
		return -ENOMEM;
	*ret_url = url;
	return 0;
}

static void token_hash(const char *text, uint8_t ret_hash[AUTH_HASH_BYTES])
{
	crypto_generichash(ret_hash, AUTH_HASH_BYTES, (const unsigned char *)text, strlen(text),
			   NULL, 0);
}

int auth_token_issue(struct store *store, enum auth_role role, int64_t household_id,
		     const char *name, const char *actor, char ret_token[AUTH_TOKEN_TEXT_MAX])
{
	uint8_t secret[AUTH_TOKEN_BYTES], hash[AUTH_HASH_BYTES];
	char text[AUTH_TOKEN_TEXT_MAX], detail[128];
	int64_t token_id;
	int r;

	if (role == AUTH_ROLE_NONE || (role == AUTH_ROLE_MEMBER) != (household_id > 0))
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	randombytes_buf(secret, sizeof(secret));
	sodium_bin2base64(text, sizeof(text), secret, sizeof(secret),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(secret, sizeof(secret));
	token_hash(text, hash);

	r = store_token_insert(store, hash, auth_role_name(role), household_id, name, &token_id);
	if (r < 0)
		goto out;
	/* The audit trail records who got a token of which role, never the token. */
	snprintf(detail, sizeof(detail), "{\"token_id\":%lld,\"role\":\"%s\"}", (long long)token_id,
		 auth_role_name(role));
	r = store_audit_append(store, actor, "token.create", household_id, detail);
	if (r < 0)
		goto out;
	memcpy(ret_token, text, sizeof(text));
out:
	sodium_memzero(text, sizeof(text));
	return r;
}

int auth_authenticate(struct store *store, const char *authorization, int64_t now_s,
		      struct auth_principal *ret_principal)
{
	uint8_t hash[AUTH_HASH_BYTES];
	struct store_token token;
	enum auth_role role;
	const char *text;
	int r;

	if (!authorization) {
		*ret_principal = (struct auth_principal){ .role = AUTH_ROLE_NONE };
		return 0;
	}
	if (strncasecmp(authorization, "Bearer ", 7) != 0)
		return -EINVAL;
	text = authorization + 7;
	while (*text == ' ')
		text++;
	if (strlen(text) != AUTH_TOKEN_TEXT_MAX - 1)
		return -EACCES;

	token_hash(text, hash);
	r = store_token_find(store, hash, &token);
	if (r == -ENOENT)
		return -EACCES;
	if (r < 0)
		return r;
	if (token.revoked)
		return -EKEYREVOKED;
	r = auth_role_from_name(token.role, &role);
	if (r < 0)
		return -EIO;
	/* A page polling every few seconds must not write on every request:
	 * the time of use is kept to the minute. A write that fails (a busy or
	 * full disk) leaves the old time; the request itself only reads, and
	 * goes on. A clock stepped back is written at once. */
	if (now_s < token.last_used_s || now_s - token.last_used_s >= AUTH_USED_RESOLUTION_S)
		(void)store_token_used(store, token.id, now_s);
	*ret_principal = (struct auth_principal){
		.role = role,
		.token_id = token.id,
		.household_id = token.household_id,
	};
	return 0;
}
