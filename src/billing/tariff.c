/* Tariff documents: strict validation of the JSON (unknown keys, wrong types
 * and out-of-range numbers are errors that name their JSON path), the parsed
 * form the rating engine reads, and the canonical text that is signed. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coopbill/currency.h"
#include "coopbill/tariff.h"

/* docs/tariff.schema.json, embedded at build time by scripts/embed-text.py. */
extern const char tariff_schema_text[];

#define PATH_MAX_LEN 256
#define PATH_DEPTH   16
/* An unknown key is shown in the path up to this many bytes. */
#define KEY_SHOWN_MAX 40

static const char *const day_names[7] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

/* The walk through the document: the JSON path of the value being checked,
 * so that every error says where it is. */
struct parse {
	char *err;
	size_t errsize;
	char path[PATH_MAX_LEN];
	size_t path_len;
	size_t saved[PATH_DEPTH];
	size_t depth;
};

static int fail(struct parse *p, const char *format, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parse *p, const char *format, ...)
{
	va_list args;
	int n;

	if (!p->err || p->errsize == 0)
		return -EINVAL;
	n = snprintf(p->err, p->errsize, "%s: ", p->path);
	if (n >= 0 && (size_t)n < p->errsize) {
		va_start(args, format);
		vsnprintf(p->err + n, p->errsize - (size_t)n, format, args);
		va_end(args);
	}
	return -EINVAL;
}

static void path_append(struct parse *p, const char *text)
{
	size_t len = strlen(text);

	/* A path longer than the buffer keeps its start, which locates the problem. */
	if (p->path_len + len >= sizeof(p->path))
		len = sizeof(p->path) - 1 - p->path_len;
	memcpy(p->path + p->path_len, text, len);
	p->path_len += len;
	p->path[p->path_len] = '\0';
}

static void path_save(struct parse *p)
{
	/* The document's nesting is checked level by level and is at most 6 deep. */
	assert(p->depth < PATH_DEPTH);
	p->saved[p->depth++] = p->path_len;
}

static void path_pop(struct parse *p)
{
	assert(p->depth > 0);
	p->path_len = p->saved[--p->depth];
	p->path[p->path_len] = '\0';
}

static bool is_identifier(const char *key)
{
	if (!*key)
		return false;
	for (const char *c = key; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' ||
		      (*c >= '0' && *c <= '9' && c != key)))
			return false;
	return true;
}

/* Appends ".key", or ["key"] with JSON escapes for a key that is not a plain
 * identifier (an unknown key can be anything). */
static void path_push_key(struct parse *p, const char *key)
{
	char escaped[KEY_SHOWN_MAX * 6 + 8];
	size_t len = 0, shown = 0;

	path_save(p);
	if (is_identifier(key) && strlen(key) <= KEY_SHOWN_MAX) {
		path_append(p, ".");
		path_append(p, key);
		return;
	}
	escaped[len++] = '[';
	escaped[len++] = '"';
	for (const unsigned char *c = (const unsigned char *)key; *c && shown < KEY_SHOWN_MAX;
	     c++, shown++) {
		if (*c == '"' || *c == '\\') {
			escaped[len++] = '\\';
			escaped[len++] = (char)*c;
		} else if (*c < 0x20 || *c == 0x7f) {
			len += (size_t)snprintf(escaped + len, sizeof(escaped) - len, "\\u%04x",
						*c);
		} else {
			escaped[len++] = (char)*c;
		}
	}
	if (strlen(key) > shown) {
		memcpy(escaped + len, "...", 3);
		len += 3;
	}
	escaped[len++] = '"';
	escaped[len++] = ']';
	escaped[len] = '\0';
	path_append(p, escaped);
}

static void path_push_index(struct parse *p, size_t index)
{
	char text[32];

	path_save(p);
	snprintf(text, sizeof(text), "[%zu]", index);
	path_append(p, text);
}

/* Rejects any key of object outside allowed[]: a misspelt key would otherwise
 * silently mean its default. */
static int check_object(struct parse *p, json_t *object, const char *const *allowed, size_t n)
{
	const char *key;
	json_t *value = NULL;

	if (!json_is_object(object))
		return fail(p, "must be an object");
	json_object_foreach(object, key, value)
	{
		bool known = false;

		for (size_t i = 0; i < n && !known; i++)
			known = strcmp(key, allowed[i]) == 0;
		if (!known) {
			path_push_key(p, key);
			return fail(p, "unknown key");
		}
	}
	return 0;
}

