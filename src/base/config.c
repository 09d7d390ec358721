/* Configuration: reads the INI file with libinih, fills in the defaults and
 * validates every key, collecting one "file:line: [section] key: what to fix"
 * line per problem so that an operator can fix the whole file in one pass. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <libpq-fe.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "coopbill/config.h"
#include "coopbill/currency.h"
#include "coopbill/tz.h"
#include "coopbill/utf8.h"
#include "build-config.h"

#define CONFIG_DEFAULT_LISTEN	     "127.0.0.1:8080"
#define CONFIG_DEFAULT_DATABASE_PATH "/var/lib/coopbill/coopbill.db"
#define CONFIG_DEFAULT_METER_TABLE   "coopbill"
#define CONFIG_DEFAULT_GATEWAY	     "main"
#define CONFIG_DEFAULT_CURRENCY	     "EUR"
#define CONFIG_DEFAULT_LOG_ORIGIN    "coopbill.example/log"
#define CONFIG_DEFAULT_TIMEZONE	     "UTC"

#define CONFIG_METER_TABLE_MAX	 32
#define CONFIG_HOST_NAME_MAX	 253
#define CONFIG_HOST_LABEL_MAX	 63
#define CONFIG_QUOTED_MAX	 80
#define CONFIG_ORIGIN_SEPARATORS " ,\t"
/* An interface name: IFNAMSIZ less the NUL. */
#define CONFIG_IFNAME_MAX  15
#define CONFIG_UPLINKS_MAX 32
#define CONFIG_SPACES	   " \t\n\v\f\r"
/* A line of an invoice's heading: the cooperative's name, address or tax id. */
#define CONFIG_COOP_TEXT_MAX 200

enum config_key_id {
	CONFIG_KEY_LISTEN,
	CONFIG_KEY_CORS_ORIGINS,
	CONFIG_KEY_MAX_CONNECTIONS,
	CONFIG_KEY_MAX_CONNECTIONS_PER_IP,
	CONFIG_KEY_CONNECTION_TIMEOUT_S,
	CONFIG_KEY_HEADER_TIMEOUT_S,
	CONFIG_KEY_CONNECTION_MEMORY_BYTES,
	CONFIG_KEY_MAX_BODY_BYTES,
	CONFIG_KEY_BODY_MEMORY_BYTES,
	CONFIG_KEY_MAX_SERIES_POINTS,
	CONFIG_KEY_METRICS_PUBLIC,
	CONFIG_KEY_WWW,
	CONFIG_KEY_PUBLIC_URL,
	CONFIG_KEY_COOP_NAME,
	CONFIG_KEY_COOP_ADDRESS,
	CONFIG_KEY_COOP_TAX_ID,
	CONFIG_KEY_DATABASE_PATH,
	CONFIG_KEY_DATABASE_URL,
	CONFIG_KEY_METER_ENABLED,
	CONFIG_KEY_METER_INTERVAL_S,
	CONFIG_KEY_METER_TABLE,
	CONFIG_KEY_METER_GATEWAY,
	CONFIG_KEY_METER_BUCKET_S,
	CONFIG_KEY_METER_WAIT_FOR_NTP,
	CONFIG_KEY_METER_KEEP_BUCKETS_DAYS,
	CONFIG_KEY_METER_UPLINKS,
	CONFIG_KEY_LOG_ORIGIN,
	CONFIG_KEY_LOG_KEY_FILE,
	CONFIG_KEY_CURRENCY,
	CONFIG_KEY_TIMEZONE,
	CONFIG_KEY_NOTICE_DAYS,
	CONFIG_KEY_LABEL_LIGHT_DOWN_GB,
	CONFIG_KEY_LABEL_LIGHT_UP_GB,
	CONFIG_KEY_LABEL_TYPICAL_DOWN_GB,
	CONFIG_KEY_LABEL_TYPICAL_UP_GB,
	CONFIG_KEY_LABEL_HEAVY_DOWN_GB,
	CONFIG_KEY_LABEL_HEAVY_UP_GB,
	CONFIG_KEY_COUNT,
};

enum config_key_kind {
	CONFIG_KIND_TEXT,
	CONFIG_KIND_UNSIGNED,
	CONFIG_KIND_SIZE,
	CONFIG_KIND_BOOL,
};

struct config_key {
	const char *section;
	const char *name;
	enum config_key_kind kind;
	/* Numeric keys only: where the value lives, its range and its default. */
	size_t offset;
	unsigned long long min;
	unsigned long long max;
	unsigned long long fallback;
};

/* A key of text: none of the numeric fields. */
#define TEXT_KEY(section_name, key_name)                                            \
	{                                                                           \
		.section = section_name, .name = key_name, .kind = CONFIG_KIND_TEXT \
	}

