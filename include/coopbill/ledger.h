/* The ledger: every operation that changes the cooperative's state, each a
 * typed function that begins and ends its own transaction and writes the
 * change and its transparency log (tlog) entry together; and the
 * transparency log itself (ledger_tlog_*): canonical text entries for what
 * the cooperative does, appended with their Merkle hashes and a newly signed
 * checkpoint inside the caller's write transaction, and verified against the
 * last signed checkpoint when opened. Households appear in entries only as
 * salted commitments. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coopbill/auth.h"
#include "coopbill/date.h"
#include "coopbill/store.h"

struct config;
struct household;
struct period;
struct store;
struct store_gap;
struct store_token;

struct ledger_tlog;
struct meter;

/* What every operation works with: the database, the transparency log, the
 * configuration in force (its zone, currency and notice) and the meter that
 * changes the kernel's ranges of households (NULL when metering is off). */
struct ledger {
	struct store *store;
	struct ledger_tlog *tlog;
	const struct config *config;
	struct meter *meter;
};

/* Why an operation refused or failed. Refusals change nothing. */
enum ledger_refusal {
	LEDGER_INVALID = 1, /* what was asked is wrong: fix the request */
	LEDGER_NOT_FOUND,   /* a thing it names does not exist */
	LEDGER_FORBIDDEN,   /* the caller may not do it */
	LEDGER_CONFLICT,    /* the state does not allow it now (a closed period) */
	LEDGER_STORAGE,	    /* the database failed; error says how */
	LEDGER_POLICY,	    /* well formed, but the cooperative's rules refuse it (notice) */
	LEDGER_BROKEN,	    /* what is stored is not what it should be */
	LEDGER_UNAVAILABLE, /* a part it needs refused (the kernel): nothing was changed */
};
struct ledger_error {
	enum ledger_refusal kind;
	/* The problem's type ("close-in-progress"); NULL for LEDGER_STORAGE. */
	const char *slug;
	/* The errno of a storage failure (negative). */
	int error;
	/* A sentence for the client; for LEDGER_STORAGE, what was being done
	 * ("reading the period"). */
	char detail[512];
};

/* Fills err and returns the matching negative errno: -EINVAL, -ENOENT,
 * -EACCES, -EEXIST or (LEDGER_BROKEN, LEDGER_UNAVAILABLE) -EIO. */
int ledger_refuse(struct ledger_error *err, enum ledger_refusal kind, const char *slug,
		  const char *detail_format, ...) __attribute__((format(printf, 4, 5)));
/* Fills err for a storage failure while doing `what`; returns error. */
int ledger_storage_error(struct ledger_error *err, int error, const char *what);

/* Whether a period ("YYYY-MM") takes changes to what it bills: a refusal
 * (period-closed, or close-in-progress from the moment its close begins until
 * it is closed) otherwise. prefix starts the detail ("" or "rows[3]: "); what
 * names what is refused ("expense"). */
int ledger_period_open_require(struct ledger *ledger, const char *prefix, const char *period,
			       const char *what, struct ledger_error *err);
/* A close-in-progress refusal when a period that ends after `from` (NULL:
 * any) is being closed. */
int ledger_no_close_from(struct ledger *ledger, const struct date *from, const char *what,
			 struct ledger_error *err);

/* Checks what a request names, refusing as the API words it: a household
 * that must exist (not-found), a free-text field of 1 to max_bytes bytes
 * without control characters (slug, the operation's problem type), a
 * billing period "YYYY-MM" (invalid-period). */
int ledger_household_require(struct ledger *ledger, int64_t id, struct ledger_error *err);
/* The same, giving the household (for store_household_free()). */
int ledger_household_get(struct ledger *ledger, int64_t id, struct household **ret_household,
			 struct ledger_error *err);
int ledger_text_require(const char *slug, const char *field, const char *text, size_t max_bytes,
			struct ledger_error *err);
int ledger_period_parse(const char *text, struct period *ret_period, struct ledger_error *err);
/* Today's date in the cooperative's time zone. */
void ledger_today(const struct ledger *ledger, struct date *ret_today);

