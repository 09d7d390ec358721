/* coopbilld: the command line, then either a one-shot command (check the
 * configuration; create, list or revoke tokens; back up or restore the
 * database; record a loss in the log) or the daemon. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"
#include "coopbill/auth.h"
#include "coopbill/config.h"
#include "coopbill/meter.h"
#include "coopbill/daemon.h"
#include "coopbill/ledger.h"
#include "coopbill/store.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: coopbilld [--config FILE] [--check-config]\n"
		"       coopbilld [--config FILE] token create --role admin|member --name NAME\n"
		"                 [--household ID] [--link]\n"
		"       coopbilld [--config FILE] token list\n"
		"       coopbilld [--config FILE] token revoke ID\n"
		"       coopbilld [--config FILE] backup DEST\n"
		"       coopbilld [--config FILE] restore SRC\n"
		"       coopbilld [--config FILE] log record-loss\n"
		"\n"
		"Meters, bills and publishes a community network's usage and prices.\n"
		"\n"
		"  -c, --config FILE   configuration file (default %s)\n"
		"  -n, --check-config  validate the configuration, print \"configuration OK\"\n"
		"                      and exit 0, or print the errors and exit 1\n"
		"  -V, --version       print the version and exit\n"
		"  -h, --help          print this help and exit\n"
		"\n"
		"commands:\n"
		"  token create        create an API token and print it alone on stdout; it is\n"
		"                      shown only this once. --role admin is the treasurer's;\n"
		"                      --role member needs --household ID. --link prints the\n"
		"                      sign-in link, [server] public_url/#token=TOKEN, instead\n"
		"  token list          list the tokens not revoked: id, role, household, name,\n"
		"                      when issued and when last used (never their secrets)\n"
		"  token revoke ID     revoke a token (a member's or an admin's) by its id: it\n"
		"                      is refused from then on\n"
		"  backup DEST         copy the database (a snapshot, while the daemon runs)\n"
		"                      and the log key into the new folder DEST, and verify\n"
		"                      the copy: its integrity and its log against the last\n"
		"                      signed checkpoint\n"
		"  restore SRC         replace the database with the backup in folder SRC,\n"
		"                      verified first; refused while the daemon runs\n"
		"  log record-loss     after restoring a backup older than the last checkpoint\n"
		"                      the box published: record the entries lost in the log,\n"
		"                      so that it takes entries again; refused while the\n"
		"                      daemon runs\n"
		"The token commands and backup work while the daemon runs.\n",
		CONFIG_DEFAULT_PATH);
}

static int load_config(const char *path, struct config **ret_config)
{
	char *errors = NULL;
	int r;

	r = config_load(path, ret_config, &errors);
	if (r < 0) {
		fprintf(stderr, "%s", errors ? errors : strerror(-r));
		if (!errors || errors[strlen(errors) - 1] != '\n')
			fputc('\n', stderr);
		free(errors);
	}
	return r;
}

static int check_config(const char *path)
{
	struct config *config;

	char note[512];

	if (load_config(path, &config) < 0)
		return 1;
	/* A note, not a problem: on stderr, beside the verdict on stdout. */
	if (meter_uplinks_note(config, METER_ROUTE4_PATH, METER_ROUTE6_PATH, note, sizeof(note)))
		fprintf(stderr, "%s\n", note);
	config_free(config);
	printf("configuration OK\n");
	return 0;
}

/* What the token commands work with: the configuration, the database and
 * its tlog, opened as the daemon opens them (also while it runs). */
struct cli {
	struct config *config;
	struct store *store;
	struct ledger_tlog *tlog;
	struct ledger ledger;
};

static void cli_close(struct cli *cli)
{
	ledger_tlog_free(cli->tlog);
	store_free(cli->store);
	config_free(cli->config);
	*cli = (struct cli){ 0 };
}

/* Opens what the token commands need, saying on stderr what failed. A log
 * that does not verify is refused (nothing is written to it), unless
 * problems_too. */