/* Keys of one section are kept together: the "known keys" hints rely on it. */
static const struct config_key config_keys[CONFIG_KEY_COUNT] = {
	[CONFIG_KEY_LISTEN] = TEXT_KEY("server", "listen"),
	[CONFIG_KEY_CORS_ORIGINS] = TEXT_KEY("server", "cors_origins"),
	[CONFIG_KEY_MAX_CONNECTIONS] = { "server", "max_connections", CONFIG_KIND_UNSIGNED,
					 offsetof(struct config, max_connections), 1, 100000, 256 },
	[CONFIG_KEY_MAX_CONNECTIONS_PER_IP] = { "server", "max_connections_per_ip",
						CONFIG_KIND_UNSIGNED,
						offsetof(struct config, max_connections_per_ip), 1,
						100000, 32 },
	[CONFIG_KEY_CONNECTION_TIMEOUT_S] = { "server", "connection_timeout_s",
					      CONFIG_KIND_UNSIGNED,
					      offsetof(struct config, connection_timeout_s), 1,
					      3600, 30 },
	[CONFIG_KEY_HEADER_TIMEOUT_S] = { "server", "header_timeout_s", CONFIG_KIND_UNSIGNED,
					  offsetof(struct config, header_timeout_s), 1, 3600, 10 },
	[CONFIG_KEY_CONNECTION_MEMORY_BYTES] = { "server", "connection_memory_bytes",
						 CONFIG_KIND_SIZE,
						 offsetof(struct config, connection_memory_bytes),
						 4096, 16777216, 16384 },
	[CONFIG_KEY_MAX_BODY_BYTES] = { "server", "max_body_bytes", CONFIG_KIND_SIZE,
					offsetof(struct config, max_body_bytes), 1024, 67108864,
					1048576 },
	[CONFIG_KEY_BODY_MEMORY_BYTES] = { "server", "body_memory_bytes", CONFIG_KIND_SIZE,
					   offsetof(struct config, body_memory_bytes), 65536,
					   1073741824, 16777216 },
	[CONFIG_KEY_MAX_SERIES_POINTS] = { "server", "max_series_points", CONFIG_KIND_UNSIGNED,
					   offsetof(struct config, max_series_points), 1, 1000000,
					   10000 },
	[CONFIG_KEY_METRICS_PUBLIC] = { "server", "metrics_public", CONFIG_KIND_BOOL,
					offsetof(struct config, metrics_public), 0, 1, 1 },
	[CONFIG_KEY_WWW] = TEXT_KEY("server", "www"),
	[CONFIG_KEY_PUBLIC_URL] = TEXT_KEY("server", "public_url"),
	[CONFIG_KEY_COOP_NAME] = TEXT_KEY("cooperative", "name"),
	[CONFIG_KEY_COOP_ADDRESS] = TEXT_KEY("cooperative", "address"),
	[CONFIG_KEY_COOP_TAX_ID] = TEXT_KEY("cooperative", "tax_id"),
	[CONFIG_KEY_DATABASE_PATH] = TEXT_KEY("database", "path"),
	[CONFIG_KEY_DATABASE_URL] = TEXT_KEY("database", "url"),
	[CONFIG_KEY_METER_ENABLED] = { "meter", "enabled", CONFIG_KIND_BOOL,
				       offsetof(struct config, meter_enabled), 0, 1, 1 },
	[CONFIG_KEY_METER_INTERVAL_S] = { "meter", "interval_s", CONFIG_KIND_UNSIGNED,
					  offsetof(struct config, meter_interval_s), 1, 3600, 60 },
	[CONFIG_KEY_METER_TABLE] = TEXT_KEY("meter", "table"),
	[CONFIG_KEY_METER_GATEWAY] = TEXT_KEY("meter", "gateway"),
	[CONFIG_KEY_METER_BUCKET_S] = { "meter", "bucket_s", CONFIG_KIND_UNSIGNED,
					offsetof(struct config, meter_bucket_s), 60, 3600, 300 },
	[CONFIG_KEY_METER_WAIT_FOR_NTP] = { "meter", "wait_for_ntp", CONFIG_KIND_BOOL,
					    offsetof(struct config, meter_wait_for_ntp), 0, 1, 1 },
	[CONFIG_KEY_METER_KEEP_BUCKETS_DAYS] = { "meter", "keep_buckets_days", CONFIG_KIND_UNSIGNED,
						 offsetof(struct config, meter_keep_buckets_days),
						 1, 3650, 62 },
	[CONFIG_KEY_METER_UPLINKS] = TEXT_KEY("meter", "uplinks"),
	[CONFIG_KEY_LOG_ORIGIN] = TEXT_KEY("log", "origin"),
	[CONFIG_KEY_LOG_KEY_FILE] = TEXT_KEY("log", "key_file"),
	[CONFIG_KEY_CURRENCY] = TEXT_KEY("billing", "currency"),
	[CONFIG_KEY_TIMEZONE] = TEXT_KEY("billing", "timezone"),
	[CONFIG_KEY_NOTICE_DAYS] = { "billing", "notice_days", CONFIG_KIND_UNSIGNED,
				     offsetof(struct config, notice_days), 0, 366, 30 },
	/* A label's profiles when too few households were billed to take them
	 * from a period: GB a month, up to 100 TB (what a 300 Mbit/s line
	 * carries flat out). */
	[CONFIG_KEY_LABEL_LIGHT_DOWN_GB] = { "label", "light_down_gb", CONFIG_KIND_UNSIGNED,
					     offsetof(struct config, label_light_down_gb), 0,
					     100000, 15 },
	[CONFIG_KEY_LABEL_LIGHT_UP_GB] = { "label", "light_up_gb", CONFIG_KIND_UNSIGNED,
					   offsetof(struct config, label_light_up_gb), 0, 100000,
					   2 },
	[CONFIG_KEY_LABEL_TYPICAL_DOWN_GB] = { "label", "typical_down_gb", CONFIG_KIND_UNSIGNED,
					       offsetof(struct config, label_typical_down_gb), 0,
					       100000, 80 },
	[CONFIG_KEY_LABEL_TYPICAL_UP_GB] = { "label", "typical_up_gb", CONFIG_KIND_UNSIGNED,
					     offsetof(struct config, label_typical_up_gb), 0,
					     100000, 10 },
	[CONFIG_KEY_LABEL_HEAVY_DOWN_GB] = { "label", "heavy_down_gb", CONFIG_KIND_UNSIGNED,
					     offsetof(struct config, label_heavy_down_gb), 0,
					     100000, 300 },
	[CONFIG_KEY_LABEL_HEAVY_UP_GB] = { "label", "heavy_up_gb", CONFIG_KIND_UNSIGNED,
					   offsetof(struct config, label_heavy_up_gb), 0, 100000,
					   40 },
};

/* State of one config_load() call, shared by the line reader and the handler. */
struct config_load {
	const char *path;
	struct config *config;
	FILE *file;
	char *line;
	size_t line_size;
	int lineno;
	int read_errno;
	bool out_of_memory;
	bool in_unknown_section;
	FILE *errors;
	unsigned n_errors;
	int key_lines[CONFIG_KEY_COUNT];
	bool key_failed[CONFIG_KEY_COUNT];
};

static void config_error(struct config_load *load, int lineno, const char *section,
			 const char *name, const char *format, ...)
	__attribute__((format(printf, 5, 6)));

static void config_error(struct config_load *load, int lineno, const char *section,
			 const char *name, const char *format, ...)
{
	va_list args;

	load->n_errors++;
	/* Line 0: a default, not written in the file. */
	if (lineno > 0)
		fprintf(load->errors, "%s:%d: ", load->path, lineno);
	else
		fprintf(load->errors, "%s: ", load->path);
	if (section && *section)
		fprintf(load->errors, "[%s] ", section);
	if (name)
		fprintf(load->errors, "%s: ", name);
	va_start(args, format);
	vfprintf(load->errors, format, args);
	va_end(args);
	fputc('\n', load->errors);
}