/* Loads the signing key ([log] key_file, else log.key beside the database),
 * creating it (mode 0600) on first start, signs the empty log's checkpoint if
 * there is none, and verifies every entry and stored hash against the last
 * checkpoint. A log that does not verify still opens: ledger_tlog_problem() says
 * what is wrong. Other failures return an error and a sentence in errbuf. */
int ledger_tlog_open(struct store *store, const struct config *config,
		     struct ledger_tlog **ret_tlog, char *errbuf, size_t errbuf_len);
void ledger_tlog_free(struct ledger_tlog *tlog);

/* NULL while the log verifies; otherwise what is wrong, naming the first bad
 * entry. */
const char *ledger_tlog_problem(const struct ledger_tlog *tlog);
/* The verifier key line members check checkpoints with. */
const char *ledger_tlog_verifier_key(const struct ledger_tlog *tlog);
/* Where the log key is: [log] key_file, else log.key beside the database. */
int ledger_tlog_key_path(const struct config *config, char *ret_path, size_t len);
/* Where the largest checkpoint published is recorded: the database's path
 * with ".published", a file a restore of the database leaves alone. */
int ledger_tlog_published_path(const struct config *config, char *ret_path, size_t len);
/* The latest checkpoint's size and signed note, for publishing: recorded
 * first as published when it is larger than any before. The caller frees
 * *ret_note. */
int ledger_tlog_checkpoint_latest(struct ledger_tlog *tlog, int64_t *ret_size, char **ret_note);
/* For a log restored to before what this box published (or to another
 * log): appends an entry-lost entry for each index from the log's size to
 * the largest size published, then a log-restored entry, and signs the
 * checkpoint past that size; from then on the log takes entries again.
 * *ret_size is the size restored, *ret_published the new checkpoint's.
 * -EALREADY when the log is not behind. */
int ledger_tlog_record_loss(struct ledger_tlog *tlog, int64_t *ret_size, int64_t *ret_published);
/* Backs up the database and the log key into a new folder dest (which must
 * not exist): the database's snapshot of one moment, copied in steps while
 * the daemon goes on (progress, when not NULL, is told how far), as
 * dest/coopbill.db, and the key as dest/log.key. The copy is checked
 * (integrity_check, and its log verified with the key) before it takes the
 * name dest; on failure nothing is left at dest and errbuf says why.
 * *ret_log_size is the size of the copy's log. */
int ledger_backup(const struct config *config, const char *dest, store_copy_progress progress,
		  void *ctx, int64_t *ret_log_size, char *errbuf, size_t errbuf_len);
/* Replaces the database with the backup in folder source, checked first as
 * ledger_backup checks it (and migrated as the daemon would); the log key
 * must be this box's, or is installed from the backup when the box has none.
 * The caller holds the database's lock (store_lock). On failure the database
 * is as it was and errbuf says why. */
int ledger_restore(const struct config *config, const char *source, store_copy_progress progress,
		   void *ctx, int64_t *ret_log_size, char *errbuf, size_t errbuf_len);
/* Verifies the log of another copy of the database (a backup) with the key
 * in key_path, read-only: every entry against its stored hash and the root
 * against the last checkpoint, signed by that key under origin. On success
 * *ret_size is the log's size; otherwise errbuf says what is wrong. */
int ledger_tlog_check_copy(struct store *store, const char *key_path, const char *origin,
			   int64_t *ret_size, char *errbuf, size_t errbuf_len);

/* Appends entries (each non-empty text ending in a newline, at most 64 KiB)
 * and signs a checkpoint for the new size, all in the caller's transaction.
 * ret_first_index may be NULL. */
int ledger_tlog_append(struct ledger_tlog *tlog, const char *const *entries, size_t n_entries,
		       int64_t *ret_first_index);

/* The commitment that stands for a household in entries: BLAKE2b-256 keyed
 * with the household's secret salt, of its decimal id; the salt is created on
 * first use, in the caller's transaction. Both as lowercase hex. */
int ledger_tlog_household_commitment(struct ledger_tlog *tlog, int64_t household_id,
				     char ret_commitment[65], char ret_salt[65]);