/* Moves the path to object[key] (the caller pops it) and finds the value;
 * *ret_value is NULL for an optional key that is absent. */
static int enter(struct parse *p, json_t *object, const char *key, bool required,
		 json_t **ret_value)
{
	json_t *value = json_object_get(object, key);

	path_push_key(p, key);
	if (!value && required)
		return fail(p, "is required");
	*ret_value = value;
	return 0;
}

static int parse_integer(struct parse *p, json_t *value, int64_t min, int64_t max,
			 int64_t *ret_value)
{
	json_int_t n;

	if (!json_is_integer(value))
		return fail(p, "must be an integer >= %lld", (long long)min);
	n = json_integer_value(value);
	if (n < min)
		return fail(p, "must be an integer >= %lld", (long long)min);
	if (n > max)
		return fail(p, "must be an integer <= %lld", (long long)max);
	*ret_value = n;
	return 0;
}

/* Text members and their lengths count characters (Unicode code points), as
 * JSON Schema's maxLength does; control characters have no place on an invoice. */
static int parse_text(struct parse *p, json_t *value, size_t max_chars, char **ret_text)
{
	size_t chars = 0;
	const char *text;
	char *copy;

	if (!json_is_string(value))
		return fail(p, "must be a string of 1 to %zu characters", max_chars);
	text = json_string_value(value);
	for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
		if (*c < 0x20 || *c == 0x7f)
			return fail(p, "must not contain control characters");
		if ((*c & 0xc0) != 0x80)
			chars++;
	}
	if (chars < 1 || chars > max_chars)
		return fail(p, "must be a string of 1 to %zu characters", max_chars);
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	*ret_text = copy;
	return 0;
}

static int parse_direction(struct parse *p, json_t *value, enum tariff_direction *ret_direction)
{
	static const enum tariff_direction directions[] = { TARIFF_DIRECTION_DOWN,
							    TARIFF_DIRECTION_UP,
							    TARIFF_DIRECTION_BOTH };
	const char *text = json_string_value(value);

	for (size_t i = 0; text && i < sizeof(directions) / sizeof(directions[0]); i++)
		if (strcmp(text, tariff_direction_name(directions[i])) == 0) {
			*ret_direction = directions[i];
			return 0;
		}
	return fail(p, "must be \"down\", \"up\" or \"both\"");
}

static int scope_member(struct parse *p, json_t *object, enum tariff_scope *ret_scope)
{
	static const enum tariff_scope scopes[] = { TARIFF_SCOPE_INTERNET, TARIFF_SCOPE_LOCAL };
	json_t *value = NULL;
	const char *text;
	int r;

	/* Absent means internet: the text of a tariff published before local
	 * traffic was counted stays as it was, and so does its hash. */
	r = enter(p, object, "scope", false, &value);
	if (r < 0)
		return r;
	*ret_scope = TARIFF_SCOPE_INTERNET;
	if (value) {
		size_t i = 0;

		text = json_string_value(value);
		while (i < sizeof(scopes) / sizeof(scopes[0]) &&
		       !(text && strcmp(text, tariff_scope_name(scopes[i])) == 0))
			i++;
		if (i == sizeof(scopes) / sizeof(scopes[0]))
			return fail(p, "must be \"internet\" or \"local\"");
		*ret_scope = scopes[i];
	}
	path_pop(p);
	return 0;
}

static int parse_array(struct parse *p, json_t *value, size_t min, size_t max, const char *what)
{
	if (json_is_array(value) && json_array_size(value) >= min && json_array_size(value) <= max)
		return 0;
	if (min == 0)
		return fail(p, "must be an array of at most %zu %s", max, what);
	return fail(p, "must be an array of %zu to %zu %s", min, max, what);
}

/* The typed members: each checks object[key] and leaves the path as it was. */

static int integer_member(struct parse *p, json_t *object, const char *key, bool required,
			  int64_t min, int64_t max, bool *ret_present, int64_t *ret_value)
{
	json_t *value = NULL;
	int r;

	r = enter(p, object, key, required, &value);
	if (r < 0)
		return r;
	if (value) {
		r = parse_integer(p, value, min, max, ret_value);
		if (r < 0)
			return r;
	}
	if (ret_present)
		*ret_present = value != NULL;
	path_pop(p);
	return 0;
}