static int cli_open_log(const char *config_path, bool problems_too, struct cli *ret_cli)
{
	struct cli cli = { 0 };
	char errbuf[512];
	int r;

	r = load_config(config_path, &cli.config);
	if (r < 0)
		return r;
	r = store_open_config(cli.config, &cli.store, errbuf, sizeof(errbuf));
	if (r < 0) {
		fprintf(stderr, "database %s: %s\n", config_database_name(cli.config), errbuf);
		goto out;
	}
	r = ledger_tlog_open(cli.store, cli.config, &cli.tlog, errbuf, sizeof(errbuf));
	if (r < 0) {
		fprintf(stderr, "%s\n", errbuf);
		goto out;
	}
	if (!problems_too && ledger_tlog_problem(cli.tlog)) {
		fprintf(stderr, "the transparency log cannot take entries: %s\n",
			ledger_tlog_problem(cli.tlog));
		r = -EBADMSG;
		goto out;
	}
	cli.ledger = (struct ledger){ .store = cli.store, .tlog = cli.tlog, .config = cli.config };
out:
	if (r < 0)
		cli_close(&cli);
	else
		*ret_cli = cli;
	return r;
}

static int cli_open(const char *config_path, struct cli *ret_cli)
{
	return cli_open_log(config_path, false, ret_cli);
}

/* Takes the database's lock, which the daemon holds while it runs; says on
 * stderr who holds it. Returns the lock's descriptor. */
static int cli_lock(const char *config_path, const char *what)
{
	struct config *config;
	long holder = 0;
	int fd, r;

	if (load_config(config_path, &config) < 0)
		return -EINVAL;
	if (config->database_url[0]) {
		fprintf(stderr,
			"cannot %s on a PostgreSQL database ([database] url): this command works "
			"on "
			"SQLite's file ([database] path) only\n",
			what);
		config_free(config);
		return -EOPNOTSUPP;
	}
	r = store_lock(config->database_path, &fd, &holder);
	if (r == -EBUSY)
		fprintf(stderr,
			"cannot %s while coopbilld (process %ld) runs on the database %s: stop it "
			"first (systemctl stop coopbilld)\n",
			what, holder, config->database_path);
	else if (r < 0)
		fprintf(stderr, "cannot lock the database %s: %s\n", config->database_path,
			strerror(-r));
	config_free(config);
	return r < 0 ? r : fd;
}

/* Shows how far a copy is, on a terminal only. */
static void copy_progress(int pages_done, int pages_total, void *ctx)
{
	const char *what = ctx;

	fprintf(stderr, "\r%s: %3d%% (%d of %d pages)", what,
		pages_total ? (int)(100LL * pages_done / pages_total) : 100, pages_done,
		pages_total);
	if (pages_done == pages_total)
		fputc('\n', stderr);
}

static int backup(const char *config_path, int argc, char **argv)
{
	struct config *config;
	char errbuf[1024];
	int64_t log_size;
	int r;

	if (argc != 2) {
		fprintf(stderr, "backup takes the folder to create, like "
				"/var/backups/coopbill/2026-01-31\n");
		return 2;
	}
	if (load_config(config_path, &config) < 0)
		return 1;
	r = ledger_backup(config, argv[1], isatty(STDERR_FILENO) ? copy_progress : NULL,
			  (void *)"copying the database", &log_size, errbuf, sizeof(errbuf));
	if (r < 0)
		fprintf(stderr, "backup failed: %s\n", errbuf);
	else
		printf("backed up %s and its log key into %s; the copy verifies (log of %lld "
		       "entries)\n",
		       config->database_path, argv[1], (long long)log_size);
	config_free(config);
	return r < 0 ? 1 : 0;
}

static int restore(const char *config_path, int argc, char **argv)
{
	struct config *config = NULL;
	char errbuf[1024];
	int64_t log_size;
	struct cli cli;
	int lock, r;

	if (argc != 2) {
		fprintf(stderr,
			"restore takes the folder of a backup that coopbilld backup made\n");
		return 2;
	}
	lock = cli_lock(config_path, "restore");
	if (lock < 0)
		return 1;
	r = load_config(config_path, &config);
	if (r == 0) {
		r = ledger_restore(config, argv[1], isatty(STDERR_FILENO) ? copy_progress : NULL,
				   (void *)"copying the backup", &log_size, errbuf, sizeof(errbuf));
		if (r < 0)
			fprintf(stderr, "restore failed, the database is as it was: %s\n", errbuf);
	}
	/* Opened as the daemon will: says whether the log may sign again. */
	if (r == 0)
		r = cli_open_log(config_path, true, &cli);
	if (r == 0) {
		printf("restored %s from %s (log of %lld entries)\n", config->database_path,
		       argv[1], (long long)log_size);
		if (ledger_tlog_problem(cli.tlog))
			fprintf(stderr, "but: %s\n", ledger_tlog_problem(cli.tlog));
		cli_close(&cli);
	}
	config_free(config);
	close(lock);
	return r < 0 ? 1 : 0;
}

