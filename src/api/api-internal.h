/* What the api module's files share: the api struct, the call context each
 * handler gets, and the handlers themselves. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "coopbill/api.h"
#include "coopbill/auth.h"
#include "coopbill/http.h"

struct api {
	struct store *store;
	struct meter *meter;
	struct journal *journal;
	const struct config *config;
};

struct api_call {
	struct auth_principal principal;
	struct http_params params;
	/* "token:<id>", for the audit trail. */
	char actor[32];
};

typedef void (*api_handler_fn)(struct api *api, struct http_request *request,
			       const struct api_call *call);

/* Parses a non-negative decimal number, and a positive id, from a path
 * segment or query parameter. */
int api_parse_count(const char *text, int64_t *ret_value);
int api_parse_id(const char *text, int64_t *ret_id);
/* Today's date in the cooperative's time zone. */
void api_today(char ret_date[11]);
/* Replies 503 for a storage failure, naming what failed. */
void api_reply_store_error(struct http_request *request, int error, const char *what);

void api_health_get(struct api *api, struct http_request *request, const struct api_call *call);
void api_me_get(struct api *api, struct http_request *request, const struct api_call *call);
void api_households_list(struct api *api, struct http_request *request,
			 const struct api_call *call);
void api_households_create(struct api *api, struct http_request *request,
			   const struct api_call *call);
void api_household_get(struct api *api, struct http_request *request, const struct api_call *call);
void api_household_patch(struct api *api, struct http_request *request,
			 const struct api_call *call);
void api_household_usage(struct api *api, struct http_request *request,
			 const struct api_call *call);
void api_usage_summary(struct api *api, struct http_request *request, const struct api_call *call);
void api_metrics_get(struct api *api, struct http_request *request, const struct api_call *call);
void api_household_log_salt(struct api *api, struct http_request *request,
			    const struct api_call *call);
void api_log_checkpoint(struct api *api, struct http_request *request, const struct api_call *call);
void api_log_key(struct api *api, struct http_request *request, const struct api_call *call);
void api_log_entry(struct api *api, struct http_request *request, const struct api_call *call);
void api_log_inclusion(struct api *api, struct http_request *request, const struct api_call *call);
void api_log_consistency(struct api *api, struct http_request *request,
			 const struct api_call *call);
void api_household_token_create(struct api *api, struct http_request *request,
				const struct api_call *call);