static int boolean_member(struct parse *p, json_t *object, const char *key, bool *ret_value)
{
	json_t *value = NULL;
	int r;

	r = enter(p, object, key, true, &value);
	if (r < 0)
		return r;
	if (!json_is_boolean(value))
		return fail(p, "must be true or false");
	*ret_value = json_is_true(value);
	path_pop(p);
	return 0;
}

static int text_member(struct parse *p, json_t *object, const char *key, bool required,
		       size_t max_chars, char **ret_text)
{
	json_t *value = NULL;
	int r;

	r = enter(p, object, key, required, &value);
	if (r < 0)
		return r;
	if (value) {
		r = parse_text(p, value, max_chars, ret_text);
		if (r < 0)
			return r;
	}
	path_pop(p);
	return 0;
}

static int direction_member(struct parse *p, json_t *object, const char *key,
			    enum tariff_direction *ret_direction)
{
	json_t *value = NULL;
	int r;

	r = enter(p, object, key, true, &value);
	if (r < 0)
		return r;
	r = parse_direction(p, value, ret_direction);
	if (r < 0)
		return r;
	path_pop(p);
	return 0;
}

/* "HH:MM" on a 5-minute boundary as minutes after midnight, or -1; "24:00"
 * only where end_of_day is allowed. */
static int32_t parse_time(const char *text, bool end_of_day)
{
	int hours, minutes;

	if (!text || strlen(text) != 5 || text[2] != ':')
		return -1;
	hours = date_digits(text, 2);
	minutes = date_digits(text + 3, 2);
	if (hours < 0 || minutes < 0 || minutes > 59 || minutes % 5 != 0)
		return -1;
	if (hours > 23 && !(end_of_day && hours == 24 && minutes == 0))
		return -1;
	return hours * 60 + minutes;
}

static int time_member(struct parse *p, json_t *object, const char *key, bool end_of_day,
		       int32_t *ret_min)
{
	json_t *value = NULL;
	int32_t min;
	int r;

	r = enter(p, object, key, true, &value);
	if (r < 0)
		return r;
	min = parse_time(json_string_value(value), end_of_day);
	if (min < 0)
		return fail(p, "must be a time \"HH:MM\" on a 5-minute boundary, from 00:00 to %s",
			    end_of_day ? "24:00" : "23:55");
	*ret_min = min;
	path_pop(p);
	return 0;
}

static int parse_days(struct parse *p, json_t *value, uint8_t *ret_days)
{
	uint8_t days = 0;
	size_t index;
	json_t *day;
	int r;

	r = parse_array(p, value, 1, 7, "days");
	if (r < 0)
		return r;
	json_array_foreach(value, index, day)
	{
		const char *text = json_string_value(day);
		int found = -1;

		path_push_index(p, index);
		for (int i = 0; text && i < 7; i++)
			if (strcmp(text, day_names[i]) == 0)
				found = i;
		if (found < 0)
			return fail(p, "must be one of \"mon\", \"tue\", \"wed\", \"thu\", "
				       "\"fri\", \"sat\", \"sun\"");
		if (days & (1u << found))
			return fail(p, "\"%s\" is listed twice", day_names[found]);
		days |= (uint8_t)(1u << found);
		path_pop(p);
	}
	*ret_days = days;
	return 0;
}

static int parse_window(struct parse *p, json_t *value, void *ret)
{
	struct tariff_window *ret_window = ret;
	static const char *const keys[] = { "days", "from", "to" };
	struct tariff_window window = { 0 };
	json_t *days = NULL;
	int r;

	r = check_object(p, value, keys, 3);
	if (r < 0)
		return r;
	if ((r = enter(p, value, "days", true, &days)) < 0 ||
	    (r = parse_days(p, days, &window.days)) < 0)
		return r;
	path_pop(p);
	if ((r = time_member(p, value, "from", false, &window.from_min)) < 0 ||
	    (r = time_member(p, value, "to", true, &window.to_min)) < 0)
		return r;
	if (window.to_min <= window.from_min) {
		path_push_key(p, "to");
		return fail(p, "must be later than from (%02d:%02d)", window.from_min / 60,
			    window.from_min % 60);
	}
	*ret_window = window;
	return 0;
}