static int log_record_loss(const char *config_path, int argc, char **argv)
{
	int64_t restored_size, size;
	struct cli cli;
	int lock, r;

	if (argc != 1) {
		fprintf(stderr, "log record-loss takes no arguments\n");
		return 2;
	}
	lock = cli_lock(config_path, "record a loss in the log");
	if (lock < 0)
		return 1;
	r = cli_open_log(config_path, true, &cli);
	if (r == 0) {
		r = ledger_tlog_record_loss(cli.tlog, &restored_size, &size);
		if (r == -EALREADY)
			fprintf(stderr, "%s\n",
				ledger_tlog_problem(cli.tlog)
					? ledger_tlog_problem(cli.tlog)
					: "the log is not behind what this box published: there is "
					  "no loss to record");
		else if (r < 0)
			fprintf(stderr, "cannot record the loss: %s\n", strerror(-r));
		else
			printf("recorded the loss: the log had %lld entries, and goes on from a "
			       "checkpoint of %lld, past every size this box signed before\n",
			       (long long)restored_size, (long long)size);
		cli_close(&cli);
	}
	close(lock);
	return r < 0 ? 1 : 0;
}

/* Says on stderr why a ledger operation failed. */
static void cli_ledger_error(const char *what, int r, const struct ledger_error *err)
{
	if (err->kind == LEDGER_STORAGE)
		fprintf(stderr, "cannot %s: %s\n", what, strerror(-r));
	else
		fprintf(stderr, "%s\n", err->detail);
}

static int token_create(const char *config_path, int argc, char **argv)
{
	static const struct option options[] = {
		{ "role", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'N' },
		{ "household", required_argument, NULL, 'H' },
		{ "link", no_argument, NULL, 'l' },
		{ 0 },
	};
	const char *role_name = NULL, *name = NULL, *household_text = NULL;
	char token[AUTH_TOKEN_TEXT_MAX], *signin_url = NULL;
	struct ledger_error err;
	struct cli cli;
	int64_t household_id = 0;
	enum auth_role role;
	bool link = false, issued;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'r':
			role_name = optarg;
			break;
		case 'N':
			name = optarg;
			break;
		case 'H':
			household_text = optarg;
			break;
		case 'l':
			link = true;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !role_name || !name || auth_role_from_name(role_name, &role) < 0) {
		fprintf(stderr, "token create needs --role admin|member and --name NAME\n");
		return 2;
	}
	if ((role == AUTH_ROLE_MEMBER) != (household_text != NULL)) {
		fprintf(stderr, "--household ID is needed for --role member, and only there\n");
		return 2;
	}
	if (household_text) {
		char *end;

		household_id = strtoll(household_text, &end, 10);
		if (household_id <= 0 || *end != '\0') {
			fprintf(stderr, "--household takes a household id, like 3\n");
			return 2;
		}
	}

	if (cli_open(config_path, &cli) < 0)
		return 1;
	r = ledger_token_issue(
		&cli.ledger,
		&(struct ledger_token_request){
			.role = role, .household_id = household_id, .name = name, .actor = "cli" },
		token, &err);
	issued = r == 0;
	if (issued && link)
		r = auth_signin_url(cli.config->public_url, token, &signin_url);
	if (r == 0)
		printf("%s\n", link ? signin_url : token);
	else if (issued)
		/* Issued and never shown: it should not stay valid. */
		fprintf(stderr, "the token was created, but its sign-in link could not be made "
				"(short of memory); revoke it (token list shows it) and create "
				"another\n");
	else
		cli_ledger_error("create the token", r, &err);
	free(signin_url);
	cli_close(&cli);
	return r < 0 ? 1 : 0;
}

