/* Authentication: bearer tokens (32 random bytes, shown once, stored only as
 * a BLAKE2b hash) and the roles they carry. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct store;

#define AUTH_TOKEN_BYTES 32
#define AUTH_HASH_BYTES	 32
/* base64url of 32 bytes without padding is 43 characters, plus a NUL. */
#define AUTH_TOKEN_TEXT_MAX 44

enum auth_role {
	AUTH_ROLE_NONE,
	AUTH_ROLE_ADMIN,
	AUTH_ROLE_MEMBER,
};

struct auth_principal {
	enum auth_role role;
	int64_t token_id;
	int64_t household_id; /* for members */
};

const char *auth_role_name(enum auth_role role);
int auth_role_from_name(const char *name, enum auth_role *ret_role);

/* Creates a token, stores its hash and records the issue in the audit log,
 * all in the caller's transaction. household_id is 0 for admin tokens. */
int auth_token_issue(struct store *store, enum auth_role role, int64_t household_id,
		     const char *name, const char *actor, char ret_token[AUTH_TOKEN_TEXT_MAX]);

/* A token's sign-in link: public_url (the address members open, without a
 * trailing slash), then "/#token=" and the token. The token is in the
 * fragment, which a browser sends neither to a server nor in a Referer.
 * The caller frees *ret_url. */
int auth_signin_url(const char *public_url, const char *token, char **ret_url);

/* A token's last use is written at most once per this many seconds. */
#define AUTH_USED_RESOLUTION_S 60

/* Resolves an "Authorization" header value. No header: role NONE. A header
 * that is not "Bearer <token>" is -EINVAL; an unknown token is -EACCES, a
 * revoked one -EKEYREVOKED. A known token's last use becomes now_s (Unix
 * seconds) when the one recorded is a minute old or more, in a write of
 * its own (so call this outside a transaction) whose failure is no error. */
int auth_authenticate(struct store *store, const char *authorization, int64_t now_s,
		      struct auth_principal *ret_principal);