/* Formats an entry: its type, the household's commitment when household_id
 * > 0, then fields ("key value\n" lines in the type's fixed order; NULL for
 * none), then the time. The caller frees *ret_entry. */
int ledger_tlog_entry_new(struct ledger_tlog *tlog, const char *type, int64_t household_id,
			  const char *fields, char **ret_entry);
/* Formats n entries of one type as ledger_tlog_entry_new() does, one for
 * each household (ids ascending, each once) with fields[i] its fields,
 * reading their salts in one query and storing those created in a few
 * statements. The caller frees each of ret_entries. */
int ledger_tlog_entries_new(struct ledger_tlog *tlog, const char *type,
			    const int64_t *household_ids, const char *const *fields, size_t n,
			    char **ret_entries);
/* Stamps entries with the time clock_s() says from now on, instead of the
 * wall clock: for tests that compare logs byte for byte. */
void ledger_tlog_clock_set(struct ledger_tlog *tlog, int64_t (*clock_s)(void));
/* Formats and appends one such entry; *ret_index (may be NULL) is its index. */
int ledger_tlog_log(struct ledger_tlog *tlog, const char *type, int64_t household_id,
		    const char *fields, int64_t *ret_index);

/* Signs text (which ends in a newline) as a C2SP signed note with the log
 * key. *ret_signature is the note's signature line, without its newline. */
int ledger_tlog_sign(struct ledger_tlog *tlog, const char *text, size_t len, char **ret_signature);

/* Entries of each kind, appended in the caller's transaction. */
int ledger_tlog_log_household(struct ledger_tlog *tlog, const char *type,
			      const struct household *household);
int ledger_tlog_log_token(struct ledger_tlog *tlog, const char *role, int64_t household_id);
/* One token-revoked entry per token, in the order given, appended together. */
int ledger_tlog_log_tokens_revoked(struct ledger_tlog *tlog, const struct store_token *tokens,
				   size_t n_tokens);
int ledger_tlog_log_gaps(struct ledger_tlog *tlog, const struct store_gap *gaps, size_t n_gaps);
/* The meter's gaps_log (see meter_new), whose context is the tlog: logs a
 * poll's gaps while the log verifies (1), else leaves them to wait (0) for
 * the next ledger_tlog_open() that finds it sound. */
int ledger_tlog_meter_gaps(void *tlog, const struct store_gap *gaps, size_t n_gaps);

/*
 * Households and their tokens (src/ledger/households.c).
 */

/* A new household: its name, the day it joined ("YYYY-MM-DD") and its
 * address ranges. actor names who asks, for the audit trail ("token:3"). */
struct ledger_household_new {
	const char *name;
	const char *joined_at;
	const struct cidr *addresses;
	size_t n_addresses;
	const char *gateway; /* the gateway that counts it; NULL: this daemon's */
	const char *actor;
};

/* Creates a household: the database, the audit trail, the tlog entry and
 * its ranges in the kernel, together. Refuses a joined_at that is not a
 * date or a gateway that is not a name (invalid-household), ranges that
 * overlap each other (invalid-address) or those of another active
 * household on its gateway (address-conflict), a
 * member joining while a period that ends after joined_at is being closed
 * (close-in-progress), and ranges the kernel refuses (LEDGER_UNAVAILABLE,
 * meter). *ret_household is the household created, for
 * store_household_free(). */
int ledger_household_create(struct ledger *ledger, const struct ledger_household_new *in,
			    struct household **ret_household, struct ledger_error *err);

/* A change of a household: what it names (a name, has_*, a left_at); the
 * rest stays. */
struct ledger_household_change {
	int64_t id;
	/* The household's own member asks, not the treasurer: only the name,
	 * and only while the household is active. */
	bool by_member;
	const char *actor;
	const char *name;
	bool has_addresses;
	const struct cidr *addresses;
	size_t n_addresses;
	bool has_status;
	enum household_status status;
	/* The day a closed household left ("YYYY-MM-DD"); closing without
	 * one closes it today. */
	const char *left_at;
	bool has_tariff_id;
	int64_t tariff_id; /* a published tariff; 0: the cooperative's */
	/* Another gateway to count it (NULL: the same): this daemon's kernel
	 * counts its traffic until the change, that gateway's from then. */
	const char *gateway;
};

