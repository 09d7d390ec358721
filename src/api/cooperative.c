/* GET /api/v1/cooperative: who bills, in what and where — what the member
 * page needs before anyone signs in (an invoice's heading, the currency and
 * time zone its figures are shown in, the address sign-in links start
 * with). */
#include "api-internal.h"
#include "coopbill/config.h"
#include "coopbill/currency.h"

void api_cooperative_get(struct api *api, struct http_request *request, const struct api_call *call)
{
	const struct config *config = api->ledger.config;
	unsigned exponent = 0;

	(void)call;
	/* The configuration only takes currencies the table knows. */
	if (currency_exponent(config->currency, &exponent) < 0) {
		http_reply_problem(request, 500, "internal",
				   "the currency %s has no known exponent", config->currency);
		return;
	}
	http_reply_json(request, 200,
			json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "name", config->coop_name,
				  "address", config->coop_address, "tax_id", config->coop_tax_id,
				  "currency", config->currency, "currency_exponent", (int)exponent,
				  "timezone", config->timezone, "public_url", config->public_url));
}