static int parse_tier(struct parse *p, json_t *value, void *ret)
{
	struct tariff_tier *ret_tier = ret;
	static const char *const keys[] = { "up_to_gb", "price_per_gb_minor" };
	struct tariff_tier tier = { 0 };
	int r;

	if ((r = check_object(p, value, keys, 2)) < 0 ||
	    (r = integer_member(p, value, "up_to_gb", false, 0, TARIFF_GB_MAX, &tier.has_up_to,
				&tier.up_to_gb)) < 0 ||
	    (r = integer_member(p, value, "price_per_gb_minor", true, 0, TARIFF_MINOR_MAX, NULL,
				&tier.price_per_gb_minor)) < 0)
		return r;
	*ret_tier = tier;
	return 0;
}

/* The band edges: up_to_gb strictly increasing and above the allowance, and
 * only the last tier open-ended, so that every byte has exactly one price. */
static int check_tiers(struct parse *p, const struct tariff_charge *charge)
{
	int64_t previous = charge->allowance_gb;

	for (size_t i = 0; i < charge->n_tiers; i++) {
		const struct tariff_tier *tier = &charge->tiers[i];
		bool last = i + 1 == charge->n_tiers;

		path_push_index(p, i);
		if (last && tier->has_up_to) {
			path_push_key(p, "up_to_gb");
			return fail(p, "the last tier must not have up_to_gb: it prices "
				       "everything above the tier before it");
		}
		if (!last && !tier->has_up_to)
			return fail(p, "up_to_gb is required in every tier but the last");
		if (!last && tier->up_to_gb <= previous) {
			path_push_key(p, "up_to_gb");
			if (i == 0)
				return fail(p, "must be greater than allowance_gb (%lld)",
					    (long long)previous);
			return fail(p, "must be greater than the previous tier's up_to_gb (%lld)",
				    (long long)previous);
		}
		if (!last)
			previous = tier->up_to_gb;
		path_pop(p);
	}
	return 0;
}

/* Parses an array of min to max items with parse_item into a new array of
 * item_size bytes each. An item is counted before it is parsed, so that
 * tariff_free() frees a half-parsed one. */
static int parse_items(struct parse *p, json_t *value, size_t min, size_t max, const char *what,
		       size_t item_size, int (*parse_item)(struct parse *, json_t *, void *),
		       void **ret_items, size_t *ret_n)
{
	size_t index;
	json_t *item;
	char *items;
	int r;

	r = parse_array(p, value, min, max, what);
	if (r < 0 || json_array_size(value) == 0)
		return r;
	items = calloc(json_array_size(value), item_size);
	if (!items)
		return -ENOMEM;
	*ret_items = items;
	json_array_foreach(value, index, item)
	{
		path_push_index(p, index);
		(*ret_n)++;
		r = parse_item(p, item, items + index * item_size);
		if (r < 0)
			return r;
		path_pop(p);
	}
	return 0;
}

static int parse_windows(struct parse *p, json_t *value, struct tariff_charge *charge)
{
	void *windows = NULL;
	int r;

	r = parse_items(p, value, 1, TARIFF_WINDOWS_MAX, "windows", sizeof(*charge->windows),
			parse_window, &windows, &charge->n_windows);
	charge->windows = windows;
	return r;
}

static int parse_tiers(struct parse *p, json_t *value, struct tariff_charge *charge)
{
	void *tiers = NULL;
	int r;

	r = parse_items(p, value, 1, TARIFF_TIERS_MAX, "tiers", sizeof(*charge->tiers), parse_tier,
			&tiers, &charge->n_tiers);
	charge->tiers = tiers;
	return r < 0 ? r : check_tiers(p, charge);
}

static int parse_charge(struct parse *p, json_t *value, void *ret)
{
	struct tariff_charge *charge = ret;
	static const char *const keys[] = { "name",    "direction",    "scope",
					    "windows", "allowance_gb", "tiers" };
	json_t *windows = NULL, *tiers = NULL;
	int r;

	if ((r = check_object(p, value, keys, sizeof(keys) / sizeof(keys[0]))) < 0 ||
	    (r = text_member(p, value, "name", true, TARIFF_NAME_MAX, &charge->name)) < 0 ||
	    (r = direction_member(p, value, "direction", &charge->direction)) < 0 ||
	    (r = scope_member(p, value, &charge->scope)) < 0)
		return r;
	r = enter(p, value, "windows", false, &windows);
	if (r < 0)
		return r;
	if (windows && (r = parse_windows(p, windows, charge)) < 0)
		return r;
	path_pop(p);
	/* The allowance comes before the tiers: their edges are checked against it. */
	if ((r = integer_member(p, value, "allowance_gb", false, 0, TARIFF_GB_MAX, NULL,
				&charge->allowance_gb)) < 0 ||
	    (r = enter(p, value, "tiers", true, &tiers)) < 0 ||
	    (r = parse_tiers(p, tiers, charge)) < 0)
		return r;
	path_pop(p);
	return 0;
}

