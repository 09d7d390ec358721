/* GET /healthz: whether the database answers, for monitoring and load balancers. */
#include "api-internal.h"
#include "build-config.h"
#include "coopbill/store.h"

void api_health_get(struct api *api, struct http_request *request, const struct api_call *call)
{
	unsigned schema_version = 0;
	int r;

	r = store_ping(api->store);
	if (r == 0)
		r = store_schema_version(api->store, &schema_version);
	http_reply_json(request, r == 0 ? 200 : 503,
			json_pack("{s:s, s:s, s:s, s:i}", "status", r == 0 ? "ok" : "unavailable",
				  "database", r == 0 ? "ok" : "error", "version", COOPBILL_VERSION,
				  "schema_version", (int)schema_version));
}
