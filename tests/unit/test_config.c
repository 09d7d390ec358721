/* Unit tests for the configuration file: defaults, every key, and that each
 * kind of mistake is reported with the file, the line and the key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coopbill/config.h"
#include "coopbill/currency.h"
#include "coopbill/tz.h"

#define TEST_PATH_TEMPLATE "/tmp/coopbill-test-config-XXXXXX"
#define TEST_PATH_SIZE	   sizeof(TEST_PATH_TEMPLATE)

/* Stands in for "not written": config_load() must leave it alone on success. */
static char untouched_marker;

static void write_config(const char *text, char path[TEST_PATH_SIZE])
{
	size_t len = strlen(text);
	int fd;

	memcpy(path, TEST_PATH_TEMPLATE, TEST_PATH_SIZE);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Writes the text to a temporary file, loads it, and removes the file. */
static int load_text(const char *text, char path[TEST_PATH_SIZE], struct config **ret_config,
		     char **ret_errors)
{
	int r;

	write_config(text, path);
	*ret_config = NULL;
	*ret_errors = &untouched_marker;
	r = config_load(path, ret_config, ret_errors);
	assert_int_equal(unlink(path), 0);
	return r;
}

static size_t count_lines(const char *text)
{
	size_t lines = 0;

	for (; *text; text++)
		if (*text == '\n')
			lines++;
	return lines;
}

/* Asserts that one line of the errors starts with "path:line: where:". */
static void assert_error_at(const char *errors, const char *path, int line, const char *where)
{
	char prefix[256];
	const char *found = errors;
	size_t len;

	len = (size_t)snprintf(prefix, sizeof(prefix), "%s:%d: %s", path, line, where);
	while ((found = strstr(found, prefix))) {
		if (found == errors || found[-1] == '\n')
			return;
		found += len;
	}
	fail_msg("no error starting with \"%s\" in:\n%s", prefix, errors);
}

/* Loads a file whose only problem is on the given line and checks the report. */
static void assert_single_error(const char *text, int line, const char *where,
				const char *must_contain)
{
	char path[TEST_PATH_SIZE];
	struct config *config;
	char *errors;

	assert_int_equal(load_text(text, path, &config, &errors), -EINVAL);
	assert_null(config);
	assert_non_null(errors);
	assert_ptr_not_equal(errors, &untouched_marker);
	assert_error_at(errors, path, line, where);
	if (must_contain && !strstr(errors, must_contain))
		fail_msg("\"%s\" not in:\n%s", must_contain, errors);
	assert_int_equal(count_lines(errors), 1);
	free(errors);
}

static void assert_ipv4(const struct config *config, const char *addr, unsigned port)
{
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)&config->listen_addr;
	struct in_addr expected;

	assert_int_equal(config->listen_addr_len, sizeof(struct sockaddr_in));
	assert_int_equal(in4->sin_family, AF_INET);
	assert_int_equal(ntohs(in4->sin_port), port);
	assert_int_equal(inet_pton(AF_INET, addr, &expected), 1);
	assert_memory_equal(&in4->sin_addr, &expected, sizeof(expected));
}