static void config_file_error(struct config_load *load, int error)
{
	char buf[128];

	load->n_errors++;
	fprintf(load->errors, "%s: cannot read: %s\n", load->path,
		strerror_r(error, buf, sizeof(buf)));
}

/* Values are shown quoted, with control and non-ASCII bytes escaped, so that a
 * stray byte in the file cannot garble the operator's terminal. */
static const char *config_quote(const char *value, char buf[CONFIG_QUOTED_MAX])
{
	size_t pos = 0;

	buf[pos++] = '"';
	for (const char *p = value; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (pos + 4 + 5 >= CONFIG_QUOTED_MAX) {
			memcpy(buf + pos, "...", 3);
			pos += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			buf[pos++] = (char)c;
		else
			pos += (size_t)snprintf(buf + pos, CONFIG_QUOTED_MAX - pos, "\\x%02x", c);
	}
	buf[pos++] = '"';
	buf[pos] = '\0';
	return buf;
}

static bool config_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool config_is_lower_alnum(char c)
{
	return config_is_digit(c) || (c >= 'a' && c <= 'z');
}

static bool config_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Decimal digits only: no sign, no spaces, no base prefix, no overflow. */
static int config_parse_decimal(const char *text, unsigned long long *ret_number)
{
	unsigned long long number;
	char *end;

	if (!*text)
		return -EINVAL;
	for (const char *p = text; *p; p++)
		if (!config_is_digit(*p))
			return -EINVAL;
	errno = 0;
	number = strtoull(text, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*ret_number = number;
	return 0;
}

static int config_parse_port(const char *text, in_port_t *ret_port)
{
	unsigned long long port;

	if (config_parse_decimal(text, &port) < 0 || port < 1 || port > 65535)
		return -ERANGE;
	*ret_port = htons((in_port_t)port);
	return 0;
}

/* "a.b.c.d:port" or "[ipv6]:port". Returns -ERANGE for a bad port and -EINVAL
 * for anything else. */
static int config_parse_address(const char *text, struct sockaddr_storage *ret_addr,
				socklen_t *ret_addr_len)
{
	struct sockaddr_storage addr = { 0 };
	char host[INET6_ADDRSTRLEN];
	const char *host_start, *host_end;
	bool bracketed = text[0] == '[';
	socklen_t addr_len;
	in_port_t port;
	size_t host_len;

	host_start = bracketed ? text + 1 : text;
	host_end = bracketed ? strchr(host_start, ']') : strrchr(host_start, ':');
	if (!host_end || (bracketed && host_end[1] != ':'))
		return -EINVAL;
	host_len = (size_t)(host_end - host_start);
	if (host_len == 0 || host_len >= sizeof(host))
		return -EINVAL;
	memcpy(host, host_start, host_len);
	host[host_len] = '\0';

	if (bracketed) {
		struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };

		if (inet_pton(AF_INET6, host, &in6.sin6_addr) != 1)
			return -EINVAL;
		if (config_parse_port(host_end + 2, &port) < 0)
			return -ERANGE;
		in6.sin6_port = port;
		memcpy(&addr, &in6, sizeof(in6));
		addr_len = sizeof(in6);
	} else {
		struct sockaddr_in in4 = { .sin_family = AF_INET };

		if (inet_pton(AF_INET, host, &in4.sin_addr) != 1)
			return -EINVAL;
		if (config_parse_port(host_end + 1, &port) < 0)
			return -ERANGE;
		in4.sin_port = port;
		memcpy(&addr, &in4, sizeof(in4));
		addr_len = sizeof(in4);
	}
	*ret_addr = addr;
	*ret_addr_len = addr_len;
	return 0;
}

static int config_replace_text(struct config_load *load, char **field, const char *value)
{
	char *copy = strdup(value);

	if (!copy) {
		load->out_of_memory = true;
		return -ENOMEM;
	}
	free(*field);
	*field = copy;
	return 0;
}

static int config_parse_listen(struct config_load *load, const struct config_key *key,
			       const char *value)
{
	struct config *config = load->config;
	char quoted[CONFIG_QUOTED_MAX];
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int r;

	r = config_parse_address(value, &addr, &addr_len);
	if (r == -ERANGE) {
		config_error(load, load->lineno, key->section, key->name,
			     "%s has no valid port; the port is a number from 1 to 65535, as in "
			     "127.0.0.1:8080",
			     config_quote(value, quoted));
		return r;
	}
	if (r < 0 && value[0] != '[' && strchr(value, ':') != strrchr(value, ':')) {
		config_error(load, load->lineno, key->section, key->name,
			     "%s is not an address:port; put IPv6 addresses in brackets, as in "
			     "[::1]:8080",
			     config_quote(value, quoted));
		return r;
	}
	if (r < 0) {
		config_error(load, load->lineno, key->section, key->name,
			     "%s is not an address:port; write 127.0.0.1:8080 or [::1]:8080",
			     config_quote(value, quoted));
		return r;
	}
	r = config_replace_text(load, &config->listen, value);
	if (r < 0)
		return r;
	config->listen_addr = addr;
	config->listen_addr_len = addr_len;
	return 0;
}

static const char *config_host_name_problem(const char *host, size_t len)
{
	size_t label_len = 0;

	if (len == 0)
		return "has no host";
	if (len > CONFIG_HOST_NAME_MAX)
		return "has a host name longer than 253 characters";
	for (size_t i = 0; i < len; i++) {
		char c = host[i];

		if (c >= 'A' && c <= 'Z')
			return "has capital letters; browsers send the host in lowercase";
		if (c == '.') {
			if (label_len == 0 || host[i - 1] == '-')
				return "has an empty or malformed label in its host name";
			label_len = 0;
			continue;
		}
		if (!config_is_lower_alnum(c) && c != '-')
			return "has a character that is not allowed in a host name; write "
			       "international names in punycode (xn--...)";
		if (c == '-' && label_len == 0)
			return "has a host name label that starts with '-'";
		if (++label_len > CONFIG_HOST_LABEL_MAX)
			return "has a host name label longer than 63 characters";
	}
	if (label_len == 0 || host[len - 1] == '-')
		return "has an empty or malformed label in its host name";
	return NULL;
}

/* Browsers send the Origin header in one serialized form, and origins are
 * compared byte for byte, so anything they would never send is refused here
 * rather than silently never matching. */
static const char *config_origin_problem(const char *origin)
{
	const char *host, *end, *problem;
	const char *default_port;
	in_port_t port;

	if (strncmp(origin, "https://", 8) == 0) {
		host = origin + 8;
		default_port = "443";
	} else if (strncmp(origin, "http://", 7) == 0) {
		host = origin + 7;
		default_port = "80";
	} else {
		return "does not start with http:// or https://";
	}

	if (host[0] == '[') {
		char address[INET6_ADDRSTRLEN];
		struct in6_addr in6;
		size_t len;

		end = strchr(host, ']');
		if (!end)
			return "has an IPv6 host without its closing ']'";
		len = (size_t)(end - host - 1);
		if (len == 0 || len >= sizeof(address))
			return "has an IPv6 host that is not a valid address";
		memcpy(address, host + 1, len);
		address[len] = '\0';
		if (inet_pton(AF_INET6, address, &in6) != 1)
			return "has an IPv6 host that is not a valid address";
		for (size_t i = 0; i < len; i++)
			if (address[i] >= 'A' && address[i] <= 'Z')
				return "has capital letters; browsers send the host in lowercase";
		end++;
	} else {
		end = host + strcspn(host, ":/?#");
		problem = config_host_name_problem(host, (size_t)(end - host));
		if (problem)
			return problem;
	}

	if (*end == ':') {
		if (end[1] == '0' || config_parse_port(end + 1, &port) < 0)
			return "has a port that is not a number from 1 to 65535";
		if (strcmp(end + 1, default_port) == 0)
			return "has the scheme's default port, which browsers leave out of Origin";
		return NULL;
	}
	if (*end != '\0')
		return "has a path, query or trailing slash";
	return NULL;
}

static int config_parse_cors_origins(struct config_load *load, const struct config_key *key,
				     const char *value)
{
	struct config *config = load->config;
	char quoted[CONFIG_QUOTED_MAX];
	char **origins = NULL;
	size_t n_origins = 0;
	const char *token = value;
	int r = 0;

	for (;;) {
		const char *problem;
		char *origin, **grown;
		size_t len;

		token += strspn(token, CONFIG_ORIGIN_SEPARATORS);
		if (!*token)
			break;
		len = strcspn(token, CONFIG_ORIGIN_SEPARATORS);
		origin = strndup(token, len);
		token += len;
		if (!origin) {
			load->out_of_memory = true;
			r = -ENOMEM;
			goto out;
		}
		problem = config_origin_problem(origin);
		if (problem) {
			config_error(load, load->lineno, key->section, key->name,
				     "%s %s; write each origin as scheme://host[:port], such as "
				     "https://coop.example or http://localhost:3000",
				     config_quote(origin, quoted), problem);
			free(origin);
			r = -EINVAL;
			continue;
		}
		grown = reallocarray(origins, n_origins + 1, sizeof(*origins));
		if (!grown) {
			free(origin);
			load->out_of_memory = true;
			r = -ENOMEM;
			goto out;
		}
		origins = grown;
		origins[n_origins++] = origin;
	}
	if (r < 0)
		goto out;

	for (size_t i = 0; i < config->n_cors_origins; i++)
		free(config->cors_origins[i]);
	free(config->cors_origins);
	config->cors_origins = origins;
	config->n_cors_origins = n_origins;
	origins = NULL;
	n_origins = 0;
out:
	for (size_t i = 0; i < n_origins; i++)
		free(origins[i]);
	free(origins);
	return r;
}

static void config_set_number(struct config *config, const struct config_key *key,
			      unsigned long long number)
{
	char *field = (char *)config + key->offset;

	if (key->kind == CONFIG_KIND_UNSIGNED) {
		unsigned narrow = (unsigned)number;

		memcpy(field, &narrow, sizeof(narrow));
	} else if (key->kind == CONFIG_KIND_BOOL) {
		bool flag = number != 0;

		memcpy(field, &flag, sizeof(flag));
	} else {
		size_t narrow = (size_t)number;

		memcpy(field, &narrow, sizeof(narrow));
	}
}

static int config_parse_bool(struct config_load *load, const struct config_key *key,
			     const char *value)
{
	char quoted[CONFIG_QUOTED_MAX];

	if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
		config_error(load, load->lineno, key->section, key->name,
			     "%s is not a truth value; write true or false (default %s)",
			     config_quote(value, quoted), key->fallback ? "true" : "false");
		return -EINVAL;
	}
	config_set_number(load->config, key, strcmp(value, "true") == 0);
	return 0;
}

