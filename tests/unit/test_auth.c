/* Tokens: issued once, stored only as a hash, resolved to role and household. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "coopbill/auth.h"
#include "coopbill/store.h"

/* 2026-12-06T04:00:00Z */
#define NOW_S INT64_C(1796529600)

struct fixture {
	char dir[64];
	char path[96];
	struct store *store;
	int64_t household_id;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct household household = { .gateway = "main",
				       .name = (char *)"Garcia",
				       .joined_at = "2026-11-01" };
	char errbuf[256];

	strcpy(f->dir, "/tmp/coopbill-auth.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/db", f->dir);
	assert_int_equal(store_open(f->path, &f->store, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(store_household_insert(f->store, &household, &f->household_id), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	store_free(f->store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static char *bearer(const char *token)
{
	static char header[128];

	snprintf(header, sizeof(header), "Bearer %s", token);
	return header;
}

static void test_issue_and_authenticate(void **state)
{
	struct fixture *f = *state;
	char admin[AUTH_TOKEN_TEXT_MAX], member[AUTH_TOKEN_TEXT_MAX];
	struct auth_principal who;

	assert_int_equal(auth_token_issue(f->store, AUTH_ROLE_ADMIN, 0, "treasurer", "cli", admin),
			 0);
	assert_int_equal(strlen(admin), 43);
	assert_int_equal(auth_token_issue(f->store, AUTH_ROLE_MEMBER, f->household_id, "garcia",
					  "cli", member),
			 0);
	assert_string_not_equal(admin, member);

	assert_int_equal(auth_authenticate(f->store, bearer(admin), NOW_S, &who), 0);
	assert_int_equal(who.role, AUTH_ROLE_ADMIN);
	assert_int_equal(auth_authenticate(f->store, bearer(member), NOW_S, &who), 0);
	assert_int_equal(who.role, AUTH_ROLE_MEMBER);
	assert_int_equal(who.household_id, f->household_id);
}

static void test_refusals(void **state)
{
	struct fixture *f = *state;
	char admin[AUTH_TOKEN_TEXT_MAX];
	struct auth_principal who;

	assert_int_equal(auth_token_issue(f->store, AUTH_ROLE_ADMIN, 0, "treasurer", "cli", admin),
			 0);
	assert_int_equal(auth_authenticate(f->store, NULL, NOW_S, &who), 0);
	assert_int_equal(who.role, AUTH_ROLE_NONE);
	assert_int_equal(auth_authenticate(f->store, admin, NOW_S, &who), -EINVAL);
	assert_int_equal(auth_authenticate(f->store, "Basic dXNlcjpwYXNz", NOW_S, &who), -EINVAL);
	/* One changed character is another token. */
	admin[5] = admin[5] == 'A' ? 'B' : 'A';
	assert_int_equal(auth_authenticate(f->store, bearer(admin), NOW_S, &who), -EACCES);
	assert_int_equal(auth_authenticate(f->store, bearer("short"), NOW_S, &who), -EACCES);
	/* A member token needs a household and an admin token has none. */
	assert_int_equal(auth_token_issue(f->store, AUTH_ROLE_MEMBER, 0, "x", "cli", admin),
			 -EINVAL);
	assert_int_equal(
		auth_token_issue(f->store, AUTH_ROLE_ADMIN, f->household_id, "x", "cli", admin),
		-EINVAL);
}

/* The database keeps a hash of the token, never the token, and the audit
 * trail records the issue without the token. */
static void test_stored_as_hash(void **state)
{
	struct fixture *f = *state;
	char token[AUTH_TOKEN_TEXT_MAX], sql[512];
	sqlite3 *db;
	sqlite3_stmt *stmt;

	assert_int_equal(auth_token_issue(f->store, AUTH_ROLE_MEMBER, f->household_id, "garcia",
					  "cli", token),
			 0);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	snprintf(
		sql, sizeof(sql),
		"SELECT (SELECT count(*) FROM tokens WHERE instr(hash, '%s') OR instr(name, '%s')),"
		" (SELECT count(*) FROM audit_events WHERE action = 'token.create' AND "
		"instr(detail, '%s') = 0)",
		token, token, token);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(stmt, 0), 0);
	assert_int_equal(sqlite3_column_int(stmt, 1), 1);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}

/* The token the store keeps for text. */
static struct store_token stored(struct fixture *f, const char *text)
{
	struct auth_principal who;
	struct store_token token;

	assert_int_equal(auth_authenticate(f->store, bearer(text), NOW_S, &who), 0);
	assert_int_equal(store_token_get(f->store, who.token_id, &token), 0);
	return token;
}

/* A token's last use is written once a minute at most: requests within the
 * minute leave it, the first after it moves it, a clock stepped back too. */
static void test_last_used(void **state)
{
	struct fixture *f = *state;
	char member[AUTH_TOKEN_TEXT_MAX];
	struct auth_principal who;
	struct store_token token;

	assert_int_equal(auth_token_issue(f->store, AUTH_ROLE_MEMBER, f->household_id, "phone",
					  "cli", member),
			 0);
	token = stored(f, member);
	assert_string_equal(token.name, "phone");
	assert_int_equal(strlen(token.created_at), 20);
	assert_string_equal(token.last_used_at, "2026-12-06T04:00:00Z");
	assert_int_equal(token.last_used_s, NOW_S);

	assert_int_equal(auth_authenticate(f->store, bearer(member), NOW_S + 59, &who), 0);
	assert_int_equal(store_token_get(f->store, who.token_id, &token), 0);
	assert_string_equal(token.last_used_at, "2026-12-06T04:00:00Z");
	assert_int_equal(auth_authenticate(f->store, bearer(member), NOW_S + 60, &who), 0);
	assert_int_equal(store_token_get(f->store, who.token_id, &token), 0);
	assert_string_equal(token.last_used_at, "2026-12-06T04:01:00Z");
	assert_int_equal(auth_authenticate(f->store, bearer(member), NOW_S - 3600, &who), 0);
	assert_int_equal(store_token_get(f->store, who.token_id, &token), 0);
	assert_string_equal(token.last_used_at, "2026-12-06T03:00:00Z");
}

/* A revoked token is refused at once, by its own error, and stays revoked;
 * the other tokens go on. */
static void test_revoked(void **state)
{
	struct fixture *f = *state;
	char phone[AUTH_TOKEN_TEXT_MAX], laptop[AUTH_TOKEN_TEXT_MAX];
	struct store_token *tokens;
	struct auth_principal who;
	size_t n;

	assert_int_equal(auth_token_issue(f->store, AUTH_ROLE_MEMBER, f->household_id, "phone",
					  "cli", phone),
			 0);
	assert_int_equal(auth_token_issue(f->store, AUTH_ROLE_MEMBER, f->household_id, "laptop",
					  "cli", laptop),
			 0);
	assert_int_equal(store_tokens_list(f->store, f->household_id, &tokens, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(tokens[0].last_used_at, "");
	assert_int_equal(store_token_revoke(f->store, tokens[0].id), 0);
	assert_int_equal(store_token_revoke(f->store, tokens[0].id), -ENOENT);
	assert_int_equal(auth_authenticate(f->store, bearer(phone), NOW_S, &who), -EKEYREVOKED);
	assert_int_equal(auth_authenticate(f->store, bearer(laptop), NOW_S, &who), 0);
	assert_int_equal(who.token_id, tokens[1].id);
	free(tokens);
	assert_int_equal(store_tokens_list(f->store, 0, &tokens, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(tokens[0].name, "laptop");
	free(tokens);
}

/* The sign-in link carries the token in its fragment, after the address
 * members open. */
static void test_signin_url(void **state)
{
	char *url;

	assert_int_equal(auth_signin_url("http://10.0.0.1:8080",
					 "q3Zk0mYlH5b7Vd2pXe9sT1uWcR4aN8fJgLhK6iOyBzA", &url),
			 0);
	assert_string_equal(
		url, "http://10.0.0.1:8080/#token=q3Zk0mYlH5b7Vd2pXe9sT1uWcR4aN8fJgLhK6iOyBzA");
	free(url);
	assert_int_equal(auth_signin_url("https://coop.example/members", "abc", &url), 0);
	assert_string_equal(url, "https://coop.example/members/#token=abc");
	free(url);
	assert_int_equal(auth_signin_url(NULL, "abc", &url), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_issue_and_authenticate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stored_as_hash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_used, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoked, setup, teardown),
		cmocka_unit_test(test_signin_url),
	};

	return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