static void assert_defaults(const struct config *config)
{
	assert_string_equal(config->listen, "127.0.0.1:8080");
	assert_ipv4(config, "127.0.0.1", 8080);
	assert_int_equal(config->n_cors_origins, 0);
	assert_int_equal(config->max_connections, 256);
	assert_int_equal(config->max_connections_per_ip, 32);
	assert_int_equal(config->connection_timeout_s, 30);
	assert_int_equal(config->connection_memory_bytes, 16384);
	assert_int_equal(config->max_body_bytes, 1048576);
	assert_string_equal(config->database_path, "/var/lib/coopbill/coopbill.db");
	assert_string_equal(config->database_url, "");
	assert_int_equal(config->meter_interval_s, 60);
	assert_string_equal(config->meter_table, "coopbill");
	assert_string_equal(config->meter_gateway, "main");
	assert_string_equal(config->currency, "EUR");
	assert_string_equal(config->timezone, "UTC");
	assert_int_equal(config->max_series_points, 10000);
	assert_true(config->metrics_public);
	assert_true(config->meter_enabled);
	assert_int_equal(config->meter_bucket_s, 300);
	assert_true(config->meter_wait_for_ntp);
	assert_int_equal(config->meter_keep_buckets_days, 62);
	assert_int_equal(config->n_meter_uplinks, 0);
	assert_string_equal(config->public_url, "http://127.0.0.1:8080");
	assert_true(config->www_dir[0] == '/');
	assert_string_equal(config->coop_name, "");
	assert_string_equal(config->coop_address, "");
	assert_string_equal(config->coop_tax_id, "");
	assert_int_equal(config->label_light_down_gb, 15);
	assert_int_equal(config->label_light_up_gb, 2);
	assert_int_equal(config->label_typical_down_gb, 80);
	assert_int_equal(config->label_typical_up_gb, 10);
	assert_int_equal(config->label_heavy_down_gb, 300);
	assert_int_equal(config->label_heavy_up_gb, 40);
}

static void test_defaults_when_file_is_empty(void **state)
{
	char path[TEST_PATH_SIZE];
	struct config *config;
	char *errors;

	assert_int_equal(load_text("", path, &config, &errors), 0);
	assert_ptr_equal(errors, &untouched_marker);
	assert_non_null(config);
	assert_string_equal(config->path, path);
	assert_ptr_not_equal(config->path, path);
	assert_defaults(config);
	assert_false(config_cors_allows(config, "http://localhost:3000"));
	config_free(config);
}

static void test_example_config_loads(void **state)
{
	const char *srcdir = getenv("COOPBILL_SRCDIR");
	struct config *config = NULL;
	char *errors = &untouched_marker;
	char path[4096];
	int r;

	if (!srcdir)
		skip();
	snprintf(path, sizeof(path), "%s/etc/coopbill.conf", srcdir);
	r = config_load(path, &config, &errors);
	if (r < 0)
		fail_msg("%s does not load: %s", path, errors == &untouched_marker ? "" : errors);
	assert_ptr_equal(errors, &untouched_marker);
	assert_defaults(config);
	config_free(config);
}