/* Changes a household, closes or reopens it: the database, the audit
 * trail, the tlog entry and (when addresses, status or gateway are named)
 * its ranges in the kernel, together. Refuses as ledger_household_create()
 * does, and also: a household that does not exist or a tariff that does not
 * (not-found), a draft tariff (tariff-draft), a member's change of anything
 * but the name or of a closed household (forbidden), a gateway that is not
 * a name (invalid-household), a left_at without a
 * closed status or before joined_at (invalid-household), and a change of
 * tariff or membership while any period is being closed
 * (close-in-progress). *ret_household is the household changed. */
int ledger_household_change(struct ledger *ledger, const struct ledger_household_change *in,
			    struct household **ret_household, struct ledger_error *err);

/* The commitment that stands for a household in the tlog and the salt it
 * is made with, the salt made on first use; not-found when there is no such
 * household. */
int ledger_household_commitment(struct ledger *ledger, int64_t household_id,
				char ret_commitment[65], char ret_salt[65],
				struct ledger_error *err);

/* A token to issue: an admin's (household_id 0) or a member's of an active
 * household. name labels it (NULL: "household <id>"); actor is who asks. */
struct ledger_token_request {
	enum auth_role role;
	int64_t household_id;
	const char *name;
	const char *actor;
};

/* Issues a token (shown once: ret_token) and logs the issue in the audit
 * trail and the tlog, together. Refuses a household that does not exist
 * (not-found) or is closed (household-closed). */
int ledger_token_issue(struct ledger *ledger, const struct ledger_token_request *in,
		       char ret_token[AUTH_TOKEN_TEXT_MAX], struct ledger_error *err);

/*
 * Tokens seen and revoked (src/ledger/tokens.c).
 */

/* The tokens not revoked of household_id (which must exist: not-found), or
 * of the whole cooperative, admin tokens too, when it is 0; by id, for
 * free(). Never their secrets: only hashes are stored. */
int ledger_tokens_list(struct ledger *ledger, int64_t household_id, struct store_token **ret_tokens,
		       size_t *ret_n_tokens, struct ledger_error *err);

/* Revokes token_id, which must belong to household_id unless that is 0 (the
 * treasurer's revocation of any token): the token, an audit event and its
 * token-revoked tlog entry, together. From then on the token authenticates
 * no more. Refuses a token that does not exist, is revoked already or is
 * another household's (not-found). actor is who asks ("token:3", "cli"). */
int ledger_token_revoke(struct ledger *ledger, int64_t household_id, int64_t token_id,
			const char *actor, struct ledger_error *err);

/* "Sign out everywhere": revokes every token of household_id (which must
 * exist: not-found), the caller's own too, in one transaction with an audit
 * event and a tlog entry each. *ret_ids are the ids revoked, by id, for
 * free(); none when it had none. */
int ledger_tokens_revoke_household(struct ledger *ledger, int64_t household_id, const char *actor,
				   int64_t **ret_ids, size_t *ret_n_ids, struct ledger_error *err);

/*
 * Payments, adjustments, reversals and expenses (src/ledger/entries.c), and
 * usage imports (src/ledger/usage.c).
 */

/* A payment received from a household, which lowers what it owes by
 * amount_minor (1 to TARIFF_MINOR_MAX; a refund is an adjustment). */
struct ledger_payment_request {
	int64_t household_id;
	int64_t amount_minor;
	const char *method;	 /* "cash", "transfer": at most 50 bytes */
	const char *reference;	 /* NULL: none; at most 200 bytes */
	const char *received_on; /* YYYY-MM-DD, not after today */
	const char *actor;	 /* who records it, for the audit trail ("token:3") */
};
/* A correction of a household's balance by amount_minor (non-zero, within
 * TARIFF_MINOR_MAX either way; positive: the household owes more). */
struct ledger_adjustment_request {
	int64_t household_id;
	int64_t amount_minor;
	const char *reason; /* at most 500 bytes */
	const char *actor;
};
/* How a client writes an adjustment or a reversal, which their refusals
 * quote. */