static int parse_charges(struct parse *p, json_t *value, struct tariff *tariff)
{
	void *charges = NULL;
	int r;

	r = parse_items(p, value, 0, TARIFF_CHARGES_MAX, "usage charges", sizeof(*tariff->charges),
			parse_charge, &charges, &tariff->n_charges);
	tariff->charges = charges;
	return r;
}

static int parse_categories(struct parse *p, json_t *value, struct tariff *tariff)
{
	size_t index;
	json_t *item;
	int r;

	r = parse_array(p, value, 1, TARIFF_CATEGORIES_MAX, "categories");
	if (r < 0)
		return r;
	tariff->categories = calloc(json_array_size(value), sizeof(*tariff->categories));
	if (!tariff->categories)
		return -ENOMEM;
	json_array_foreach(value, index, item)
	{
		const char *text = json_string_value(item);
		size_t len = text ? strlen(text) : 0;

		path_push_index(p, index);
		if (!text || len < 1 || len > TARIFF_CATEGORY_MAX ||
		    strspn(text, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
			return fail(p,
				    "must be a category name of 1 to %d characters a-z, 0-9 and _",
				    TARIFF_CATEGORY_MAX);
		for (size_t i = 0; i < tariff->n_categories; i++)
			if (strcmp(tariff->categories[i], text) == 0)
				return fail(p, "\"%s\" is listed twice", text);
		tariff->categories[tariff->n_categories] = strdup(text);
		if (!tariff->categories[tariff->n_categories])
			return -ENOMEM;
		tariff->n_categories++;
		path_pop(p);
	}
	return 0;
}

static int parse_emergency(struct parse *p, json_t *value, struct tariff *tariff)
{
	static const char *const keys[] = { "reason" };
	int r;

	if ((r = check_object(p, value, keys, 1)) < 0 ||
	    (r = text_member(p, value, "reason", true, TARIFF_REASON_MAX,
			     &tariff->emergency_reason)) < 0)
		return r;
	return 0;
}

static int parse_tax(struct parse *p, json_t *value, struct tariff *tariff)
{
	static const char *const keys[] = { "rate_bp", "included" };
	int64_t rate_bp = 0;
	int r;

	if ((r = check_object(p, value, keys, 2)) < 0 ||
	    (r = integer_member(p, value, "rate_bp", true, 0, TARIFF_BP_MAX, NULL, &rate_bp)) < 0 ||
	    (r = boolean_member(p, value, "included", &tariff->tax_included)) < 0)
		return r;
	tariff->has_tax = true;
	tariff->tax_rate_bp = (int32_t)rate_bp;
	return 0;
}

static int parse_fixed_fee(struct parse *p, json_t *value, struct tariff *tariff)
{
	static const char *const keys[] = { "amount_minor", "prorate", "description" };
	int r;

	if ((r = check_object(p, value, keys, 3)) < 0 ||
	    (r = integer_member(p, value, "amount_minor", true, 0, TARIFF_MINOR_MAX, NULL,
				&tariff->fixed_fee_minor)) < 0 ||
	    (r = boolean_member(p, value, "prorate", &tariff->fixed_fee_prorate)) < 0 ||
	    (r = text_member(p, value, "description", false, TARIFF_NAME_MAX,
			     &tariff->fixed_fee_description)) < 0)
		return r;
	tariff->has_fixed_fee = true;
	return 0;
}

static int parse_cost_sharing(struct parse *p, json_t *value, struct tariff *tariff)
{
	static const char *const keys[] = { "categories", "equal_bp", "direction" };
	json_t *categories = NULL;
	int64_t equal_bp;
	int r;

	if ((r = check_object(p, value, keys, 3)) < 0 ||
	    (r = enter(p, value, "categories", true, &categories)) < 0 ||
	    (r = parse_categories(p, categories, tariff)) < 0)
		return r;
	path_pop(p);
	if ((r = integer_member(p, value, "equal_bp", true, 0, TARIFF_BP_MAX, NULL, &equal_bp)) <
		    0 ||
	    (r = direction_member(p, value, "direction", &tariff->cost_sharing_direction)) < 0)
		return r;
	tariff->has_cost_sharing = true;
	tariff->equal_bp = (int32_t)equal_bp;
	return 0;
}

static int parse_currency(struct parse *p, json_t *value, struct tariff *tariff)
{
	const char *code = json_string_value(value);

	if (!code || strlen(code) != 3 || currency_exponent(code, &tariff->exponent) < 0)
		return fail(p, "must be a known ISO 4217 currency code, like \"EUR\"");
	memcpy(tariff->currency, code, 4);
	return 0;
}

static int parse_valid_from(struct parse *p, json_t *value, struct date *ret_date)
{
	struct date date;

	if (date_parse(json_string_value(value), &date) < 0 || date.day != 1)
		return fail(p,
			    "must be the first day of a month from 1970 on, like \"2027-01-01\"");
	*ret_date = date;
	return 0;
}

/* An optional object member: parse(p, value, tariff) runs only when present. */
static int object_member(struct parse *p, json_t *object, const char *key, struct tariff *tariff,
			 int (*parse)(struct parse *, json_t *, struct tariff *))
{
	json_t *value = NULL;
	int r;

	r = enter(p, object, key, false, &value);
	if (r < 0)
		return r;
	if (value && (r = parse(p, value, tariff)) < 0)
		return r;
	path_pop(p);
	return 0;
}

/* Marks the slots of one direction that a charge takes, unless an earlier
 * charge (document order is precedence) took them already. */
static void mark_slots(uint8_t *slots, const struct tariff_charge *charge, uint8_t index)
{
	if (charge->n_windows == 0) {
		for (size_t slot = 0; slot < TARIFF_WEEK_SLOTS; slot++)
			if (slots[slot] == TARIFF_SLOT_NOTHING)
				slots[slot] = index;
		return;
	}
	for (size_t w = 0; w < charge->n_windows; w++) {
		const struct tariff_window *window = &charge->windows[w];

		for (int day = 0; day < 7; day++) {
			size_t first, end;

			if (!(window->days & (1u << day)))
				continue;
			first = (size_t)day * 24 * 3600 / TARIFF_SLOT_S +
				(size_t)window->from_min * 60 / TARIFF_SLOT_S;
			end = (size_t)day * 24 * 3600 / TARIFF_SLOT_S +
			      (size_t)window->to_min * 60 / TARIFF_SLOT_S;
			for (size_t slot = first; slot < end; slot++)
				if (slots[slot] == TARIFF_SLOT_NOTHING)
					slots[slot] = index;
		}
	}
}

static void build_slots(struct tariff *tariff)
{
	memset(tariff->charge_by_slot, TARIFF_SLOT_NOTHING, sizeof(tariff->charge_by_slot));
	memset(tariff->local_charge_by_slot, TARIFF_SLOT_NOTHING,
	       sizeof(tariff->local_charge_by_slot));
	for (size_t i = 0; i < tariff->n_charges; i++) {
		const struct tariff_charge *charge = &tariff->charges[i];
		uint8_t(*slots)[TARIFF_WEEK_SLOTS] = charge->scope == TARIFF_SCOPE_LOCAL
							     ? tariff->local_charge_by_slot
							     : tariff->charge_by_slot;

		if (charge->direction & TARIFF_DIRECTION_DOWN)
			mark_slots(slots[0], charge, (uint8_t)i);
		if (charge->direction & TARIFF_DIRECTION_UP)
			mark_slots(slots[1], charge, (uint8_t)i);
	}
}

static int parse_document(struct parse *p, json_t *root, struct tariff *tariff)
{
	static const char *const keys[] = { "name",	     "currency",      "valid_from",
					    "emergency",     "tax",	      "fixed_fee",
					    "usage_charges", "minimum_minor", "cap_minor",
					    "cost_sharing" };
	json_t *value = NULL;
	int r;

	if ((r = check_object(p, root, keys, sizeof(keys) / sizeof(keys[0]))) < 0 ||
	    (r = text_member(p, root, "name", true, TARIFF_NAME_MAX, &tariff->name)) < 0)
		return r;
	if ((r = enter(p, root, "currency", true, &value)) < 0 ||
	    (r = parse_currency(p, value, tariff)) < 0)
		return r;
	path_pop(p);
	if ((r = enter(p, root, "valid_from", true, &value)) < 0 ||
	    (r = parse_valid_from(p, value, &tariff->valid_from)) < 0)
		return r;
	path_pop(p);
	if ((r = object_member(p, root, "emergency", tariff, parse_emergency)) < 0 ||
	    (r = object_member(p, root, "tax", tariff, parse_tax)) < 0 ||
	    (r = object_member(p, root, "fixed_fee", tariff, parse_fixed_fee)) < 0 ||
	    (r = object_member(p, root, "usage_charges", tariff, parse_charges)) < 0 ||
	    (r = integer_member(p, root, "minimum_minor", false, 0, TARIFF_MINOR_MAX,
				&tariff->has_minimum, &tariff->minimum_minor)) < 0 ||
	    (r = integer_member(p, root, "cap_minor", false, 0, TARIFF_MINOR_MAX, &tariff->has_cap,
				&tariff->cap_minor)) < 0)
		return r;
	if (tariff->has_cap && tariff->has_minimum && tariff->cap_minor < tariff->minimum_minor) {
		path_push_key(p, "cap_minor");
		return fail(p, "must be >= minimum_minor (%lld)", (long long)tariff->minimum_minor);
	}
	if ((r = object_member(p, root, "cost_sharing", tariff, parse_cost_sharing)) < 0)
		return r;
	build_slots(tariff);
	return 0;
}

int tariff_parse(const char *json_text, size_t len, struct tariff **ret_tariff, char *err,
		 size_t errsize)
{
	struct parse p = { .err = err, .errsize = errsize, .path = "$", .path_len = 1 };
	struct tariff *tariff = NULL;
	json_error_t error;
	json_t *root = NULL;
	int r;

	if (!json_text || !ret_tariff)
		return -EINVAL;
	if (len > TARIFF_TEXT_MAX)
		return fail(&p, "the tariff is larger than %d bytes", TARIFF_TEXT_MAX);
	root = json_loadb(json_text, len, JSON_REJECT_DUPLICATES, &error);
	if (!root)
		return fail(&p, "not valid JSON at line %d, column %d: %s", error.line,
			    error.column, error.text);

	tariff = calloc(1, sizeof(*tariff));
	if (!tariff) {
		r = -ENOMEM;
		goto out;
	}
	r = parse_document(&p, root, tariff);
	if (r < 0)
		goto out;
	/* The document as validated, keys sorted and compact: one tariff, one text.
	 * Validation leaves only known keys and integers in it, so nothing in the
	 * text is ignored by the engine and no number has two spellings. */
	tariff->canonical_json = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	if (!tariff->canonical_json) {
		r = -ENOMEM;
		goto out;
	}
	*ret_tariff = tariff;
	tariff = NULL;
out:
	if (r == -ENOMEM)
		fail(&p, "out of memory");
	tariff_free(tariff);
	json_decref(root);
	return r;
}

void tariff_free(struct tariff *tariff)
{
	if (!tariff)
		return;
	for (size_t i = 0; i < tariff->n_charges; i++) {
		free(tariff->charges[i].name);
		free(tariff->charges[i].windows);
		free(tariff->charges[i].tiers);
	}
	free(tariff->charges);
	for (size_t i = 0; i < tariff->n_categories; i++)
		free(tariff->categories[i]);
	free(tariff->categories);
	free(tariff->name);
	free(tariff->emergency_reason);
	free(tariff->fixed_fee_description);
	free(tariff->canonical_json);
	free(tariff);
}

int tariff_canonical_json(const struct tariff *tariff, char **ret_text)
{
	char *text;

	if (!tariff || !tariff->canonical_json)
		return -EINVAL;
	text = strdup(tariff->canonical_json);
	if (!text)
		return -ENOMEM;
	*ret_text = text;
	return 0;
}

const char *tariff_schema_json(void)
{
	return tariff_schema_text;
}

const char *tariff_direction_name(enum tariff_direction direction)
{
	switch (direction) {
	case TARIFF_DIRECTION_DOWN:
		return "down";
	case TARIFF_DIRECTION_UP:
		return "up";
	case TARIFF_DIRECTION_BOTH:
		return "both";
	}
	return "unknown";
}

const char *tariff_scope_name(enum tariff_scope scope)
{
	switch (scope) {
	case TARIFF_SCOPE_INTERNET:
		return "internet";
	case TARIFF_SCOPE_LOCAL:
		return "local";
	}
	return "unknown";
}