static int config_parse_number(struct config_load *load, const struct config_key *key,
			       const char *value)
{
	char quoted[CONFIG_QUOTED_MAX];
	unsigned long long number;
	int r;

	r = config_parse_decimal(value, &number);
	if (r == -EINVAL) {
		config_error(load, load->lineno, key->section, key->name,
			     "%s is not a whole decimal number; write a number from %llu to %llu "
			     "(default %llu)",
			     config_quote(value, quoted), key->min, key->max, key->fallback);
		return r;
	}
	if (r < 0 || number < key->min || number > key->max) {
		config_error(load, load->lineno, key->section, key->name,
			     "%s is out of range; write a number from %llu to %llu (default %llu)",
			     config_quote(value, quoted), key->min, key->max, key->fallback);
		return -ERANGE;
	}
	config_set_number(load->config, key, number);
	return 0;
}

static int config_parse_database_path(struct config_load *load, const struct config_key *key,
				      const char *value)
{
	char quoted[CONFIG_QUOTED_MAX];
	size_t len = strlen(value);

	if (len == 0 || len >= PATH_MAX || value[len - 1] == '/') {
		config_error(load, load->lineno, key->section, key->name,
			     "%s is not a file path; write a path such as "
			     "/var/lib/coopbill/coopbill.db",
			     config_quote(value, quoted));
		return -EINVAL;
	}
	return config_replace_text(load, &load->config->database_path, value);
}

/* libpq's connection strings (key=value …) and URIs: what libpq cannot
 * parse is refused here, with the project's example, not at connection. */
static int config_parse_database_url(struct config_load *load, const struct config_key *key,
				     const char *value)
{
	char quoted[CONFIG_QUOTED_MAX];
	PQconninfoOption *options;
	char *why = NULL;

	options = value[0] ? PQconninfoParse(value, &why) : NULL;
	PQfreemem(why);
	if (!options) {
		config_error(
			load, load->lineno, key->section, key->name,
			"%s is not a PostgreSQL connection string; write a URI such as "
			"postgresql://coopbill@db1,db2/coopbill?target_session_attrs=read-write",
			config_quote(value, quoted));
		return -EINVAL;
	}
	PQconninfoFree(options);
	return config_replace_text(load, &load->config->database_url, value);
}