#define LEDGER_ADJUSTMENT_SHAPE                                                  \
	"{\"household_id\": 7, \"amount_minor\": -250, \"reason\": \"...\"} or " \
	"{\"reverses\": 12, \"reason\": \"...\"}"
/* The reversal of entry `reverses`: an entry of the opposite amount for the
 * same household. An entry is reversed once, and a reversal never. */
struct ledger_reversal_request {
	int64_t reverses;
	const char *reason;
	const char *actor;
};
/* A cost of the cooperative in a period not yet closed, shared by the
 * tariffs that name its category. */
struct ledger_expense_request {
	const char *period;	  /* YYYY-MM */
	const char *category;	  /* 1 to TARIFF_CATEGORY_MAX of a-z, 0-9 and _ */
	int64_t amount_minor;	  /* 1 to TARIFF_MINOR_MAX, the period's total too */
	const char *description;  /* at most 500 bytes */
	const char *document_ref; /* NULL: none; at most 200 bytes */
	const char *actor;
};
/* Each checks the request (refusing with invalid-payment, invalid-adjustment,
 * invalid-expense, invalid-period, not-found, not-reversible, period-closed
 * or close-in-progress), then records the entry or expense with its tlog
 * entry in one transaction; *ret_id is its id. */
int ledger_payment_record(struct ledger *ledger, const struct ledger_payment_request *in,
			  int64_t *ret_id, struct ledger_error *err);
int ledger_adjustment_record(struct ledger *ledger, const struct ledger_adjustment_request *in,
			     int64_t *ret_id, struct ledger_error *err);
int ledger_reversal_record(struct ledger *ledger, const struct ledger_reversal_request *in,
			   int64_t *ret_id, struct ledger_error *err);
int ledger_expense_record(struct ledger *ledger, const struct ledger_expense_request *in,
			  int64_t *ret_id, struct ledger_error *err);

/* One row of usage metered elsewhere: a household's bytes in one bucket,
 * internet (bytes_up, bytes_down) and local (local_up, local_down). */
struct ledger_usage_row {
	int64_t household_id;
	const char *bucket_start; /* RFC 3339, on a [meter] bucket_s boundary, ended */
	int64_t bytes_up;	  /* each at most what a 400 Gbit/s link carries */
	int64_t bytes_down;	  /* in the bucket */
	int64_t local_up;
	int64_t local_down;
};
struct ledger_usage_import_request {
	const char *reason; /* at most 500 bytes */
	const struct ledger_usage_row *rows;
	size_t n_rows; /* 1 to 100,000; larger histories come in several */
	const char *actor;
};
/* Adds the rows to the households' usage, in periods that take it, and
 * records each with one tlog entry per household, in one transaction; or
 * refuses the whole import (invalid-import, open-bucket, not-found,
 * period-closed, close-in-progress), naming the first row refused. */
int ledger_usage_import(struct ledger *ledger, const struct ledger_usage_import_request *in,
			struct ledger_error *err);

/*
 * Tariffs: drafts and publishing (src/ledger/tariffs.c).
 */

/* The SHA-256 of text in lowercase hex. */
void ledger_sha256_hex(const char *text, char ret_hex[65]);

/* Whether everyone may see a tariff, quote and re-price under it: once it
 * is published or proposed to the members. A draft otherwise is the
 * treasurer's alone. */
bool ledger_tariff_shown(const struct store_tariff *tariff);

/* A tariff document as the treasurer sent it (len bytes, not necessarily
 * NUL-terminated), for a new draft or to replace draft id. */
struct ledger_tariff_draft_request {
	int64_t id; /* replace: the draft; create: ignored */
	const char *document;
	size_t len;
};
struct ledger_tariff_draft_result {
	int64_t id;
};
/* Stores the document as a new draft, or in place of a draft's, once it
 * validates strictly (invalid-tariff) and bills in the cooperative's currency.
 * A published tariff is refused as tariff-immutable. */
int ledger_tariff_create(struct ledger *ledger, const struct ledger_tariff_draft_request *in,
			 struct ledger_tariff_draft_result *out, struct ledger_error *err);
