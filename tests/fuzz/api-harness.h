/* For the targets of the API: the daemon's own wiring (configuration,
 * database and tlog in a temporary folder, the API, the HTTP server on a
 * libuv loop, the meter disabled), and one request at a time sent to it over
 * a socket pair handed to libmicrohttpd, read until the reply ends. */
#pragma once

#include <stddef.h>

/* Starts the daemon's parts (once; removed at exit) with a household 1, a
 * draft tariff 1 and a published tariff 2, and an admin token. */
void api_harness_start(void);
/* "Authorization: Bearer <the admin token>". */
const char *api_harness_authorization(void);
/* Sends request (a whole HTTP request) on a connection of its own and runs
 * the loop until the server has replied and closed it. Returns the reply's
 * status, or 0 when none came. */
unsigned api_harness_send(const char *request, size_t len);