static void test_every_key_is_read(void **state)
{
	char path[TEST_PATH_SIZE];
	struct config *config;
	char *errors;

	assert_int_equal(
		load_text("[server]\n"
			  "listen = 10.0.0.1:9090\n"
			  "cors_origins = https://coop.example\n"
			  "max_connections = 1000\n"
			  "max_connections_per_ip = 1000\n"
			  "connection_timeout_s = 3600\n"
			  "connection_memory_bytes = 4096\n"
			  "max_body_bytes = 67108864\n"
			  "max_series_points = 500\n"
			  "metrics_public = false\n"
			  "www = /srv/coop/www\n"
			  "public_url = http://coop.example:8080/\n"
			  "[cooperative]\n"
			  "name = Xarxa Oberta del Poble, SCCL\n"
			  "address = Carrer Major 1, 25001 Lleida\n"
			  "tax_id = F25000000\n"
			  "[database]\n"
			  "path = data/test.db\n"
			  "url = "
			  "postgresql://coopbill@db1,db2/coopbill?target_session_attrs=read-write\n"
			  "[meter]\n"
			  "enabled = false\n"
			  "interval_s = 1\n"
			  "table = Coop_Meter2\n"
			  "gateway = 2nd-village\n"
			  "bucket_s = 60\n"
			  "wait_for_ntp = false\n"
			  "keep_buckets_days = 400\n"
			  "uplinks = ppp0\twg-coop  eth0.100\n"
			  "[billing]\n"
			  "currency = KES\n"
			  "timezone = Etc/GMT+3\n"
			  "[label]\n"
			  "light_down_gb = 0\n"
			  "light_up_gb = 1\n"
			  "typical_down_gb = 50\n"
			  "typical_up_gb = 5\n"
			  "heavy_down_gb = 100000\n"
			  "heavy_up_gb = 900\n",
			  path, &config, &errors),
		0);
	assert_string_equal(config->listen, "10.0.0.1:9090");
	assert_ipv4(config, "10.0.0.1", 9090);
	assert_int_equal(config->n_cors_origins, 1);
	assert_string_equal(config->cors_origins[0], "https://coop.example");
	assert_int_equal(config->max_connections, 1000);
	assert_int_equal(config->max_connections_per_ip, 1000);
	assert_int_equal(config->connection_timeout_s, 3600);
	assert_int_equal(config->connection_memory_bytes, 4096);
	assert_int_equal(config->max_body_bytes, 67108864);
	assert_string_equal(config->database_path, "data/test.db");
	assert_string_equal(
		config->database_url,
		"postgresql://coopbill@db1,db2/coopbill?target_session_attrs=read-write");
	assert_int_equal(config->meter_interval_s, 1);
	assert_string_equal(config->meter_table, "Coop_Meter2");
	assert_string_equal(config->meter_gateway, "2nd-village");
	assert_int_equal(config->max_series_points, 500);
	assert_false(config->metrics_public);
	assert_string_equal(config->www_dir, "/srv/coop/www");
	assert_string_equal(config->public_url, "http://coop.example:8080");
	assert_string_equal(config->coop_name, "Xarxa Oberta del Poble, SCCL");
	assert_string_equal(config->coop_address, "Carrer Major 1, 25001 Lleida");
	assert_string_equal(config->coop_tax_id, "F25000000");
	assert_false(config->meter_enabled);
	assert_int_equal(config->meter_bucket_s, 60);
	assert_false(config->meter_wait_for_ntp);
	assert_int_equal(config->meter_keep_buckets_days, 400);
	assert_int_equal(config->n_meter_uplinks, 3);
	assert_string_equal(config->meter_uplinks[0], "ppp0");
	assert_string_equal(config->meter_uplinks[1], "wg-coop");
	assert_string_equal(config->meter_uplinks[2], "eth0.100");
	assert_string_equal(config->currency, "KES");
	assert_string_equal(config->timezone, "Etc/GMT+3");
	assert_int_equal(config->label_light_down_gb, 0);
	assert_int_equal(config->label_light_up_gb, 1);
	assert_int_equal(config->label_typical_down_gb, 50);
	assert_int_equal(config->label_typical_up_gb, 5);
	assert_int_equal(config->label_heavy_down_gb, 100000);
	assert_int_equal(config->label_heavy_up_gb, 900);
	config_free(config);
}

static void test_ipv6_listen_in_brackets(void **state)
{
	static const struct in6_addr loopback = IN6ADDR_LOOPBACK_INIT;
	const struct sockaddr_in6 *in6;
	char path[TEST_PATH_SIZE];
	struct config *config;
	char *errors;

	assert_int_equal(load_text("[server]\nlisten = [::1]:8443\n", path, &config, &errors), 0);
	in6 = (const struct sockaddr_in6 *)&config->listen_addr;
	assert_string_equal(config->listen, "[::1]:8443");
	assert_int_equal(config->listen_addr_len, sizeof(struct sockaddr_in6));
	assert_int_equal(in6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 8443);
	assert_memory_equal(&in6->sin6_addr, &loopback, sizeof(loopback));
	config_free(config);
}

static void test_listen_error_line_is_exact(void **state)
{
	char path[TEST_PATH_SIZE], expected[256];
	struct config *config;
	char *errors;

	assert_int_equal(load_text("# coopbill\n\n[server]\n\n\n\nlisten = localhost:80\n", path,
				   &config, &errors),
			 -EINVAL);
	snprintf(expected, sizeof(expected),
		 "%s:7: [server] listen: \"localhost:80\" is not an address:port; write "
		 "127.0.0.1:8080 or [::1]:8080\n",
		 path);
	assert_string_equal(errors, expected);
	free(errors);
}

struct bad_value {
	const char *section;
	const char *key;
	const char *value;
};

