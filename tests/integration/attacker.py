#!/usr/bin/env python3
"""What an attacker on the LAN does to the HTTP server, with raw sockets from
several loopback addresses (127.0.0.2, 127.0.0.3, ...). Used by http.sh, and
imported by hostile.py, which runs them all against one daemon at once.

  attacker.py flood PORT CONNECTIONS ADDRESSES HOLD_S
      opens idle connections, holds them, closes them all; prints how many
      the kernel accepted.
  attacker.py slowloris PORT CONNECTIONS ADDRESSES DURATION_S READY_FILE
      keeps connections that send a header line every second and never end
      their headers, reconnecting whatever the server closes; creates
      READY_FILE once all have connected and sent their request line.
  attacker.py trickle PORT MAX_S
      sends a request line, then a header line every half second, never
      ending the headers; prints the seconds until the server closed the
      connection (MAX_S when it did not).
  attacker.py bodies PORT CONNECTIONS ADDRESSES BODY_BYTES [TOKEN]
      sends a POST with a body of BODY_BYTES on each connection at once and
      prints the status codes received, counted ("401 256").
  attacker.py crowd PORT TABLE EXTRA
      once the server holds no connection, opens TABLE - 1 idle connections
      from several addresses, then EXTRA more one at a time, each waiting
      until the server has closed one of the earlier ones to make room, then
      a GET /healthz, which makes room once more; prints the connections the
      server closed and the status of the GET ("refused 3 healthz 200").
  attacker.py budget PORT TOKEN BODY_BYTES REFUSALS DATE
      holds a POST /api/v1/households whose body of BODY_BYTES is announced
      and not yet sent (the server has read its headers: it answered 100
      Continue), sends REFUSALS more such POSTs one after another, and a GET
      /healthz, then the held body; prints the status codes in that order
      and the problem types of the refusals ("503 503 200 201 busy busy").
  attacker.py raw PORT
      sends stdin as one request and prints the reply (status line, headers,
      body) as it comes, until the server closes or 5 s pass.
"""
import re
import resource
import select
import socket
import sys
import time


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def source(index, addresses):
    return "127.0.0.%d" % (2 + index % addresses)


def connect(port, address):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, 0))
    sock.setblocking(False)
    sock.connect_ex(("127.0.0.1", port))
    return sock


def open_all(port, count, addresses):
    raise_fd_limit(count + 64)
    return [connect(port, source(i, addresses)) for i in range(count)]


def flood(port, count, addresses, hold):
    socks = open_all(port, count, addresses)
    deadline = time.monotonic() + hold
    connected = 0
    poller = select.poll()
    pending = {sock.fileno(): sock for sock in socks}
    for fd in pending:
        poller.register(fd, select.POLLOUT)
    while time.monotonic() < deadline:
        for fd, _ in poller.poll(100):
            if pending.pop(fd).getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                connected += 1
            poller.unregister(fd)
        if not pending:
            time.sleep(0.1)
    for sock in socks:
        sock.close()
    return connected


