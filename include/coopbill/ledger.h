/* The daemon's transparency log: canonical text entries for what the
 * cooperative does, appended with their Merkle hashes and a newly signed
 * checkpoint inside the caller's write transaction, and verified against the
 * last signed checkpoint when opened. Households appear in entries only as
 * salted commitments. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct config;
struct household;
struct store;
struct store_gap;

struct ledger_tlog;

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
int ledger_tlog_log_gaps(struct ledger_tlog *tlog, const struct store_gap *gaps, size_t n_gaps);
