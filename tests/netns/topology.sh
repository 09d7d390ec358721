# A gateway box in miniature, in network namespaces: a gateway, an upstream
# and three households, joined by veth links. Sourced by the netns tests and
# by scripts/demo. Everything is named after $TOPO (a short unique prefix) and
# removed by topo_down, which the caller runs from an EXIT trap.
#
#   upstream  203.0.113.1/24, 2001:db8:ff::1/64      (the Internet, here)
#      |
#   gateway   forwards; runs coopbilld
#      |--- household a  10.0.1.10 and 10.0.1.11     (two IPv4 addresses)
#      |--- household b  10.0.2.10, 2001:db8:2::10    (an IPv6 /64 prefix)
#      |--- household c  10.0.3.10
#      `--- server srv    10.0.9.10                  (topo_server_up: a community
#                                                     server, not a household)
#
# Usage: TOPO=cb$$; topo_up; ...; topo_down

: "${TOPO:?set TOPO to a short unique prefix}"

TOPO_UPSTREAM4=203.0.113.1
TOPO_UPSTREAM6=2001:db8:ff::1

topo_ns() {
	echo "${TOPO}-$1"
}

# topo_exec NAME COMMAND...: runs a command in one of the namespaces.
topo_exec() {
	local ns
	ns=$(topo_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

topo_link() {
	local inside=$1 gw_if=$2 in_if=$3
	ip link add "$gw_if" netns "$(topo_ns gw)" type veth peer name "$in_if" netns "$(topo_ns "$inside")"
	topo_exec gw ip link set "$gw_if" up
	topo_exec "$inside" ip link set "$in_if" up
}

topo_up() {
	local name
	for name in gw up a b c; do
		ip netns add "$(topo_ns "$name")"
		topo_exec "$name" ip link set lo up
	done
	topo_exec gw sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

	topo_uplink_up

	topo_link a gw-a a0
	topo_exec gw ip addr add 10.0.1.1/24 dev gw-a
	topo_exec a ip addr add 10.0.1.10/24 dev a0
	topo_exec a ip addr add 10.0.1.11/24 dev a0
	topo_exec a ip route add default via 10.0.1.1

	topo_link b gw-b b0
	topo_exec gw ip addr add 10.0.2.1/24 dev gw-b
	topo_exec gw ip addr add 2001:db8:2::1/64 dev gw-b nodad
	topo_exec b ip addr add 10.0.2.10/24 dev b0
	topo_exec b ip addr add 2001:db8:2::10/64 dev b0 nodad
	topo_exec b ip route add default via 10.0.2.1
	topo_exec b ip -6 route add default via 2001:db8:2::1

	topo_link c gw-c c0
	topo_exec gw ip addr add 10.0.3.1/24 dev gw-c
	topo_exec c ip addr add 10.0.3.10/24 dev c0
	topo_exec c ip route add default via 10.0.3.1
}

# topo_server_up: a community server on another inner interface of the
# gateway (gw-srv), reached by the households without crossing the uplink.
topo_server_up() {
	ip netns add "$(topo_ns srv)"
	topo_exec srv ip link set lo up
	topo_link srv gw-srv srv0
	topo_exec gw ip addr add 10.0.9.1/24 dev gw-srv
	topo_exec srv ip addr add 10.0.9.10/24 dev srv0
	topo_exec srv ip route add default via 10.0.9.1
}

# topo_uplink_up: the gateway's link to the upstream (gw-up), made again
# after it was deleted.
topo_uplink_up() {
	topo_link up gw-up up0
	topo_exec gw ip addr add 203.0.113.254/24 dev gw-up
	topo_exec gw ip addr add 2001:db8:ff::fe/64 dev gw-up nodad
	topo_exec up ip addr add "$TOPO_UPSTREAM4/24" dev up0
	topo_exec up ip addr add "$TOPO_UPSTREAM6/64" dev up0 nodad
	topo_exec up ip route add 10.0.0.0/16 via 203.0.113.254
	topo_exec up ip route add 2001:db8::/32 via 2001:db8:ff::fe
}

topo_down() {
	local name pids
	for name in gw up a b c srv; do
		pids=$(ip netns pids "$(topo_ns "$name")" 2>/dev/null || true)
		if [ -n "$pids" ]; then kill -9 $pids 2>/dev/null || true; fi
		ip netns del "$(topo_ns "$name")" 2>/dev/null || true
	done
	return 0
}

# topo_sink NAME PORT [socat listen options]: a TCP server in a namespace that
# reads and discards everything, for any number of connections.
topo_sink() {
	local name=$1 port=$2
	topo_exec "$name" socat -u "TCP6-LISTEN:$port,reuseaddr,fork,ipv6only=0${3:+,$3}" \
		OPEN:/dev/null &
}

# topo_source NAME PORT BYTES: a TCP server in a namespace that sends BYTES
# to each connection, for download tests.
topo_source() {
	local name=$1 port=$2 bytes=$3
	topo_exec "$name" socat -U "TCP6-LISTEN:$port,reuseaddr,fork,ipv6only=0" \
		"SYSTEM:head -c $bytes /dev/zero" &
}

# topo_send NAME BYTES ADDRESS PORT [bind address]: sends exactly BYTES.
# IPv6 addresses go in brackets: [2001:db8:ff::1].
topo_send() {
	local name=$1 bytes=$2 address=$3 port=$4 bind=${5:-}
	head -c "$bytes" /dev/zero |
		topo_exec "$name" socat -u - "TCP:$address:$port${bind:+,bind=$bind}"
}

# topo_fetch NAME ADDRESS PORT: receives what a source sends; prints the count.
topo_fetch() {
	topo_exec "$1" socat -u "TCP:$2:$3" - | wc -c
}

# topo_wait_port NAME PORT: waits until something listens.
topo_wait_port() {
	local i
	for i in $(seq 1 50); do
		topo_exec "$1" ss -Hltn "sport = :$2" | grep -q LISTEN && return 0
		sleep 0.1
	done
	return 1
}
