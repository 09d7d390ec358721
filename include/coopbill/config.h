/* Configuration: the INI file (libinih), its defaults, and strict validation.
 * Every problem is reported as "file:line: [section] key: what to fix". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct tz_zone;

#define CONFIG_DEFAULT_PATH "/etc/coopbill/coopbill.conf"

struct config {
	char *path;

	/* [server] */
	char *listen; /* as written: "127.0.0.1:8080" or "[::1]:8080" */
	struct sockaddr_storage listen_addr;
	socklen_t listen_addr_len;
	char **cors_origins; /* exact origins, e.g. "https://coop.example" */
	size_t n_cors_origins;
	unsigned max_connections;
	unsigned max_connections_per_ip;
	unsigned connection_timeout_s;
	unsigned header_timeout_s; /* for a request's headers to arrive */
	size_t connection_memory_bytes;
	size_t max_body_bytes;
	size_t body_memory_bytes;   /* all bodies being received, together */
	unsigned max_series_points; /* longest usage series one request may ask for */
	bool metrics_public;	    /* GET /metrics without a token */
	char *www_dir;		    /* the member page's files */
	/* Where members open the page, without a trailing slash, such as
	 * "http://10.0.0.1:8080"; sign-in links start with it. */
	char *public_url;

	/* [cooperative]: printed on invoices; "" when not set. */
	char *coop_name;
	char *coop_address;
	char *coop_tax_id;

	/* [database] */
	char *database_path;
	char *database_url; /* "" for SQLite at database_path */

	/* [meter] */
	bool meter_enabled;
	unsigned meter_interval_s;
	char *meter_table;
	/* The gateway this daemon meters the households of (households carry
	 * theirs); it takes effect on restart. */
	char *meter_gateway;
	unsigned meter_bucket_s;
	bool meter_wait_for_ntp;
	unsigned meter_keep_buckets_days;
	/* The interfaces that lead to the internet, by name; none: all
	 * forwarded traffic is internet traffic. */
	char **meter_uplinks;
	size_t n_meter_uplinks;

	/* [log] */
	char *log_origin;   /* the checkpoints' origin line and the key's name */
	char *log_key_file; /* "" for log.key beside the database */

	/* [billing] */
	char currency[4]; /* ISO 4217 code */
	char *timezone;	  /* IANA zone name, e.g. "Europe/Madrid" */
	/* The zone read from it when the configuration was loaded: what local
	 * dates and billing periods are computed with (never the process's TZ). */
	struct tz_zone *zone;
	/* Days between a tariff's publication and the start of its first period. */
	unsigned notice_days;

	/* [label]: the profiles a tariff's label prices when too few
	 * households were billed to take them from a period, in GB a month. */
	unsigned label_light_down_gb;
	unsigned label_light_up_gb;
	unsigned label_typical_down_gb;
	unsigned label_typical_up_gb;
	unsigned label_heavy_down_gb;
	unsigned label_heavy_up_gb;
};

/* Reads and validates the whole file. On failure returns a negative errno and,
 * in *ret_errors, one line per problem (the caller frees it). */
int config_load(const char *path, struct config **ret_config, char **ret_errors);
/* How messages name the database: its path, or "PostgreSQL" for a url,
 * which may hold a password. */
const char *config_database_name(const struct config *config);
void config_free(struct config *config);

/* A gateway's name: 1 to 32 lower-case letters, digits or '-', starting
 * with a letter or digit; CONFIG_GATEWAY_RULE says so to the operator. */
#define CONFIG_GATEWAY_MAX 32
#define CONFIG_GATEWAY_RULE \
	"1 to 32 lower-case letters, digits or '-', starting with a letter or digit"
bool config_gateway_valid(const char *name);

/* True when the origin is one of the configured CORS origins. */
bool config_cors_allows(const struct config *config, const char *origin);