int ledger_tariff_replace(struct ledger *ledger, const struct ledger_tariff_draft_request *in,
			  struct ledger_tariff_draft_result *out, struct ledger_error *err);
/* Deletes a draft; a published tariff is refused as tariff-immutable. A
 * proposed draft is neither replaced nor deleted (tariff-proposed). */
int ledger_tariff_delete(struct ledger *ledger, int64_t id, struct ledger_error *err);

/* Proposes draft id to the members before it is published: a
 * tariff-proposed tlog entry (its id, sha256 and valid_from) and the
 * tariff's proposed status, together; *ret_log_index is the entry's index.
 * From then on anyone may read it, quote and re-price under it, and it can
 * only be published. Refuses a tariff that does not exist (not-found), or
 * is proposed or published already (already-proposed, already-published). */
int ledger_tariff_consult(struct ledger *ledger, int64_t id, int64_t *ret_log_index,
			  struct ledger_error *err);

struct ledger_label;
struct ledger_tariff_publish_request {
	int64_t id;
	struct date today; /* in the cooperative's time zone */
	/* Its label's profiles, read in steps (ledger_label_step) until done;
	 * NULL: they are read in the publish, at once. */
	struct ledger_label *label;
};
struct ledger_tariff_publish_result {
	int64_t log_index; /* of its tariff-published entry */
};
/* Publishes draft id: refused when its valid_from comes before the notice
 * members are owed (notice-period, unless it is an emergency), when a window
 * edge falls inside a meter bucket, or when a period it applies to is being
 * closed. Signs the document with the log key and logs it with its hash. */
int ledger_tariff_publish(struct ledger *ledger, const struct ledger_tariff_publish_request *in,
			  struct ledger_tariff_publish_result *out, struct ledger_error *err);
/* What ledger_tariff_publish() would refuse in, refused now, changing
 * nothing: so that a publish is refused before its label is read. */
int ledger_tariff_publish_check(struct ledger *ledger,
				const struct ledger_tariff_publish_request *in,
				struct ledger_error *err);

/*
 * Labels of published tariffs (src/ledger/label.c).
 */

struct tariff;
/* Begins reading the profiles of a label from the last closed period's
 * usage, when it billed enough households: max(5, n / 20) households each,
 * read one at a time by ledger_label_step() until *ret_done, so that
 * thousands of households do not hold the loop. */
int ledger_label_new(struct ledger *ledger, struct ledger_label **ret_label,
		     struct ledger_error *err);
int ledger_label_step(struct ledger_label *label, uint64_t deadline_ns, bool *ret_done,
		      struct ledger_error *err);
void ledger_label_free(struct ledger_label *label);
/* Makes the label of the tariff being published (stored is its row,
 * tariff its parsed document) from the profiles read in label (NULL, or
 * a period closed since it was begun: read now), signs it with the log key,
 * logs it (label-published) and stores it, in the caller's transaction; see
 * docs/tariffs.md, "Label". Refuses (invalid-tariff) a tariff whose charges
 * for a profile do not fit in 64 bits. */
int ledger_label_publish(struct ledger *ledger, const struct store_tariff *stored,
			 const struct tariff *tariff, struct ledger_label *label,
			 struct ledger_error *err);
/* A published tariff's label as the API shows it: {"tariff_id", "sha256",
 * "signature", "log_index", "published_at", "document"} as JSON text, for
 * the caller to free. not-found for no such tariff, a draft, or a tariff
 * published before labels existed. */
int ledger_label_get(struct ledger *ledger, int64_t tariff_id, char **ret_reply,
		     struct ledger_error *err);

/*
 * Quotes (src/ledger/quote.c).
 */

/* A point of usage: an hour's (start, RFC 3339 on the hour) or a period's
 * totals (start unused), in bytes, as the usage series shows them. */