static int token_list(const char *config_path, int argc, char **argv)
{
	struct store_token *tokens = NULL;
	struct ledger_error err;
	struct cli cli;
	int name_width = 4;
	size_t n = 0;
	int r;

	if (argc != 1) {
		fprintf(stderr, "token list takes no arguments\n");
		return 2;
	}
	if (cli_open(config_path, &cli) < 0)
		return 1;
	r = ledger_tokens_list(&cli.ledger, 0, &tokens, &n, &err);
	if (r < 0) {
		cli_ledger_error("list the tokens", r, &err);
		cli_close(&cli);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		if ((int)strlen(tokens[i].name) > name_width)
			name_width = (int)strlen(tokens[i].name);
	printf("%-6s %-6s %-9s %-*s %-20s %s\n", "ID", "ROLE", "HOUSEHOLD", name_width, "NAME",
	       "CREATED", "LAST USED");
	for (size_t i = 0; i < n; i++) {
		char household[24] = "-";

		if (tokens[i].household_id)
			snprintf(household, sizeof(household), "%lld",
				 (long long)tokens[i].household_id);
		printf("%-6lld %-6s %-9s %-*s %-20s %s\n", (long long)tokens[i].id, tokens[i].role,
		       household, name_width, tokens[i].name, tokens[i].created_at,
		       tokens[i].last_used_at[0] ? tokens[i].last_used_at : "never");
	}
	free(tokens);
	cli_close(&cli);
	return 0;
}

static int token_revoke(const char *config_path, int argc, char **argv)
{
	struct ledger_error err;
	long long token_id;
	struct cli cli;
	char *end;
	int r;

	if (argc != 2) {
		fprintf(stderr, "token revoke takes one token id, as token list shows it\n");
		return 2;
	}
	errno = 0;
	token_id = strtoll(argv[1], &end, 10);
	if (errno || token_id <= 0 || *end != '\0' || argv[1][0] < '0' || argv[1][0] > '9') {
		fprintf(stderr, "\"%s\" is not a token id; token list shows them\n", argv[1]);
		return 2;
	}
	if (cli_open(config_path, &cli) < 0)
		return 1;
	r = ledger_token_revoke(&cli.ledger, 0, token_id, "cli", &err);
	if (r < 0)
		cli_ledger_error("revoke the token", r, &err);
	else
		printf("token %lld revoked\n", token_id);
	cli_close(&cli);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config_path = CONFIG_DEFAULT_PATH;
	bool check = false;
	int c;

	/* "+": stop at the first command word; the command parses the rest. */
	while ((c = getopt_long(argc, argv, "+c:nVh", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'n':
			check = true;
			break;
		case 'V':
			printf("coopbilld %s\n", COOPBILL_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (check)
		return check_config(config_path);
	if (optind < argc) {
		if (optind + 1 < argc && strcmp(argv[optind], "token") == 0) {
			const char *command = argv[optind + 1];

			if (strcmp(command, "create") == 0)
				return token_create(config_path, argc - optind - 1,
						    argv + optind + 1);
			if (strcmp(command, "list") == 0)
				return token_list(config_path, argc - optind - 1,
						  argv + optind + 1);
			if (strcmp(command, "revoke") == 0)
				return token_revoke(config_path, argc - optind - 1,
						    argv + optind + 1);
			fprintf(stderr,
				"unknown command \"token %s\"; the token commands are create, "
				"list and revoke\n",
				command);
			return 2;
		}
		if (strcmp(argv[optind], "backup") == 0)
			return backup(config_path, argc - optind, argv + optind);
		if (strcmp(argv[optind], "restore") == 0)
			return restore(config_path, argc - optind, argv + optind);
		if (strcmp(argv[optind], "log") == 0 && optind + 1 < argc &&
		    strcmp(argv[optind + 1], "record-loss") == 0)
			return log_record_loss(config_path, argc - optind - 1, argv + optind + 1);
		fprintf(stderr, "unknown command \"%s\"; see coopbilld --help\n", argv[optind]);
		return 2;
	}
	return daemon_run(config_path);
}
