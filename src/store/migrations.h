/* The schema migrations from sql/, and their PostgreSQL dialect from sql/pg/,
 * embedded at build time (see scripts/embed-sql.py). */
#pragma once

#include <stddef.h>

struct store_migration {
	unsigned version;
	const char *name;
	const char *sql;
};

extern const struct store_migration store_migrations[];
extern const size_t store_n_migrations;
extern const struct store_migration store_pg_migrations[];
extern const size_t store_pg_n_migrations;
