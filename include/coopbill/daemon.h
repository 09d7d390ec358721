/* The daemon's lifecycle on one libuv loop: start-up, sd_notify and the
 * watchdog, SIGHUP reload, and an orderly stop on SIGTERM or SIGINT. */
#pragma once

/* Runs the daemon until it is told to stop. Returns the process exit code. */
int daemon_run(const char *config_path);
