/* The REST API: the route table, who may call what, and one handler per
 * resource. Requests arrive from the http module through api_admit() and
 * api_dispatch(). */
#pragma once

#include <stddef.h>

#include <uv.h>

struct api;
struct config;
struct http_request;
struct ledger_tlog;
struct meter;
struct store;

int api_new(uv_loop_t *loop, struct store *store, struct meter *meter, struct ledger_tlog *tlog,
	    const struct config *config, struct api **ret_api);
/* Stops work in progress, which answers 503 (a period being closed keeps
 * what is committed, and closing again resumes it); call it before the HTTP
 * server closes, then api_free() once the loop has run. */
void api_close(struct api *api);
void api_free(struct api *api);
void api_set_config(struct api *api, const struct config *config);

/* The http_dispatch_fns; userdata is the struct api. api_admit() finds the
 * route and checks the token before the body is read; api_dispatch() runs
 * the route's handler; api_done() counts the request for /metrics and logs
 * an admin's change or a refusal. */
void api_admit(struct http_request *request, void *userdata);
void api_dispatch(struct http_request *request, void *userdata);
void api_done(struct http_request *request, void *userdata);

/* The route table, for the test that holds it against docs/openapi.yaml. */
size_t api_route_count(void);
void api_route_describe(size_t index, const char **ret_method, const char **ret_pattern);