static const struct bad_value bad_values[] = {
	{ "meter", "enabled", "yes" },
	{ "meter", "wait_for_ntp", "1" },
	{ "meter", "bucket_s", "420" },
	{ "meter", "bucket_s", "30" },
	{ "meter", "keep_buckets_days", "0" },
	{ "server", "metrics_public", "TRUE" },
	{ "server", "listen", "localhost:80" },
	{ "server", "listen", "127.0.0.1" },
	{ "server", "listen", "127.0.0.1:0" },
	{ "server", "listen", "127.0.0.1:65536" },
	{ "server", "listen", "127.0.0.1:http" },
	{ "server", "listen", "::1:8080" },
	{ "server", "listen", "[::1]8080" },
	{ "server", "listen", "[::g]:8080" },
	{ "server", "listen", "\"127.0.0.1:8080\"" },
	{ "server", "cors_origins", "https://coop.example/" },
	{ "server", "cors_origins", "https://coop.example/app" },
	{ "server", "cors_origins", "coop.example" },
	{ "server", "cors_origins", "ftp://coop.example" },
	{ "server", "cors_origins", "https://Coop.example" },
	{ "server", "cors_origins", "https://coop.example:443" },
	{ "server", "cors_origins", "http://localhost:0" },
	{ "server", "cors_origins", "http://localhost:70000" },
	{ "server", "cors_origins", "https://*.coop.example" },
	{ "server", "cors_origins", "https://[::1" },
	{ "server", "www", "" },
	{ "server", "www", "www" },
	{ "server", "public_url", "coop.example" },
	{ "server", "public_url", "ftp://coop.example" },
	{ "server", "public_url", "http://coop.example/?a=1" },
	{ "server", "public_url", "http://coop.example/#x" },
	{ "server", "public_url", "http://Coop.example" },
	{ "cooperative", "name", "A\x01B" },
	{ "cooperative", "address", "Carrer \xff" },
	{ "server", "max_connections", "0" },
	{ "server", "max_connections", "100001" },
	{ "server", "max_connections", "-1" },
	{ "server", "max_connections", "+5" },
	{ "server", "max_connections", "0x10" },
	{ "server", "max_connections", "12abc" },
	{ "server", "max_connections", "1 000" },
	{ "server", "max_connections", "" },
	{ "server", "max_connections", "99999999999999999999999" },
	{ "server", "max_connections_per_ip", "0" },
	{ "server", "connection_timeout_s", "3601" },
	{ "server", "connection_memory_bytes", "4095" },
	{ "server", "connection_memory_bytes", "16777217" },
	{ "server", "max_body_bytes", "1023" },
	{ "server", "max_body_bytes", "67108865" },
	{ "database", "path", "" },
	{ "database", "path", "/var/lib/coopbill/" },
	{ "database", "url", "" },
	{ "database", "url", "mysql://db/coopbill" },
	{ "database", "url", "postgresql://[db/coopbill" },
	{ "database", "url", "host=db dbname" },
	{ "database", "url", "host=db colour=blue" },
	{ "meter", "interval_s", "0" },
	{ "meter", "interval_s", "3601" },
	{ "meter", "table", "" },
	{ "meter", "table", "1coop" },
	{ "meter", "table", "coop-bill" },
	{ "meter", "table", "abcdefghijklmnopqrstuvwxyz0123456" },
	{ "meter", "gateway", "" },
	{ "meter", "gateway", "Village" },
	{ "meter", "gateway", "-village" },
	{ "meter", "gateway", "village_2" },
	{ "meter", "gateway", "abcdefghijklmnopqrstuvwxyz0123456" },
	{ "meter", "uplinks", "abcdefghijklmnop" },
	{ "meter", "uplinks", "eth0 ." },
	{ "meter", "uplinks", ".." },
	{ "meter", "uplinks", "ppp0 net/ppp1" },
	{ "meter", "uplinks", "eth0:1" },
	{ "meter", "uplinks", "wg0 wg0" },
	{ "billing", "currency", "eur" },
	{ "billing", "currency", "XYZ" },
	{ "billing", "currency", "EURO" },
	{ "billing", "currency", "" },
	{ "billing", "timezone", "" },
	{ "billing", "timezone", "../etc/passwd" },
	{ "billing", "timezone", "Europe/../../etc/passwd" },
	{ "billing", "timezone", "/etc/localtime" },
	{ "billing", "timezone", "Mars/Olympus" },
	{ "billing", "timezone", "Europe" },
	{ "billing", "timezone", "Europe/Madrid;rm" },
	{ "label", "light_down_gb", "-1" },
	{ "label", "light_up_gb", "1.5" },
	{ "label", "typical_down_gb", "80GB" },
	{ "label", "typical_up_gb", "" },
	{ "label", "heavy_down_gb", "100001" },
	{ "label", "heavy_up_gb", "99999999999999999999999" },
};