static int config_parse_meter_table(struct config_load *load, const struct config_key *key,
				    const char *value)
{
	char quoted[CONFIG_QUOTED_MAX];
	size_t len = strlen(value);
	bool valid = len >= 1 && len <= CONFIG_METER_TABLE_MAX && config_is_alpha(value[0]);

	for (size_t i = 0; valid && i < len; i++)
		valid = config_is_alpha(value[i]) || config_is_digit(value[i]) || value[i] == '_';
	if (!valid) {
		config_error(load, load->lineno, key->section, key->name,
			     "%s is not an nftables table name; write 1 to 32 letters, digits or "
			     "'_', starting with a letter (default coopbill)",
			     config_quote(value, quoted));
		return -EINVAL;
	}
	return config_replace_text(load, &load->config->meter_table, value);
}

bool config_gateway_valid(const char *name)
{
	size_t len = name ? strlen(name) : 0;
	bool valid = len >= 1 && len <= CONFIG_GATEWAY_MAX && config_is_lower_alnum(name[0]);

	for (size_t i = 1; valid && i < len; i++)
		valid = config_is_lower_alnum(name[i]) || name[i] == '-';
	return valid;
}

static int config_parse_meter_gateway(struct config_load *load, const struct config_key *key,
				      const char *value)
{
	char quoted[CONFIG_QUOTED_MAX];

	if (!config_gateway_valid(value)) {
		config_error(load, load->lineno, key->section, key->name,
			     "%s is not a gateway name; write " CONFIG_GATEWAY_RULE
			     " (default " CONFIG_DEFAULT_GATEWAY ")",
			     config_quote(value, quoted));
		return -EINVAL;
	}
	return config_replace_text(load, &load->config->meter_gateway, value);
}

/* What the kernel takes as an interface name (dev_valid_name()), or NULL. */
static const char *config_ifname_problem(const char *name)
{
	if (strlen(name) > CONFIG_IFNAME_MAX)
		return "is longer than 15 bytes";
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return "is not a name";
	if (strchr(name, '/') || strchr(name, ':'))
		return "has a '/' or ':'";
	return NULL;
}

/* Interface names separated by spaces; none (an empty value) is as if the
 * key were not set. */
static int config_parse_meter_uplinks(struct config_load *load, const struct config_key *key,
				      const char *value)
{
	struct config *config = load->config;
	char quoted[CONFIG_QUOTED_MAX];
	char **names = NULL;
	size_t n_names = 0;
	const char *token = value;
	int r = 0;

	for (;;) {
		const char *problem = NULL;
		char *name, **grown;
		size_t len;

		token += strspn(token, CONFIG_SPACES);
		if (!*token)
			break;
		len = strcspn(token, CONFIG_SPACES);
		name = strndup(token, len);
		token += len;
		if (!name) {
			load->out_of_memory = true;
			r = -ENOMEM;
			goto out;
		}
		problem = config_ifname_problem(name);
		for (size_t i = 0; !problem && i < n_names; i++)
			if (strcmp(names[i], name) == 0)
				problem = "is named twice";
		if (!problem && n_names == CONFIG_UPLINKS_MAX)
			problem = "is one more than the 32 uplinks allowed";
		if (problem) {
			config_error(load, load->lineno, key->section, key->name,
				     "%s %s; write the uplinks' interface names (1 to 15 bytes, "
				     "without '/', ':' or spaces) separated by spaces, such as "
				     "\"eth0\" or \"ppp0 wg0\"",
				     config_quote(name, quoted), problem);
			free(name);
			r = -EINVAL;
			continue;
		}
		grown = reallocarray(names, n_names + 1, sizeof(*names));
		if (!grown) {
			free(name);
			load->out_of_memory = true;
			r = -ENOMEM;
			goto out;
		}
		names = grown;
		names[n_names++] = name;
	}
	if (r < 0)
		goto out;

	for (size_t i = 0; i < config->n_meter_uplinks; i++)
		free(config->meter_uplinks[i]);
	free(config->meter_uplinks);
	config->meter_uplinks = names;
	config->n_meter_uplinks = n_names;
	names = NULL;
	n_names = 0;
out:
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	return r;
}

static int config_parse_currency(struct config_load *load, const struct config_key *key,
				 const char *value)
{
	char quoted[CONFIG_QUOTED_MAX];
	char upper[4];
	unsigned exponent;

	if (strlen(value) == 3 && currency_exponent(value, &exponent) == 0) {
		memcpy(load->config->currency, value, 4);
		return 0;
	}
	if (strlen(value) == 3) {
		for (size_t i = 0; i < 4; i++)
			upper[i] = (char)toupper((unsigned char)value[i]);
		if (currency_exponent(upper, &exponent) == 0) {
			config_error(load, load->lineno, key->section, key->name,
				     "%s is not a known ISO 4217 currency code; write it in "
				     "capitals: %s",
				     config_quote(value, quoted), upper);
			return -EINVAL;
		}
	}
	config_error(load, load->lineno, key->section, key->name,
		     "%s is not a known ISO 4217 currency code; write a code such as EUR, USD "
		     "or KES",
		     config_quote(value, quoted));
	return -EINVAL;
}

/* The zone is read here, once per configuration, so that a reload naming a
 * zone the box cannot read is refused with the rest of the file. */
static int config_load_zone(struct config_load *load, int lineno, const char *name)
{
	char quoted[CONFIG_QUOTED_MAX], reason[128];
	struct tz_zone *zone;
	int r;

	r = tz_zone_load(name, &zone);
	if (r == -ENOMEM) {
		load->out_of_memory = true;
		return r;
	}
	config_quote(name, quoted);
	if (r == -EINVAL)
		config_error(load, lineno, "billing", "timezone",
			     "%s is not a time zone name; write an IANA name such as "
			     "Europe/Madrid or UTC",
			     quoted);
	else if (r == -ENOENT)
		config_error(load, lineno, "billing", "timezone",
			     "%s is not a time zone in " TZ_ZONEINFO_DIR
			     "; write an IANA name such as Europe/Madrid or UTC (from the "
			     "tzdata package)",
			     quoted);
	else if (r == -ENOTSUP || r == -EBADMSG)
		config_error(load, lineno, "billing", "timezone",
			     "%s in " TZ_ZONEINFO_DIR " is not a TZif file of version 2 or later "
			     "without leap seconds; write a zone name outside right/ and posix/, "
			     "or reinstall tzdata",
			     quoted);
	else if (r < 0)
		config_error(load, lineno, "billing", "timezone", "%s cannot be read: %s", quoted,
			     strerror_r(-r, reason, sizeof(reason)));
	if (r < 0)
		return r;
	tz_zone_free(load->config->zone);
	load->config->zone = zone;
	return 0;
}

