/* Whether the wall clock is NTP-synchronised. The kernel knows (adjtimex);
 * under the service's seccomp filter, which forbids adjtimex, systemd-timedated
 * answers the same question over D-Bus. */
#include <errno.h>
#include <sys/timex.h>

#include <systemd/sd-bus.h>

#include "coopbill/meter.h"

static int timedated_synchronised(bool *ret_synchronised)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus *bus = NULL;
	int synchronised = 0, r;

	r = sd_bus_open_system(&bus);
	if (r < 0)
		return r;
	r = sd_bus_get_property_trivial(bus, "org.freedesktop.timedate1",
					"/org/freedesktop/timedate1", "org.freedesktop.timedate1",
					"NTPSynchronized", &error, 'b', &synchronised);
	sd_bus_error_free(&error);
	sd_bus_flush_close_unref(bus);
	if (r < 0)
		return r;
	*ret_synchronised = synchronised;
	return 0;
}

bool meter_clock_ntp_synchronised(void)
{
	struct timex tx = { .modes = 0 };
	bool synchronised = false;
	int state = adjtimex(&tx);

	if (state >= 0)
		return state != TIME_ERROR && !(tx.status & STA_UNSYNC);
	if (errno == EPERM && timedated_synchronised(&synchronised) == 0)
		return synchronised;
	return false;
}