struct ledger_quote_point {
	const char *start;
	int64_t bytes_up;
	int64_t bytes_down;
	int64_t local_up;
	int64_t local_down;
};
struct ledger_quote_request {
	int64_t tariff_id;
	bool drafts; /* the treasurer asks, who may quote a draft not proposed */
	const char *period;
	const char *joined_at; /* YYYY-MM-DD */
	const char *left_at;   /* NULL: still a member */
	/* The usage: an hourly series (at most a point per hour of the
	 * period), or totals. */
	const struct ledger_quote_point *points;
	size_t n_points;
	bool has_totals;
	struct ledger_quote_point totals;
};
/* The invoice tariff_id would give this usage in the period, made as the
 * close makes a household's (see bill_quote()), nothing stored or logged:
 * the document (JSON text) for the caller to free. Refuses a tariff that
 * does not exist, or a draft not proposed when drafts is false (not-found),
 * a bad period (invalid-period), and (invalid-quote) dates that are not dates or a
 * membership outside the period, points off the hour, outside the period,
 * twice or with more bytes than a 400 Gbit/s link carries, and totals for a
 * tariff that prices by the time of the week. */
int ledger_quote(struct ledger *ledger, const struct ledger_quote_request *in, char **ret_document,
		 struct ledger_error *err);

/*
 * The period close, the estimate and the period's summary
 * (src/ledger/close.c).
 */
struct period;
struct ledger_close;
struct ledger_reading;
struct ledger_summary;

/* A closed period as its close recorded it. */
struct ledger_closed_period {
	char period[8];
	int64_t households; /* the invoices issued */
	int64_t total_minor;
	char closed_at[24]; /* YYYY-MM-DDTHH:MM:SSZ */
	int64_t log_index;  /* its period-closed tlog entry */
	char *summary;	    /* the period's summary document (JSON text) */
};
void ledger_closed_period_clear(struct ledger_closed_period *closed);

/* A period's close as recorded; -ENOENT (a not-found refusal) while it is
 * not closed. */
int ledger_period_closed(struct ledger *ledger, const char *period,
			 struct ledger_closed_period *ret_closed, struct ledger_error *err);

struct ledger_close_request {
	const struct period *period;
	const char *actor; /* who closes it, on the ledger's debits */
	int64_t now_s;	   /* the period must have ended by then */
	/* The period whose close runs in this process now, or NULL: one close
	 * at a time. */
	const char *running;
};

/* Begins a period's close, or resumes one that was interrupted (a stopped
 * daemon, a failure): from then on the period takes no change to what it
 * bills, and it shares the expenses recorded so far. Refuses when the
 * period has not ended (period-open), when another close runs
 * (close-in-progress) or when no tariff is in force (no-tariff). When the
 * period is closed already, *ret_close is NULL and *ret_closed says how it
 * was closed. */
int ledger_close_begin(struct ledger *ledger, const struct ledger_close_request *in,
		       struct ledger_close **ret_close, struct ledger_closed_period *ret_closed,
		       struct ledger_error *err);
/* One step: reads the period's usage until deadline_ns (uv_hrtime()), or
 * once it is read, issues the invoices of the next members (at least one,
 * at most a batch, until the deadline) with their tlog entries and ledger
 * debits in one transaction. Invoices issued before an interruption are
 * counted, not issued again. Call again until *ret_done. */
int ledger_close_step(struct ledger_close *close, uint64_t deadline_ns, bool *ret_done,
		      struct ledger_error *err);
/* Once every invoice is issued: the period's row with its totals and
 * summary, and its period-closed tlog entry, in one transaction. */
int ledger_close_finish(struct ledger_close *close, struct ledger_closed_period *ret_closed,
			struct ledger_error *err);
/* The period being closed ("YYYY-MM"). */
const char *ledger_close_period(const struct ledger_close *close);
/* Stops a close where it is; what it issued is kept. */
void ledger_close_free(struct ledger_close *close);

/* A reading of an open period's usage up to until_s, which estimates and
 * summaries may share. Refuses with no-tariff when no tariff is in force.
 * Read it with ledger_reading_step() until done. */
int ledger_reading_new(struct ledger *ledger, const struct period *period, int64_t until_s,
		       struct ledger_reading **ret_reading, struct ledger_error *err);
int ledger_reading_step(struct ledger_reading *reading, uint64_t deadline_ns, bool *ret_done,
			struct ledger_error *err);
void ledger_reading_free(struct ledger_reading *reading);