static int config_parse_timezone(struct config_load *load, const struct config_key *key,
				 const char *value)
{
	int r;

	r = config_load_zone(load, load->lineno, value);
	if (r < 0)
		return r;
	return config_replace_text(load, &load->config->timezone, value);
}

/* Printable ASCII without spaces or '+': a checkpoint origin and a note key
 * name at once. */
static int config_parse_log_origin(struct config_load *load, const struct config_key *key,
				   const char *value)
{
	char quoted[CONFIG_QUOTED_MAX];
	size_t len = strlen(value);
	bool valid = len >= 1 && len <= 255;

	for (size_t i = 0; valid && i < len; i++)
		valid = value[i] > ' ' && value[i] < 0x7f && value[i] != '+';
	if (!valid) {
		config_error(load, load->lineno, key->section, key->name,
			     "%s is not a log origin; write the cooperative's domain and a path, "
			     "without spaces or '+', such as coop.example/log",
			     config_quote(value, quoted));
		return -EINVAL;
	}
	return config_replace_text(load, &load->config->log_origin, value);
}

static int config_parse_www(struct config_load *load, const struct config_key *key,
			    const char *value)
{
	char quoted[CONFIG_QUOTED_MAX];
	size_t len = strlen(value);

	if (len == 0 || len >= PATH_MAX || value[0] != '/') {
		config_error(load, load->lineno, key->section, key->name,
			     "%s is not an absolute folder path; write a path such as "
			     "/etc/coopbill/www (default " COOPBILL_WWWDIR ")",
			     config_quote(value, quoted));
		return -EINVAL;
	}
	return config_replace_text(load, &load->config->www_dir, value);
}

/* An origin, then an optional path without query or fragment; a trailing
 * '/' is dropped, so that "<public_url>/#token=..." has one. */
static int config_parse_public_url(struct config_load *load, const struct config_key *key,
				   const char *value)
{
	char quoted[CONFIG_QUOTED_MAX];
	const char *host = strstr(value, "://");
	const char *path = host ? strchr(host + 3, '/') : NULL;
	size_t origin_len = path ? (size_t)(path - value) : strlen(value);
	size_t len = strlen(value);
	const char *problem = NULL;
	char *origin;
	int r;

	origin = strndup(value, origin_len);
	if (!origin) {
		load->out_of_memory = true;
		return -ENOMEM;
	}
	problem = config_origin_problem(origin);
	free(origin);
	if (!problem && path && strpbrk(path, "?# \t"))
		problem = "has a query, fragment or space";
	if (problem) {
		config_error(load, load->lineno, key->section, key->name,
			     "%s %s; write the address members open, as scheme://host[:port], "
			     "such as http://10.0.0.1:8080 or https://coop.example",
			     config_quote(value, quoted), problem);
		return -EINVAL;
	}
	while (len > 0 && value[len - 1] == '/')
		len--;
	origin = strndup(value, len);
	if (!origin) {
		load->out_of_memory = true;
		return -ENOMEM;
	}
	r = config_replace_text(load, &load->config->public_url, origin);
	free(origin);
	return r;
}

/* One line of text for an invoice's heading: UTF-8, no control characters. */
static int config_parse_coop_text(struct config_load *load, const struct config_key *key,
				  const char *value, char **field)
{
	char quoted[CONFIG_QUOTED_MAX];
	bool printable = utf8_valid(value);

	for (const char *p = value; printable && *p; p++)
		printable = (unsigned char)*p >= 0x20 && *p != 0x7f;
	if (!printable || strlen(value) > CONFIG_COOP_TEXT_MAX) {
		config_error(load, load->lineno, key->section, key->name,
			     "%s is not one line of UTF-8 text of at most %d bytes; write it as it "
			     "should be printed on invoices",
			     config_quote(value, quoted), CONFIG_COOP_TEXT_MAX);
		return -EINVAL;
	}
	return config_replace_text(load, field, value);
}

static int config_parse_value(struct config_load *load, enum config_key_id id, const char *value)
{
	const struct config_key *key = &config_keys[id];

	switch (id) {
	case CONFIG_KEY_LISTEN:
		return config_parse_listen(load, key, value);
	case CONFIG_KEY_CORS_ORIGINS:
		return config_parse_cors_origins(load, key, value);
	case CONFIG_KEY_DATABASE_PATH:
		return config_parse_database_path(load, key, value);
	case CONFIG_KEY_DATABASE_URL:
		return config_parse_database_url(load, key, value);
	case CONFIG_KEY_METER_TABLE:
		return config_parse_meter_table(load, key, value);
	case CONFIG_KEY_METER_GATEWAY:
		return config_parse_meter_gateway(load, key, value);
	case CONFIG_KEY_METER_UPLINKS:
		return config_parse_meter_uplinks(load, key, value);
	case CONFIG_KEY_LOG_ORIGIN:
		return config_parse_log_origin(load, key, value);
	case CONFIG_KEY_WWW:
		return config_parse_www(load, key, value);
	case CONFIG_KEY_PUBLIC_URL:
		return config_parse_public_url(load, key, value);
	case CONFIG_KEY_COOP_NAME:
		return config_parse_coop_text(load, key, value, &load->config->coop_name);
	case CONFIG_KEY_COOP_ADDRESS:
		return config_parse_coop_text(load, key, value, &load->config->coop_address);
	case CONFIG_KEY_COOP_TAX_ID:
		return config_parse_coop_text(load, key, value, &load->config->coop_tax_id);
	case CONFIG_KEY_LOG_KEY_FILE:
		return config_replace_text(load, &load->config->log_key_file, value);
	case CONFIG_KEY_CURRENCY:
		return config_parse_currency(load, key, value);
	case CONFIG_KEY_TIMEZONE:
		return config_parse_timezone(load, key, value);
	case CONFIG_KEY_METRICS_PUBLIC:
	case CONFIG_KEY_METER_ENABLED:
	case CONFIG_KEY_METER_WAIT_FOR_NTP:
		return config_parse_bool(load, key, value);
	default:
		return config_parse_number(load, key, value);
	}
}

