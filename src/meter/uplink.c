/* Which interface is likely the uplink: the one of the default route, read
 * from the kernel's route tables in /proc (IPv4, then IPv6), for the note
 * the daemon gives when no uplink is configured. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coopbill/config.h"
#include "coopbill/meter.h"

#define ROUTE_LINE_MAX 512
/* RTF_UP and RTF_REJECT of <linux/route.h>. */
#define ROUTE_UP     0x0001u
#define ROUTE_REJECT 0x0200u

/* /proc/net/route: "Iface Destination Gateway Flags RefCnt Use Metric Mask
 * ...", addresses in hex; a default route has destination and mask 0. */
static int default_route4(const char *path, char ret_ifname[METER_IFNAME_SIZE],
			  unsigned long *ret_metric)
{
	char line[ROUTE_LINE_MAX], ifname[METER_IFNAME_SIZE];
	unsigned long destination, flags, metric, mask, best = 0;
	bool found = false;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%15s %lx %*x %lx %*d %*d %lu %lx", ifname, &destination, &flags,
			   &metric, &mask) != 5)
			continue;
		if (destination != 0 || mask != 0 || !(flags & ROUTE_UP) ||
		    (flags & ROUTE_REJECT) || (found && metric >= best))
			continue;
		snprintf(ret_ifname, METER_IFNAME_SIZE, "%s", ifname);
		best = metric;
		found = true;
	}
	fclose(f);
	*ret_metric = best;
	return found ? 0 : -ENOENT;
}

/* /proc/net/ipv6_route: "dst dst_len src src_len next_hop metric refcnt use
 * flags iface", in hex; a default route is ::/0 (the unreachable ones on lo
 * carry RTF_REJECT). */
static int default_route6(const char *path, char ret_ifname[METER_IFNAME_SIZE])
{
	char line[ROUTE_LINE_MAX], destination[33], ifname[METER_IFNAME_SIZE];
	unsigned long length, metric, flags, best = 0;
	bool found = false;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%32s %lx %*s %*x %*s %lx %*x %*x %lx %15s", destination, &length,
			   &metric, &flags, ifname) != 5)
			continue;
		if (length != 0 || strspn(destination, "0") != 32 || !(flags & ROUTE_UP) ||
		    (flags & ROUTE_REJECT) || strcmp(ifname, "lo") == 0 ||
		    (found && metric >= best))
			continue;
		snprintf(ret_ifname, METER_IFNAME_SIZE, "%s", ifname);
		best = metric;
		found = true;
	}
	fclose(f);
	return found ? 0 : -ENOENT;
}

int meter_default_route_ifname(const char *route4_path, const char *route6_path,
			       char ret_ifname[METER_IFNAME_SIZE])
{
	unsigned long metric;

	if (route4_path && default_route4(route4_path, ret_ifname, &metric) == 0)
		return 0;
	if (route6_path && default_route6(route6_path, ret_ifname) == 0)
		return 0;
	return -ENOENT;
}

bool meter_uplinks_note(const struct config *config, const char *route4_path,
			const char *route6_path, char *ret_note, size_t size)
{
	char ifname[METER_IFNAME_SIZE];

	if (!config->meter_enabled || config->n_meter_uplinks > 0)
		return false;
	if (meter_default_route_ifname(route4_path, route6_path, ifname) == 0)
		snprintf(ret_note, size,
			 "meter: [meter] uplinks is not set, so all forwarded traffic is counted "
			 "as internet traffic; the default route goes through %s, likely the "
			 "uplink: set \"uplinks = %s\" to count local traffic apart",
			 ifname, ifname);
	else
		snprintf(ret_note, size,
			 "meter: [meter] uplinks is not set, so all forwarded traffic is counted "
			 "as internet traffic; there is no default route to suggest an uplink: "
			 "set \"uplinks = IFNAME\" to count local traffic apart");
	return true;
}