static void test_each_bad_value_is_reported(void **state)
{
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		const struct bad_value *bad = &bad_values[i];
		char text[256], where[128];

		/* The bad line is line 4, after a comment and a valid key. */
		snprintf(text, sizeof(text), "[%s]\n# a comment\n\n%s = %s\n", bad->section,
			 bad->key, bad->value);
		snprintf(where, sizeof(where), "[%s] %s: ", bad->section, bad->key);
		print_message("bad value: %s = %s\n", bad->key, bad->value);
		assert_single_error(text, 4, where, NULL);
	}
}

static void test_bad_number_says_range(void **state)
{
	assert_single_error("[meter]\ninterval_s = 0\n", 2,
			    "[meter] interval_s: ", "from 1 to 3600 (default 60)");
}

static void test_label_gb_says_range(void **state)
{
	assert_single_error("[label]\nlight_down_gb = 15\nheavy_down_gb = 200000\n", 3,
			    "[label] heavy_down_gb: ", "from 0 to 100000 (default 300)");
}

static void test_unknown_key(void **state)
{
	assert_single_error("[server]\nlisten = 127.0.0.1:8080\nlisen = 127.0.0.1:8080\n", 3,
			    "[server] lisen: unknown key", "listen");
}

static void test_unknown_section(void **state)
{
	/* The keys below an unknown section are not reported a second time. */
	assert_single_error("[server]\nmax_connections = 100\n\n[srever]\nlisten = 127.0.0.1:1\n",
			    4, "unknown section \"srever\"", "[server]");
}

static void test_key_outside_section(void **state)
{
	assert_single_error("listen = 127.0.0.1:8080\n[server]\n", 1, "listen: ", "section");
}

static void test_malformed_lines(void **state)
{
	assert_single_error("[server]\nmax_connections 10\n", 2, "\"max_connections 10\"",
			    "key = value");
	assert_single_error("[server]\n[meter\n", 2, "section header", "]");
}

static void test_overlong_line(void **state)
{
	char text[512];

	snprintf(text, sizeof(text), "[database]\n\npath = /%0300d\n", 0);
	assert_single_error(text, 3, "line is longer", NULL);
}

static void test_all_errors_are_reported(void **state)
{
	char path[TEST_PATH_SIZE];
	struct config *config;
	char *errors;

	assert_int_equal(load_text("[server]\n"
				   "max_connections = lots\n"
				   "listen = 127.0.0.1:8080\n"
				   "speed = 9000\n"
				   "[meter]\n"
				   "this line is nonsense\n"
				   "interval_s = 5\n"
				   "[billing]\n"
				   "currency = ZZZ\n"
				   "timezone = Mars/Olympus\n",
				   path, &config, &errors),
			 -EINVAL);
	assert_null(config);
	assert_int_equal(count_lines(errors), 5);
	assert_error_at(errors, path, 2, "[server] max_connections: ");
	assert_error_at(errors, path, 4, "[server] speed: ");
	assert_error_at(errors, path, 6, "\"this line is nonsense\"");
	assert_error_at(errors, path, 9, "[billing] currency: ");
	assert_error_at(errors, path, 10, "[billing] timezone: ");
	free(errors);
}

static void test_missing_file(void **state)
{
	char path[TEST_PATH_SIZE], expected[256];
	struct config *config = NULL;
	char *errors = NULL;

	write_config("", path);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(config_load(path, &config, &errors), -ENOENT);
	assert_null(config);
	snprintf(expected, sizeof(expected), "%s: cannot read: %s\n", path, strerror(ENOENT));
	assert_string_equal(errors, expected);
	free(errors);

	errors = NULL;
	assert_int_equal(config_load("/tmp", &config, &errors), -EISDIR);
	assert_null(config);
	assert_non_null(strstr(errors, "/tmp: cannot read: "));
	free(errors);
}