static bool config_section_known(const char *section, size_t len)
{
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++)
		if (strlen(config_keys[i].section) == len &&
		    strncmp(config_keys[i].section, section, len) == 0)
			return true;
	return false;
}

static void config_format_sections(char *buf, size_t size)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < CONFIG_KEY_COUNT && pos < size; i++) {
		if (i > 0 && strcmp(config_keys[i].section, config_keys[i - 1].section) == 0)
			continue;
		pos += (size_t)snprintf(buf + pos, size - pos, "%s[%s]", pos ? ", " : "",
					config_keys[i].section);
	}
}

static void config_format_keys(const char *section, char *buf, size_t size)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < CONFIG_KEY_COUNT && pos < size; i++) {
		if (strcmp(config_keys[i].section, section) != 0)
			continue;
		pos += (size_t)snprintf(buf + pos, size - pos, "%s%s", pos ? ", " : "",
					config_keys[i].name);
	}
}

/* Same rule as inih's own: a ';' after whitespace starts an inline comment. */
static const char *config_find_chars_or_comment(const char *text, const char *chars)
{
	bool was_space = false;

	while (*text && !strchr(chars, *text) && !(was_space && *text == ';')) {
		was_space = isspace((unsigned char)*text);
		text++;
	}
	return text;
}

/* inih only returns the first malformed line; checking each line here with
 * inih's own rules reports all of them. Returns false for a line that must
 * not reach inih. Section headers are tracked so that keys of an unknown
 * section are reported once, at the header. */
static bool config_check_line(struct config_load *load, const char *text)
{
	char quoted[CONFIG_QUOTED_MAX], known[128], name[CONFIG_QUOTED_MAX];
	const char *end;
	size_t len;

	if (!*text || *text == ';' || *text == '#')
		return true;
	if (*text == '[') {
		end = config_find_chars_or_comment(text + 1, "]");
		if (*end != ']') {
			config_error(load, load->lineno, NULL, NULL,
				     "section header has no closing ']'; write it as [server]");
			return false;
		}
		len = (size_t)(end - text - 1);
		load->in_unknown_section = !config_section_known(text + 1, len);
		if (load->in_unknown_section) {
			snprintf(name, sizeof(name), "%.*s", (int)len, text + 1);
			config_format_sections(known, sizeof(known));
			config_error(load, load->lineno, NULL, NULL,
				     "unknown section %s; the sections are %s",
				     config_quote(name, quoted), known);
		}
		return true;
	}
	end = config_find_chars_or_comment(text, "=:");
	if (*end != '=' && *end != ':') {
		config_error(load, load->lineno, NULL, NULL,
			     "%s is not a setting; write key = value or [section]",
			     config_quote(text, quoted));
		return false;
	}
	return true;
}

/* The ini_reader: reads whole lines itself so that it knows each line's
 * number (this libinih calls the handler without one), strips leading
 * whitespace so that inih never takes an indented line for a continuation,
 * and refuses lines that inih would truncate. */
