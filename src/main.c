/* coopbilld: the command line, then either a one-shot command (check the
 * configuration, create a token) or the daemon. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		"                 [--household ID]\n"
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
		"                      --role member needs --household ID. Works while the\n"
		"                      daemon runs.\n",
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

static int token_create(const char *config_path, int argc, char **argv)
{
	static const struct option options[] = {
		{ "role", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'N' },
		{ "household", required_argument, NULL, 'H' },
		{ 0 },
	};
	const char *role_name = NULL, *name = NULL, *household_text = NULL;
	char token[AUTH_TOKEN_TEXT_MAX], errbuf[512];
	struct ledger_tlog *tlog = NULL;
	struct ledger_error err;
	struct ledger ledger;
	struct config *config = NULL;
	struct store *store = NULL;
	int64_t household_id = 0;
	enum auth_role role;
	int c, r, exit_code = 1;

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

	if (load_config(config_path, &config) < 0)
		goto out;
	r = store_open(config->database_path, &store, errbuf, sizeof(errbuf));
	if (r < 0) {
		fprintf(stderr, "database %s: %s\n", config->database_path, errbuf);
		goto out;
	}
	r = ledger_tlog_open(store, config, &tlog, errbuf, sizeof(errbuf));
	if (r < 0) {
		fprintf(stderr, "%s\n", errbuf);
		goto out;
	}
	if (ledger_tlog_problem(tlog)) {
		fprintf(stderr, "the transparency log does not verify: %s\n",
			ledger_tlog_problem(tlog));
		goto out;
	}
	ledger = (struct ledger){ .store = store, .tlog = tlog, .config = config };
	r = ledger_token_issue(
		&ledger,
		&(struct ledger_token_request){
			.role = role, .household_id = household_id, .name = name, .actor = "cli" },
		token, &err);
	if (r < 0) {
		if (err.kind == LEDGER_STORAGE)
			fprintf(stderr, "cannot create the token: %s\n", strerror(-r));
		else
			fprintf(stderr, "%s\n", err.detail);
		goto out;
	}
	printf("%s\n", token);
	exit_code = 0;
out:
	ledger_tlog_free(tlog);
	store_free(store);
	config_free(config);
	return exit_code;
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
		if (optind + 1 < argc && strcmp(argv[optind], "token") == 0 &&
		    strcmp(argv[optind + 1], "create") == 0)
			return token_create(config_path, argc - optind - 1, argv + optind + 1);
		fprintf(stderr, "unknown command \"%s\"; see coopbilld --help\n", argv[optind]);
		return 2;
	}
	return daemon_run(config_path);
}