static void test_duplicate_key(void **state)
{
	assert_single_error("[server]\nlisten = 127.0.0.1:1\n\nlisten = 127.0.0.1:2\n", 4,
			    "[server] listen: ", "line 2");
	/* Repeating a section header does not make its keys settable again. */
	assert_single_error("[server]\nmax_connections = 50\n[server]\nmax_connections = 60\n", 4,
			    "[server] max_connections: ", "line 2");
}

static void test_per_ip_limit_above_total(void **state)
{
	char path[TEST_PATH_SIZE];
	struct config *config;
	char *errors;

	assert_single_error("[server]\nmax_connections = 10\nmax_connections_per_ip = 11\n", 3,
			    "[server] max_connections_per_ip: ", "max_connections (10)");
	/* The default per-address limit (32) is above a total of 10. */
	assert_single_error("[server]\n\nmax_connections = 10\n", 3,
			    "[server] max_connections: ", "max_connections_per_ip");
	/* The order of the two keys in the file does not matter. */
	assert_single_error("[server]\nmax_connections_per_ip = 40\nmax_connections = 39\n", 2,
			    "[server] max_connections_per_ip: ", NULL);

	assert_int_equal(load_text("[server]\nmax_connections_per_ip = 10\nmax_connections = 10\n",
				   path, &config, &errors),
			 0);
	assert_int_equal(config->max_connections, 10);
	assert_int_equal(config->max_connections_per_ip, 10);
	config_free(config);
}

static void test_cors_origins(void **state)
{
	char path[TEST_PATH_SIZE];
	struct config *config;
	char *errors;

	assert_int_equal(
		load_text("[server]\ncors_origins = https://coop.example, http://localhost:3000 "
			  " ,https://[::1]:8443\thttp://192.168.1.10:8080\n",
			  path, &config, &errors),
		0);
	assert_int_equal(config->n_cors_origins, 4);
	assert_string_equal(config->cors_origins[0], "https://coop.example");
	assert_string_equal(config->cors_origins[1], "http://localhost:3000");
	assert_string_equal(config->cors_origins[2], "https://[::1]:8443");
	assert_string_equal(config->cors_origins[3], "http://192.168.1.10:8080");

	assert_true(config_cors_allows(config, "https://coop.example"));
	assert_true(config_cors_allows(config, "http://localhost:3000"));
	assert_true(config_cors_allows(config, "https://[::1]:8443"));
	assert_true(config_cors_allows(config, "http://192.168.1.10:8080"));
	assert_false(config_cors_allows(config, "http://coop.example"));
	assert_false(config_cors_allows(config, "https://coop.example/"));
	assert_false(config_cors_allows(config, "https://COOP.example"));
	assert_false(config_cors_allows(config, "https://coop.example.evil"));
	assert_false(config_cors_allows(config, "https://coop.exampl"));
	assert_false(config_cors_allows(config, "http://localhost"));
	assert_false(config_cors_allows(config, "null"));
	assert_false(config_cors_allows(config, ""));
	assert_false(config_cors_allows(config, NULL));
	assert_false(config_cors_allows(NULL, "https://coop.example"));
	config_free(config);

	/* One bad origin in a list fails the key, and names the bad one. */
	assert_single_error("[server]\ncors_origins = https://coop.example https://bad.example/\n",
			    2, "[server] cors_origins: \"https://bad.example/\"", NULL);
}