def slowloris(port, count, addresses, duration, ready_file):
    raise_fd_limit(count + 64)
    socks = {}

    def start(i):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((source(i, addresses), 0))
        sock.settimeout(2)
        try:
            sock.connect(("127.0.0.1", port))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: coop\r\n")
        except OSError:
            sock.close()
            return None
        sock.setblocking(False)
        return sock

    def refill():
        for i in range(count):
            if socks.get(i) is None:
                socks[i] = start(i)

    # Connecting blocks while the server's table is full: open in a loop
    # with a short timeout each, until every slot holds a connection.
    end = time.monotonic() + duration
    refill()
    open(ready_file, "w").close()
    line = 0
    while time.monotonic() < end:
        line += 1
        for i, sock in list(socks.items()):
            if sock is None:
                continue
            try:
                sock.send(b"X-Slow-%d: x\r\n" % line)
                if sock.recv(4096, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                    raise OSError("closed")
            except BlockingIOError:
                pass
            except OSError:
                sock.close()
                socks[i] = None
        refill()
        time.sleep(1)
    for sock in socks.values():
        if sock is not None:
            sock.close()


def trickle(port, most):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: coop\r\n")
    sock.settimeout(0.5)
    start = time.monotonic()
    line = 0
    while time.monotonic() - start < most:
        try:
            if sock.recv(4096) == b"":
                break
        except socket.timeout:
            pass
        except OSError:
            break
        line += 1
        try:
            sock.sendall(b"X-Slow-%d: x\r\n" % line)
        except OSError:
            break
    print("%.1f" % min(time.monotonic() - start, most))


def bodies(port, count, addresses, size, token):
    """Returns the status codes received, counted."""
    counts = {}
    socks = open_all(port, count, addresses)
    head = b"POST /api/v1/households HTTP/1.1\r\nHost: coop\r\n"
    if token:
        head += b"Authorization: Bearer " + token.encode() + b"\r\n"
    head += b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size
    chunk = b" " * 65536
    state = {sock: [head + chunk, size - len(chunk), b""] for sock in socks}
    by_fd = {sock.fileno(): sock for sock in socks}
    deadline = time.monotonic() + 60
    while state and time.monotonic() < deadline:
        poller = select.poll()
        for sock, (out, left, _) in state.items():
            poller.register(sock, select.POLLIN | (select.POLLOUT if out or left > 0 else 0))
        events = poller.poll(500)
        readable = [by_fd[fd] for fd, ev in events if ev & (select.POLLIN | select.POLLHUP | select.POLLERR)]
        writable = [by_fd[fd] for fd, ev in events if ev & select.POLLOUT]
        for sock in writable:
            out, left, reply = state[sock]
            if not out:
                out = chunk[: min(left, len(chunk))]
                left -= len(out)
            try:
                sent = sock.send(out)
            except BlockingIOError:
                sent = 0
            except OSError:
                out, left = b"", 0
                sent = 0
            state[sock] = [out[sent:], left, reply]
        for sock in readable:
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            state[sock][2] += data
            if not data or b"\r\n\r\n" in state[sock][2]:
                reply = state.pop(sock)[2]
                sock.close()
                status = reply.split(b" ", 2)[1].decode() if reply else "closed"
                counts[status] = counts.get(status, 0) + 1
    for sock in state:
        sock.close()
    counts["unanswered"] = len(state)
    return counts


def server_connections(port):
    """The server's sockets on port not yet closed by the server (states
    ESTABLISHED and CLOSE_WAIT in /proc/net/tcp)."""
    count = 0
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            local, state = line.split()[1], line.split()[3]
            if int(local.split(":")[1], 16) == port and state in ("01", "08"):
                count += 1
    return count


def closed_by_server(sock):
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def await_closes(socks, closed, wanted, timeout):
    """Waits until wanted more of socks were closed by the server; returns
    the set of those closed."""
    deadline = time.monotonic() + timeout
    goal = len(closed) + wanted
    while len(closed) < goal and time.monotonic() < deadline:
        closed |= {sock for sock in socks if sock not in closed and closed_by_server(sock)}
        time.sleep(0.01)
    return closed


def crowd(port, table, extra):
    deadline = time.monotonic() + 10
    while server_connections(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    socks, closed = [], set()
    for i in range(table - 1 + extra):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5,
                                        source_address=(source(i, 8), 0))
        sock.setblocking(False)
        socks.append(sock)
        if i >= table - 1:
            await_closes(socks, closed, 1, 5)
    status = http_status(port, b"GET /healthz HTTP/1.1\r\nHost: coop\r\nConnection: close\r\n\r\n")
    await_closes(socks, closed, 1, 5)
    # Nothing else is closed by the server while the connections wait.
    time.sleep(0.2)
    closed |= {sock for sock in socks if closed_by_server(sock)}
    for sock in socks:
        sock.close()
    return len(closed), status


def http_status(port, request, sock=None):
    """Sends request (on sock, or a new connection) and returns the status
    code and the whole reply, read until the server closes or 5 s pass."""
    sock = sock or socket.create_connection(("127.0.0.1", port), timeout=5)
    reply = b""
    try:
        sock.sendall(request)
        while not complete(reply):
            data = sock.recv(65536)
            if not data:
                break
            reply += data
    except OSError:
        pass
    sock.close()
    return (reply.split(b" ", 2)[1].decode() if reply else "closed"), reply


def budget(port, token, size, refusals, date):
    post = (b"POST /api/v1/households HTTP/1.1\r\nHost: coop\r\n"
            b"Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n" % (token.encode(), size))
    held = socket.create_connection(("127.0.0.1", port), timeout=5)
    held.sendall(post + b"Expect: 100-continue\r\n\r\n")
    interim = held.recv(4096)
    if not interim.startswith(b"HTTP/1.1 100 "):
        sys.exit("the held POST was answered %r" % interim[:200])
    statuses, types = [], []
    for _ in range(refusals):
        status, reply = http_status(port, post + b"\r\n")
        statuses.append(status)
        problem = re.search(rb'"type": *"urn:coopbill:problem:([a-z-]+)"', reply)
        types.append(problem.group(1).decode() if problem else "none")
    statuses.append(http_status(port, b"GET /healthz HTTP/1.1\r\nHost: coop\r\n"
                                b"Connection: close\r\n\r\n")[0])
    body = b'{"name":"Budget","joined_at":"%s"}' % date.encode()
    statuses.append(http_status(port, body.ljust(size), held)[0])
    return statuses + types


def complete(reply):
    head, sep, body = reply.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    return sep and length and len(body) >= int(length.group(1))


def raw(port):
    request = sys.stdin.buffer.read()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(request)
    sock.settimeout(5)
    reply = b""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            reply += data
            if complete(reply):
                break
    except socket.timeout:
        pass
    sys.stdout.buffer.write(reply)


def main():
    command, port = sys.argv[1], int(sys.argv[2])
    if command == "flood":
        print(flood(port, int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])))
    elif command == "slowloris":
        slowloris(port, int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6])
    elif command == "trickle":
        trickle(port, float(sys.argv[3]))
    elif command == "bodies":
        counts = bodies(port, int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
                        sys.argv[6] if len(sys.argv) > 6 else "")
        print(" ".join("%s %d" % kv for kv in sorted(counts.items()) if kv[1]))
    elif command == "crowd":
        refused, (status, _) = crowd(port, int(sys.argv[3]), int(sys.argv[4]))
        print("refused %d healthz %s" % (refused, status))
    elif command == "budget":
        print(" ".join(budget(port, sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])))
    elif command == "raw":
        raw(port)
    else:
        sys.exit("unknown command " + command)


if __name__ == "__main__":
    main()
