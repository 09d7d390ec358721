/* Tokens seen and revoked through the ledger, on a real database file and
 * without HTTP: a household's list and the whole list, one token revoked
 * or all of a household's, each revocation refused by authentication at
 * once and recorded in the audit trail and the tlog; what is refused
 * changes nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "coopbill/auth.h"
#include "coopbill/config.h"
#include "coopbill/ledger.h"
#include "coopbill/store.h"
#include "coopbill/tz.h"

#include "ledger-fixture.h"

struct fixture {
	char dir[64];
	char db[96];
	struct config config;
	struct ledger ledger;
	int64_t garcia, lopez;
	/* Garcia's phone and laptop, Lopez's phone, the treasurer's. */
	char phone[AUTH_TOKEN_TEXT_MAX], laptop[AUTH_TOKEN_TEXT_MAX];
	char lopez_phone[AUTH_TOKEN_TEXT_MAX], admin[AUTH_TOKEN_TEXT_MAX];
};

static void token_issue(struct fixture *f, enum auth_role role, int64_t household_id,
			const char *name, char token[AUTH_TOKEN_TEXT_MAX])
{
	struct ledger_token_request in = {
		.role = role, .household_id = household_id, .name = name, .actor = "test"
	};
	struct ledger_error err;

	assert_int_equal(ledger_token_issue(&f->ledger, &in, token, &err), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	test_dir_make(f->dir, sizeof(f->dir), "tokens");
	ledger_fixture_config(&f->config);
	ledger_fixture_open(f->dir, f->db, sizeof(f->db), &f->config, &f->ledger);
	f->garcia = ledger_fixture_household(&f->ledger, "2026-11-01", "Garcia", NULL, 0);
	f->lopez = ledger_fixture_household(&f->ledger, "2026-11-01", "Lopez", NULL, 0);
	token_issue(f, AUTH_ROLE_MEMBER, f->garcia, "phone", f->phone);
	token_issue(f, AUTH_ROLE_MEMBER, f->garcia, "laptop", f->laptop);
	token_issue(f, AUTH_ROLE_MEMBER, f->lopez, "phone", f->lopez_phone);
	token_issue(f, AUTH_ROLE_ADMIN, 0, "treasurer", f->admin);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	return ledger_fixture_free(f, &f->ledger, &f->config, f->dir);
}

/* What authentication says of a token now: 0, or why it refuses. */
static int authenticate(struct fixture *f, const char *token, int64_t *ret_token_id)
{
	struct auth_principal who = { 0 };
	char header[64];
	int r;

	snprintf(header, sizeof(header), "Bearer %s", token);
	r = auth_authenticate(f->ledger.store, header, time(NULL), &who);
	if (ret_token_id)
		*ret_token_id = who.token_id;
	return r;
}

static int64_t token_id(struct fixture *f, const char *token)
{
	int64_t id;

	assert_int_equal(authenticate(f, token, &id), 0);
	return id;
}

static int64_t tlog_size(struct fixture *f)
{
	return ledger_fixture_tlog_size(f->ledger.store);
}

/* The tlog entry at index, for free(). */
static char *tlog_entry(struct fixture *f, int64_t index)
{
	char *entry;
	size_t len;

	assert_int_equal(store_tlog_entry_get(f->ledger.store, index, &entry, &len), 0);
	return entry;
}

/* How many token.revoke events the audit trail holds. */
static int audit_revocations(struct fixture *f)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	int n;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT count(*) FROM audit_events WHERE action = "
					    "'token.revoke'",
					    -1, &stmt, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	n = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return n;
}

