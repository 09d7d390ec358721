/* The schema migrations from sql/, embedded at build time (see scripts/embed-sql.py). */
#pragma once

#include <stddef.h>

struct store_migration {
	unsigned version;
	const char *name;
	const char *sql;
};

extern const struct store_migration store_migrations[];
extern const size_t store_n_migrations;
