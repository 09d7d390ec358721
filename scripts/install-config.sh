#!/bin/sh
# meson install step: puts the example configuration in place only when there
# is none yet, so an upgrade never overwrites the cooperative's settings.
# usage: install-config.sh EXAMPLE_INSTALLED_PATH CONFIG_PATH
set -eu
example="${DESTDIR:-}$1"
config="${DESTDIR:-}$2"
if [ -e "$config" ]; then
	echo "keeping $2; the example for this version is $1"
else
	mkdir -p "$(dirname "$config")"
	cp "$example" "$config"
	echo "installed $2"
fi