static void test_list(void **state)
{
	struct fixture *f = *state;
	struct store_token *tokens;
	struct ledger_error err;
	size_t n;

	assert_int_equal(ledger_tokens_list(&f->ledger, f->garcia, &tokens, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(tokens[0].name, "phone");
	assert_string_equal(tokens[0].role, "member");
	assert_int_equal(tokens[0].household_id, f->garcia);
	assert_string_equal(tokens[1].name, "laptop");
	assert_int_equal(strlen(tokens[1].created_at), 20);
	free(tokens);

	assert_int_equal(ledger_tokens_list(&f->ledger, 0, &tokens, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_string_equal(tokens[3].role, "admin");
	assert_int_equal(tokens[3].household_id, 0);
	free(tokens);

	assert_ledger_refused(ledger_tokens_list(&f->ledger, 99, &tokens, &n, &err), &err,
			      LEDGER_NOT_FOUND, "not-found", "there is no household 99");
}

static void test_revoke_one(void **state)
{
	struct fixture *f = *state;
	int64_t phone = token_id(f, f->phone), admin = token_id(f, f->admin);
	int64_t lopez_phone = token_id(f, f->lopez_phone), size = tlog_size(f);
	char commitment[65], salt[65], expected[160], *entry;
	struct store_token *tokens;
	struct ledger_error err;
	size_t n;

	/* Another household's token is not Garcia's to revoke. */
	assert_ledger_refused(
		ledger_token_revoke(&f->ledger, f->garcia, lopez_phone, "token:1", &err), &err,
		LEDGER_NOT_FOUND, "not-found", "household 1 has no token 3 that is still valid");
	assert_int_equal(authenticate(f, f->lopez_phone, NULL), 0);
	assert_int_equal(tlog_size(f), size);

	assert_int_equal(ledger_token_revoke(&f->ledger, f->garcia, phone, "token:1", &err), 0);
	assert_int_equal(authenticate(f, f->phone, NULL), -EKEYREVOKED);
	assert_int_equal(authenticate(f, f->laptop, NULL), 0);
	assert_int_equal(tlog_size(f), size + 1);
	assert_int_equal(ledger_household_commitment(&f->ledger, f->garcia, commitment, salt, &err),
			 0);
	snprintf(expected, sizeof(expected), "token-revoked\nrole member\nhousehold %s\ntime ",
		 commitment);
	entry = tlog_entry(f, size);
	assert_memory_equal(entry, expected, strlen(expected));
	free(entry);
	assert_int_equal(audit_revocations(f), 1);
	assert_int_equal(ledger_tokens_list(&f->ledger, f->garcia, &tokens, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(tokens[0].name, "laptop");
	free(tokens);

	/* Once revoked, it is gone: revoking it again finds nothing. */
	assert_ledger_refused(ledger_token_revoke(&f->ledger, f->garcia, phone, "token:1", &err),
			      &err, LEDGER_NOT_FOUND, "not-found", "no token 1");
	assert_ledger_refused(ledger_token_revoke(&f->ledger, 0, 99, "cli", &err), &err,
			      LEDGER_NOT_FOUND, "not-found",
			      "there is no token 99 that is still valid");
	assert_int_equal(tlog_size(f), size + 1);

	/* The treasurer revokes any token, an admin token too. */
	assert_int_equal(ledger_token_revoke(&f->ledger, 0, admin, "cli", &err), 0);
	assert_int_equal(authenticate(f, f->admin, NULL), -EKEYREVOKED);
	entry = tlog_entry(f, size + 1);
	assert_memory_equal(entry, "token-revoked\nrole admin\ntime ", 30);
	free(entry);
	assert_int_equal(ledger_token_revoke(&f->ledger, 0, lopez_phone, "cli", &err), 0);
	assert_int_equal(authenticate(f, f->lopez_phone, NULL), -EKEYREVOKED);
	assert_int_equal(audit_revocations(f), 3);
}

/* "Sign out everywhere": every token of the household, in one append. */
static void test_revoke_household(void **state)
{
	struct fixture *f = *state;
	int64_t phone = token_id(f, f->phone), laptop = token_id(f, f->laptop);
	int64_t size = tlog_size(f), *ids;
	struct ledger_error err;
	size_t n;

	assert_int_equal(
		ledger_tokens_revoke_household(&f->ledger, f->garcia, "token:2", &ids, &n, &err),
		0);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], phone);
	assert_int_equal(ids[1], laptop);
	free(ids);
	assert_int_equal(authenticate(f, f->phone, NULL), -EKEYREVOKED);
	assert_int_equal(authenticate(f, f->laptop, NULL), -EKEYREVOKED);
	assert_int_equal(authenticate(f, f->lopez_phone, NULL), 0);
	assert_int_equal(authenticate(f, f->admin, NULL), 0);
	assert_int_equal(tlog_size(f), size + 2);
	assert_int_equal(audit_revocations(f), 2);

	/* Nothing left to revoke: nothing written. */
	assert_int_equal(
		ledger_tokens_revoke_household(&f->ledger, f->garcia, "cli", &ids, &n, &err), 0);
	assert_int_equal(n, 0);
	free(ids);
	assert_int_equal(tlog_size(f), size + 2);
	assert_ledger_refused(ledger_tokens_revoke_household(&f->ledger, 99, "cli", &ids, &n, &err),
			      &err, LEDGER_NOT_FOUND, "not-found", "there is no household 99");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_household, setup, teardown),
	};

	return cmocka_run_group_tests_name("ledger_tokens", tests, NULL, NULL);
}