static void test_currency_exponent(void **state)
{
	unsigned exponent;

	assert_int_equal(currency_exponent("EUR", &exponent), 0);
	assert_int_equal(exponent, 2);
	assert_int_equal(currency_exponent("JPY", &exponent), 0);
	assert_int_equal(exponent, 0);
	assert_int_equal(currency_exponent("KWD", &exponent), 0);
	assert_int_equal(exponent, 3);
	/* The first and last entries of the table are found too. */
	assert_int_equal(currency_exponent("AED", &exponent), 0);
	assert_int_equal(exponent, 2);
	assert_int_equal(currency_exponent("ZWG", &exponent), 0);
	assert_int_equal(exponent, 2);

	exponent = 42;
	assert_int_equal(currency_exponent("XYZ", &exponent), -ENOENT);
	assert_int_equal(currency_exponent("eur", &exponent), -ENOENT);
	assert_int_equal(currency_exponent("EURO", &exponent), -ENOENT);
	assert_int_equal(currency_exponent("EU", &exponent), -ENOENT);
	assert_int_equal(currency_exponent("", &exponent), -ENOENT);
	assert_int_equal(exponent, 42);
}

static void test_timezones(void **state)
{
	char path[TEST_PATH_SIZE];
	struct config *config;
	char *errors;

	if (access("/usr/share/zoneinfo/Europe/Madrid", R_OK) == 0) {
		assert_int_equal(
			load_text("[billing]\ntimezone = Europe/Madrid\n", path, &config, &errors),
			0);
		assert_string_equal(config->timezone, "Europe/Madrid");
		/* The zone is loaded with the configuration: summer time on
		 * 2027-07-01T00:00:00Z, whatever the process's TZ says. */
		assert_int_equal(tz_offset(config->zone, 1814400000, &(int64_t){ 0 }), 7200);
		config_free(config);
	}
	assert_int_equal(load_text("[billing]\ncurrency = EUR\n", path, &config, &errors), 0);
	assert_int_equal(tz_offset(config->zone, 1814400000, &(int64_t){ 0 }), 0);
	config_free(config);
	assert_single_error("[billing]\ntimezone = ../etc/passwd\n", 2,
			    "[billing] timezone: ", "../etc/passwd");
	assert_single_error("[billing]\ntimezone = Mars/Olympus\n", 2,
			    "[billing] timezone: ", "Europe/Madrid");
	/* Leap-second zones count other seconds than Unix time. */
	if (access("/usr/share/zoneinfo/right/UTC", R_OK) == 0)
		assert_single_error("[billing]\ntimezone = right/UTC\n", 2,
				    "[billing] timezone: ", "without leap seconds");
}

static void test_layout_tolerance(void **state)
{
	char path[TEST_PATH_SIZE];
	struct config *config;
	char *errors;

	/* Indented keys, CRLF line endings and inline comments are all fine; an
	 * indented key is not a continuation of the key above it. */
	assert_int_equal(load_text("\xef\xbb\xbf; coopbill\r\n"
				   "[server]\r\n"
				   "listen = 127.0.0.1:9\r\n"
				   "    max_connections = 5 ; five\r\n"
				   "\tmax_connections_per_ip=5\r\n"
				   "[meter]\n"
				   "table: coop\n",
				   path, &config, &errors),
			 0);
	assert_ipv4(config, "127.0.0.1", 9);
	assert_string_equal(config->listen, "127.0.0.1:9");
	assert_int_equal(config->max_connections, 5);
	assert_int_equal(config->max_connections_per_ip, 5);
	assert_string_equal(config->meter_table, "coop");
	config_free(config);
}

static void test_free_null(void **state)
{
	config_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_when_file_is_empty),
		cmocka_unit_test(test_example_config_loads),
		cmocka_unit_test(test_every_key_is_read),
		cmocka_unit_test(test_ipv6_listen_in_brackets),
		cmocka_unit_test(test_listen_error_line_is_exact),
		cmocka_unit_test(test_each_bad_value_is_reported),
		cmocka_unit_test(test_bad_number_says_range),
		cmocka_unit_test(test_label_gb_says_range),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_unknown_section),
		cmocka_unit_test(test_key_outside_section),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_overlong_line),
		cmocka_unit_test(test_all_errors_are_reported),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_per_ip_limit_above_total),
		cmocka_unit_test(test_cors_origins),
		cmocka_unit_test(test_currency_exponent),
		cmocka_unit_test(test_timezones),
		cmocka_unit_test(test_layout_tolerance),
		cmocka_unit_test(test_free_null),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