static char *config_read_line(char *str, int num, void *stream)
{
	static const char blank[] = "\n";
	struct config_load *load = stream;
	char *start, *end;
	ssize_t read_len;
	size_t len;

	errno = 0;
	read_len = getline(&load->line, &load->line_size, load->file);
	if (read_len < 0) {
		if (errno == ENOMEM)
			load->out_of_memory = true;
		else if (ferror(load->file))
			load->read_errno = errno ? errno : EIO;
		return NULL;
	}
	load->lineno++;
	if (num < (int)sizeof(blank))
		return NULL;

	if (memchr(load->line, '\0', (size_t)read_len)) {
		config_error(load, load->lineno, NULL, NULL,
			     "line contains a NUL byte; save the file as plain text");
		return memcpy(str, blank, sizeof(blank));
	}
	start = load->line;
	if (load->lineno == 1 && strncmp(start, "\xef\xbb\xbf", 3) == 0)
		start += 3;
	while (isspace((unsigned char)*start))
		start++;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	len = (size_t)(end - start);

	/* Room for the line, the '\n' given back to inih and the terminator. */
	if (len + 2 > (size_t)num) {
		config_error(load, load->lineno, NULL, NULL,
			     "line is longer than %d characters; shorten it", num - 2);
		return memcpy(str, blank, sizeof(blank));
	}
	if (!config_check_line(load, start))
		return memcpy(str, blank, sizeof(blank));
	memcpy(str, start, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

static int config_handle_key(void *user, const char *section, const char *name, const char *value)
{
	struct config_load *load = user;
	char known[256];

	if (load->in_unknown_section)
		return 1;
	if (!*section) {
		config_error(load, load->lineno, NULL, name,
			     "is outside any section; move it below its section header, such as "
			     "[server]");
		return 1;
	}
	if (!*name) {
		config_error(load, load->lineno, section, NULL,
			     "a value without a key; write key = value");
		return 1;
	}
	for (size_t id = 0; id < CONFIG_KEY_COUNT; id++) {
		if (strcmp(config_keys[id].section, section) != 0 ||
		    strcmp(config_keys[id].name, name) != 0)
			continue;
		if (load->key_lines[id]) {
			config_error(load, load->lineno, section, name,
				     "is already set on line %d; keep only one of the two lines",
				     load->key_lines[id]);
			return 1;
		}
		load->key_lines[id] = load->lineno;
		load->key_failed[id] = config_parse_value(load, (enum config_key_id)id, value) < 0;
		return 1;
	}
	config_format_keys(section, known, sizeof(known));
	config_error(load, load->lineno, section, name, "unknown key; the keys of [%s] are %s",
		     section, known);
	return 1;
}

/* Checks between keys, once the whole file is read. */
static void config_check_limits(struct config_load *load)
{
	const struct config *config = load->config;
	int per_ip_line = load->key_lines[CONFIG_KEY_MAX_CONNECTIONS_PER_IP];

	if (load->key_failed[CONFIG_KEY_MAX_CONNECTIONS] ||
	    load->key_failed[CONFIG_KEY_MAX_CONNECTIONS_PER_IP] ||
	    config->max_connections_per_ip <= config->max_connections)
		return;
	if (per_ip_line)
		config_error(load, per_ip_line, "server", "max_connections_per_ip",
			     "%u is more than max_connections (%u); write a number from 1 to %u",
			     config->max_connections_per_ip, config->max_connections,
			     config->max_connections);
	else
		config_error(load, load->key_lines[CONFIG_KEY_MAX_CONNECTIONS], "server",
			     "max_connections",
			     "%u is less than max_connections_per_ip (%u by default); raise it or "
			     "set max_connections_per_ip to at most %u",
			     config->max_connections, config->max_connections_per_ip,
			     config->max_connections);
}

/* Without [server] public_url, the page is where the daemon listens. */
static int config_default_public_url(struct config *config)
{
	if (asprintf(&config->public_url, "http://%s", config->listen) < 0) {
		config->public_url = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int config_new(const char *path, struct config **ret_config)
{
	struct config *config = calloc(1, sizeof(*config));

	if (!config)
		return -ENOMEM;
	config->path = strdup(path);
	config->listen = strdup(CONFIG_DEFAULT_LISTEN);
	config->database_path = strdup(CONFIG_DEFAULT_DATABASE_PATH);
	config->database_url = strdup("");
	config->meter_table = strdup(CONFIG_DEFAULT_METER_TABLE);
	config->meter_gateway = strdup(CONFIG_DEFAULT_GATEWAY);
	config->timezone = strdup(CONFIG_DEFAULT_TIMEZONE);
	config->log_origin = strdup(CONFIG_DEFAULT_LOG_ORIGIN);
	config->log_key_file = strdup("");
	config->www_dir = strdup(COOPBILL_WWWDIR);
	config->coop_name = strdup("");
	config->coop_address = strdup("");
	config->coop_tax_id = strdup("");
	if (!config->path || !config->listen || !config->database_path || !config->database_url ||
	    !config->meter_table || !config->meter_gateway || !config->timezone ||
	    !config->log_origin || !config->log_key_file || !config->www_dir ||
	    !config->coop_name || !config->coop_address || !config->coop_tax_id) {
		config_free(config);
		return -ENOMEM;
	}
	if (config_parse_address(CONFIG_DEFAULT_LISTEN, &config->listen_addr,
				 &config->listen_addr_len) < 0) {
		config_free(config);
		return -EINVAL;
	}
	memcpy(config->currency, CONFIG_DEFAULT_CURRENCY, sizeof(config->currency));
	for (size_t id = 0; id < CONFIG_KEY_COUNT; id++)
		if (config_keys[id].kind != CONFIG_KIND_TEXT)
			config_set_number(config, &config_keys[id], config_keys[id].fallback);
	*ret_config = config;
	return 0;
}

int config_load(const char *path, struct config **ret_config, char **ret_errors)
{
	struct config_load load = { .path = path };
	struct config *config = NULL;
	char *errors_text = NULL;
	size_t errors_size = 0;
	int r;

	if (!path || !ret_config || !ret_errors)
		return -EINVAL;
	load.errors = open_memstream(&errors_text, &errors_size);
	if (!load.errors) {
		*ret_errors = NULL;
		return -ENOMEM;
	}

	r = config_new(path, &config);
	if (r < 0)
		goto out;
	load.config = config;
	load.file = fopen(path, "re");
	if (!load.file) {
		r = -errno;
		config_file_error(&load, -r);
		goto out;
	}
	r = ini_parse_stream(config_read_line, &load, config_handle_key, &load);
	if (r > 0)
		config_error(&load, r, NULL, NULL,
			     "cannot parse this line; write key = value or [section]");
	else if (r < 0)
		load.out_of_memory = true;
	if (load.read_errno) {
		r = -load.read_errno;
		config_file_error(&load, load.read_errno);
		goto out;
	}
	config_check_limits(&load);
	if (!load.config->public_url && config_default_public_url(load.config) < 0)
		load.out_of_memory = true;
	if (!load.key_lines[CONFIG_KEY_TIMEZONE])
		config_load_zone(&load, 0, CONFIG_DEFAULT_TIMEZONE);
	/* Hourly roll-ups add whole buckets: a bucket must not straddle an hour. */
	if (3600 % load.config->meter_bucket_s != 0)
		config_error(&load, load.key_lines[CONFIG_KEY_METER_BUCKET_S], "meter", "bucket_s",
			     "%u does not divide an hour; write one of 60, 120, 300, 600, 900, "
			     "1200, 1800 or 3600 (default 300)",
			     load.config->meter_bucket_s);

	r = 0;
	if (load.out_of_memory) {
		fprintf(load.errors, "%s: out of memory\n", path);
		r = -ENOMEM;
	} else if (load.n_errors > 0) {
		r = -EINVAL;
	}
out:
	if (load.file)
		fclose(load.file);
	free(load.line);
	if (fclose(load.errors) != 0 && r == -EINVAL)
		r = -ENOMEM;
	if (r < 0) {
		config_free(config);
		*ret_errors = errors_text;
		return r;
	}
	free(errors_text);
	*ret_config = config;
	return 0;
}

void config_free(struct config *config)
{
	if (!config)
		return;
	free(config->path);
	free(config->listen);
	for (size_t i = 0; i < config->n_cors_origins; i++)
		free(config->cors_origins[i]);
	free(config->cors_origins);
	free(config->database_path);
	free(config->database_url);
	free(config->meter_table);
	free(config->meter_gateway);
	for (size_t i = 0; i < config->n_meter_uplinks; i++)
		free(config->meter_uplinks[i]);
	free(config->meter_uplinks);
	free(config->log_origin);
	free(config->log_key_file);
	free(config->www_dir);
	free(config->public_url);
	free(config->coop_name);
	free(config->coop_address);
	free(config->coop_tax_id);
	free(config->timezone);
	tz_zone_free(config->zone);
	free(config);
}

bool config_cors_allows(const struct config *config, const char *origin)
{
	if (!config || !origin)
		return false;
	for (size_t i = 0; i < config->n_cors_origins; i++)
		if (strcmp(config->cors_origins[i], origin) == 0)
			return true;
	return false;
}

const char *config_database_name(const struct config *config)
{
	return config->database_url[0] ? "PostgreSQL" : config->database_path;
}