/* A household's running bill from a reading: its invoice as if the period
 * ended with the usage read, as the JSON document the member sees (with
 * "estimate": true and "usage_until_s"). Refuses with not-a-member. The
 * caller frees *ret_document. */
int ledger_estimate(struct ledger_reading *reading, int64_t household_id, char **ret_document,
		    struct ledger_error *err);

/* Re-pricing: a household's usage of a closed period priced under another
 * tariff, beside the invoice it was issued. A re-pricing is a reading of the
 * period (stepped with ledger_reading_step() until done, freed with
 * ledger_reading_free()). Refuses a bad period (invalid-period), a household
 * or tariff that does not exist, a draft not proposed when drafts is false,
 * no invoice for the household (not-found), and a period not closed
 * (period-open). */
struct ledger_reprice_request {
	int64_t household_id;
	const char *period; /* YYYY-MM */
	int64_t tariff_id;
	bool drafts; /* the treasurer asks, who may re-price under a draft not proposed */
};
int ledger_reprice_new(struct ledger *ledger, const struct ledger_reprice_request *in,
		       struct ledger_reading **ret_reading, struct ledger_error *err);
/* Once read: {"household_id", "period", "invoice": the issued document,
 * "repriced": the document the tariff makes of the same usage (see
 * bill_run_reprice()), "difference_minor": repriced total - issued total}
 * as JSON text, for the caller to free. */
int ledger_reprice(struct ledger_reading *reading, char **ret_document, struct ledger_error *err);

/*
 * The impact of a tariff (src/ledger/impact.c).
 */
struct ledger_impact;

/* Who asks for an impact: the treasurer (drafts true, household_id 0), who
 * sees every household, or a member, who sees their own. */
struct ledger_impact_request {
	int64_t tariff_id;
	bool drafts;	      /* the treasurer asks, who may see a draft's */
	int64_t household_id; /* the member's; 0 for the treasurer */
};
/* Refuses a tariff that does not exist, or a draft not proposed when drafts
 * is false (not-found). */
int ledger_impact_check(struct ledger *ledger, const struct ledger_impact_request *in,
			struct ledger_error *err);
/* Begins the impact of tariff_id on the last three closed periods (fewer
 * when fewer are closed): every household invoiced in them re-priced under
 * it (with cost sharing, shares as if every household had followed it),
 * beside its invoice. Refuses with no-closed-period when none is closed.
 * Step it until done; its figures serve any number of replies. */
int ledger_impact_new(struct ledger *ledger, int64_t tariff_id, struct ledger_impact **ret_impact,
		      struct ledger_error *err);
/* One step: reads a period's usage, or re-prices its invoices, until
 * deadline_ns (uv_hrtime()). Call again until *ret_done. */
int ledger_impact_step(struct ledger_impact *impact, uint64_t deadline_ns, bool *ret_done,
		       struct ledger_error *err);
/* Once done, the reply for in as JSON text, for the caller to free: the
 * periods, how many household-periods would pay more, less or the same and
 * by how much in all, the differences' quantiles (nearest rank), revenue as
 * invoiced and as re-priced against the periods' expenses, the same by
 * period, and "mine" (a member's household, each period it was invoiced in)
 * or "households" (every one, for the treasurer). */
int ledger_impact_document(const struct ledger_impact *impact,
			   const struct ledger_impact_request *in, char **ret_document,
			   struct ledger_error *err);
void ledger_impact_free(struct ledger_impact *impact);

/* An open period's summary from a reading (which must outlive it): every
 * member rated, a slice at a time, and added up with the period's expenses
 * and cost sharing. Aggregates only. */
int ledger_summary_new(struct ledger *ledger, struct ledger_reading *reading,
		       struct ledger_summary **ret_summary);
int ledger_summary_step(struct ledger_summary *summary, uint64_t deadline_ns, bool *ret_done,
			struct ledger_error *err);
/* The summary document (JSON text) once done; the caller frees it. */
int ledger_summary_finish(struct ledger_summary *summary, char **ret_document,
			  struct ledger_error *err);
void ledger_summary_free(struct ledger_summary *summary);
