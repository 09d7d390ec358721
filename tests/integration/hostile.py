#!/usr/bin/env python3
"""Hostile clients against one running daemon, while a well-behaved client
watches. Used by hostile.sh.

  hostile.py run WALK_JSON [PHASE...]        framing, json, utf-8, floods, random
  hostile.py replay WALK_JSON SEED CASE      sends one random case, prints it

WALK_JSON names the port, the daemon's pid and database, the admin token,
a member token and its household (the well-behaved client's), and another
member token for the attackers.

Throughout, a probe sends GET /healthz and the member's GET of its own
household every 0.2 s on a fresh connection; each must answer 200 within
PROBE_LIMIT_S (1 s). The daemon's resident memory must stay under
RSS_LIMIT_MIB (64), and the database must be the same after each phase as
before it: every request sent here is refused or only reads.
"""
import json
import os
import random
import socket
import sys
import threading
import time

import attacker
import dbstate

walk = json.load(open(sys.argv[2]))
PORT = walk["port"]
ADMIN = walk["admin"].encode()
ATTACKER_TOKEN = walk["attacker_token"].encode()
RSS_LIMIT_MIB = int(os.environ.get("RSS_LIMIT_MIB", "64"))
PROBE_LIMIT_S = float(os.environ.get("PROBE_LIMIT_S", "1"))
RANDOM_CASES = 10000
failures = []
phase = "start"


def fail(what):
    failures.append("[%s] %s" % (phase, what))


def rss_kib(field):
    with open("/proc/%d/status" % walk["pid"]) as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s in /proc/%d/status" % (field, walk["pid"]))


def exchange(request, source="127.0.0.1", wait_s=2.0, idle_s=0.3, half_close=False):
    """Sends request on a new connection, and with half_close ends its
    sending side; returns the replies that came, each (status, headers,
    body, status line), and what was left over that is not a reply. Stops
    when the server closes, when as many replies came as requests were sent,
    or after idle_s without a byte."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.settimeout(wait_s)
    data = b""
    wanted = max(1, request.count(b" HTTP/1.1\r\n"))
    replies = []
    try:
        sock.connect(("127.0.0.1", PORT))
        try:
            sock.sendall(request)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            # The server refused early (a 413 on the headers) and closed
            # with the rest of the body unread, which resets the
            # connection; its reply is still in the receive queue, as a
            # client that reads while it sends (curl) would see it.
            pass
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            sock.settimeout(idle_s if replies else wait_s)
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
            replies, data_left = parse_replies(data, request)
            if len(replies) >= wanted:
                break
    except OSError:
        pass
    finally:
        sock.close()
    return parse_replies(data, request)


def parse_replies(data, request):
    """The replies in data. A reply to HEAD, 1xx, 204 and 304 have no body;
    a request is taken for HEAD when it starts so, and when it comes later
    and the next reply follows at once."""
    replies = []
    heads = request.count(b"HEAD ")
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers.setdefault(name.strip().lower().decode("latin-1"), []).append(value.strip())
        parts = lines[0].split(b" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        length = int(headers.get("content-length", [b"0"])[0])
        answered = [r for r in replies if r[0] >= 200]
        if status < 200 or status in (204, 304) or (
                request.startswith(b"HEAD ") and not answered) or (
                answered and heads > 1 and rest.startswith(b"HTTP/1.1 ")):
            length = 0
        if len(rest) < length:
            break
        replies.append((status, headers, rest[:length], lines[0]))
        data = rest[length:]
    return replies, data


def check_replies(case, replies, left, allowed=None):
    """Every reply is a well-formed HTTP/1.1 reply, none is a 500, and a
    reply from coopbilld (not libmicrohttpd's own) is a problem document."""
    # libmicrohttpd 0.9.75 (Debian 12) sends the header block of the
    # refusals it makes once the headers are in (a malformed Content-Length
    # or Cookie) twice, the second in place of the body (fixed upstream in
    # 1.0.0); the connection closes after it. The daemon never sees them.
    mhd_twice = any(body.startswith(line + b"\r\n") for status, _, body, line in replies)
    if left and not left.startswith(b"HTTP/1.1 ") and not mhd_twice:
        fail("%s: bytes that are no reply: %r" % (case, left[:200]))
    for status, headers, body, line in replies:
        if not line.startswith(b"HTTP/1.1 ") or status < 100:
            fail("%s: a malformed status line %r" % (case, line[:100]))
        elif status >= 500 and status not in (501, 503, 505):
            fail("%s: HTTP %d: %r" % (case, status, body[:300]))
        elif allowed is not None and status not in allowed:
            fail("%s: HTTP %d, expected one of %s: %r" % (case, status, sorted(allowed),
                                                         body[:300]))


# The well-behaved client.
probe_stop = threading.Event()
probe_stats = {"requests": 0, "slowest_s": 0.0, "rss_max_kib": 0}


def probe_loop():
    requests = [
        b"GET /healthz HTTP/1.1\r\nHost: coop\r\nConnection: close\r\n\r\n",
        b"GET /api/v1/households/%d HTTP/1.1\r\nHost: coop\r\nAuthorization: Bearer %s\r\n"
        b"Connection: close\r\n\r\n" % (walk["household"], walk["member_token"].encode()),
    ]
    while not probe_stop.is_set():
        for request in requests:
            start = time.monotonic()
            replies, _ = exchange(request, wait_s=PROBE_LIMIT_S)
            took = time.monotonic() - start
            probe_stats["requests"] += 1
            probe_stats["slowest_s"] = max(probe_stats["slowest_s"], took)
            if not replies or replies[0][0] != 200 or took > PROBE_LIMIT_S:
                fail("the well-behaved client's %s got %s after %.2f s" % (
                    request.split(b" ")[1].decode(),
                    replies[0][0] if replies else "no answer", took))
        try:
            probe_stats["rss_max_kib"] = max(probe_stats["rss_max_kib"], rss_kib("VmRSS"))
        except (OSError, RuntimeError):
            fail("the daemon is gone")
            return
        probe_stop.wait(0.2)


def request(method, target, headers=(), body=None, token=None):
    lines = [b"%s %s HTTP/1.1" % (method, target), b"Host: coop"]
    if token:
        lines.append(b"Authorization: Bearer " + token)
    lines += list(headers)
    if body is not None:
        lines += [b"Content-Type: application/json", b"Content-Length: %d" % len(body)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


# The framing cases that libmicrohttpd refuses itself, with its own page (no
# Content-Type), before coopbilld sees the request: docs/operations.md lists
# them and says why. Every other refusal must be a problem document.
LIBMICROHTTPD_REFUSES = {
    "two Content-Length values in one header", "Content-Length with a sign",
    "Content-Length past 64 bits", "a chunk size past 64 bits", "a chunk size that is not hex",
    "a chunk longer than its size", "a bare CR ends no line", "a header of 100 KB",
    "5,000 headers", "a Cookie of 9 KB", "a target of 70 KB", "HTTP/2.0 in a request line",
    "HTTP/2's cleartext preface", "HTTP/0.9 in a request line", "HTTP/0.9",
    "a header line without a colon", "a trailer line without a colon",
}


# Framing: what two parsers could read two ways, and what no parser should
# hold. Each: name, bytes, the statuses allowed (None: any but a 500).
def framing_cases():
    admin = b"Authorization: Bearer " + ADMIN
    smuggled = b"DELETE /api/v1/tokens/%d HTTP/1.1\r\nHost: coop\r\n%s\r\n\r\n" % (
        walk["member_token_id"], admin)
    yield ("pipelined GETs answered in order",
           request(b"GET", b"/healthz") + request(b"GET", b"/api/v1/log/key"), {200})
    yield ("a refused POST's body is not read as a request",
           b"POST /api/v1/households HTTP/1.1\r\nHost: coop\r\nContent-Length: %d\r\n\r\n%s" %
           (len(smuggled), smuggled), {401})
    yield ("a refused chunked POST's body is not read as a request",
           b"POST /api/v1/payments HTTP/1.1\r\nHost: coop\r\nAuthorization: Bearer %s\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n%s" % (ATTACKER_TOKEN, smuggled), {403})
    yield ("Content-Length then Transfer-Encoding behind a bare LF",
           b"POST /api/v1/households HTTP/1.1\r\nHost: coop\r\n%s\r\nContent-Length: 5\n"
           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % admin, {400})
    yield ("two Content-Length values in one header",
           b"POST /api/v1/households HTTP/1.1\r\nHost: coop\r\n%s\r\nContent-Length: 2, 2\r\n\r\n{}"
           % admin, {400})
    yield ("Content-Length with a sign", b"POST /api/v1/households HTTP/1.1\r\nHost: coop\r\n"
           b"Content-Length: +2\r\n\r\n{}", {400})
    yield ("Content-Length past 64 bits", b"POST /api/v1/households HTTP/1.1\r\nHost: coop\r\n"
           b"Content-Length: 184467440737095516160\r\n\r\n", {400, 413})
    yield ("a chunk size past 64 bits", b"POST /api/v1/households HTTP/1.1\r\nHost: coop\r\n%s\r\n"
           b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n{}\r\n0\r\n\r\n" % admin,
           {400, 413})
    yield ("a chunk size that is not hex", b"POST /api/v1/households HTTP/1.1\r\nHost: coop\r\n"
           b"%s\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n" % admin, {400})
    yield ("a chunk longer than its size", b"POST /api/v1/households HTTP/1.1\r\nHost: coop\r\n"
           b"%s\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n0\r\n\r\n" % admin, {400})
    yield ("chunked trailers with a framing header", b"POST /api/v1/households HTTP/1.1\r\n"
           b"Host: coop\r\n%s\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n"
           b"Content-Length: 40\r\n\r\n" % admin, {400})
    yield ("Transfer-Encoding with a space before the colon", b"POST /api/v1/households HTTP/1.1"
           b"\r\nHost: coop\r\n%s\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" % admin, {400})
    yield ("a bare CR ends no line", b"GET /healthz HTTP/1.1\rHost: coop\r\n\r\n", {400})
    yield ("a request line with bare LF", b"GET /healthz HTTP/1.1\nHost: coop\n\n", {200, 400})
    yield ("a header of 100 KB", request(b"GET", b"/healthz", [b"X-Big: " + b"a" * 100000]),
           {431})
    yield ("5,000 headers", request(b"GET", b"/healthz",
                                    [b"X-%d: a" % i for i in range(5000)]), {431})
    yield ("a Cookie of 9 KB", request(b"GET", b"/healthz", [b"Cookie: a=" + b"b" * 9000]),
           {431})
    yield ("a target of 70 KB", request(b"GET", b"/healthz?" + b"a" * 70000), {414})
    yield ("no Host in HTTP/1.1", b"GET /healthz HTTP/1.1\r\n\r\n", {400})
    yield ("two Hosts", request(b"GET", b"/healthz", [b"Host: other"]), {400})
    yield ("white space in the target", b"GET /api/v1/households/1 /healthz HTTP/1.1\r\n"
           b"Host: coop\r\n\r\n", {400})
    yield ("HTTP/2.0 in a request line", b"GET /healthz HTTP/2.0\r\nHost: coop\r\n\r\n", {505})
    yield ("HTTP/2's cleartext preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {505})
    yield ("HTTP/0.9 in a request line", b"GET /healthz HTTP/0.9\r\nHost: coop\r\n\r\n", {505})
    yield ("HTTP/0.9", b"GET /healthz\r\n\r\n", {400})
    yield ("a header line without a colon", request(b"GET", b"/healthz", [b"X-No-Colon"]), {400})
    yield ("a trailer line without a colon", b"POST /api/v1/households HTTP/1.1\r\nHost: coop\r\n"
           b"%s\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-No-Colon\r\n\r\n" % admin,
           {400})
    yield ("a NUL in the method", b"G\0T /healthz HTTP/1.1\r\nHost: coop\r\n\r\n", {400, 405})
    yield ("two Authorization headers", request(b"GET", b"/api/v1/me", [
        b"Authorization: Bearer " + ATTACKER_TOKEN, admin]), {400, 401, 200})


# Bodies: what JSON a parser could choke on. Each is sent with the admin
# token, so that it reaches the body's parsing, and must be refused.
def json_cases():
    deep = b"[" * 200000 + b"]" * 200000
    yield "an array nested 200,000 deep", b"/api/v1/households", b'{"name": ' + deep[:900000] + b"}"
    yield "an object nested 100,000 deep", b"/api/v1/tariffs", \
        b'{"name": "x", "usage_charges": ' + b'{"a":' * 100000 + b"1" + b"}" * 100000 + b"}"
    yield "a tariff nested 3,000 deep in a valid key", b"/api/v1/tariffs", \
        b'{"name": "x", "currency": "EUR", "valid_from": "2030-01-01", "usage_charges": ' + \
        b"[" * 3000 + b"]" * 3000 + b"}"
    yield "100,000 addresses that overlap", b"/api/v1/households", \
        b'{"name": "x", "joined_at": "2026-01-01", "addresses": [' + \
        b",".join([b'"10.9.0.1/32"'] * 70000) + b"]}"
    yield "a name of 1 MB less a little", b"/api/v1/households", \
        b'{"name": "' + b"n" * 1040000 + b'", "joined_at": "2026-01-01"}'
    yield "a body one byte over the limit", b"/api/v1/households", b" " * 1048577
    yield "a number of 100,000 digits", b"/api/v1/payments", \
        b'{"household_id": 1' + b"0" * 100000 + b', "amount_minor": 1, "method": "cash", ' \
        b'"received_on": "2026-11-02"}'
    yield "an exponent past double", b"/api/v1/payments", \
        b'{"household_id": 1, "amount_minor": 1e999999, "method": "cash", ' \
        b'"received_on": "2026-11-02"}'
    yield "an amount past int64", b"/api/v1/payments", \
        b'{"household_id": 1, "amount_minor": 9223372036854775808, "method": "cash", ' \
        b'"received_on": "2026-11-02"}'
    yield "50,000 keys", b"/api/v1/households", \
        b"{" + b",".join(b'"k%d": 1' % i for i in range(50000)) + b"}"
    yield "the same key twice", b"/api/v1/households", \
        b'{"name": "a", "name": "b", "joined_at": "2026-01-01"}'
    for name, text in (("a lone byte 0xff", b"\xff"), ("an overlong slash", b"\xc0\xaf"),
                       ("a raw surrogate", b"\xed\xa0\x80"), ("a cut sequence", b"\xe2\x82"),
                       ("an escaped lone surrogate", b"\\ud800"), ("an escaped NUL", b"\\u0000"),
                       ("a code point past U+10FFFF", b"\xf4\x90\x80\x80")):
        yield "a name with %s" % name, b"/api/v1/households", \
            b'{"name": "a' + text + b'b", "joined_at": "2026-01-01"}'
        yield "a key with %s" % name, b"/api/v1/households", \
            b'{"na' + text + b'me": "a", "joined_at": "2026-01-01"}'
    yield "a tariff name with 0xff", b"/api/v1/tariffs", \
        b'{"name": "\xff", "currency": "EUR", "valid_from": "2030-01-01"}'


def utf8_target_cases():
    for target in (b"/api/v1/households/%ff", b"/api/v1/households/%c0%af",
                   b"/api/v1/tariffs/%ed%a0%80", b"/api/v1/households/\xff",
                   b"/api/v1/usage/summary?from=%ff&to=x", b"/api/v1/usage/summary?%ff=1",
                   b"/api/v1/expenses?period=\xc3\x28", b"/\xff\xfe", b"/%ff%fe",
                   b"/api/v1/log/entries/%f4%90%80%80", b"/api/v1/tariffs?status=dr%c3aft"):
        yield target


def random_case(seed, index):
    """One malformed request, made from a valid one by random damage; the
    same seed and index always make the same bytes."""
    rng = random.Random("%d/%d" % (seed, index))
    token = rng.choice([b"", ATTACKER_TOKEN, b"x" * rng.randint(0, 80), ATTACKER_TOKEN[:-1]])
    target = rng.choice([b"/healthz", b"/api/v1/me", b"/api/v1/households/1",
                         b"/api/v1/households/%d/usage?from=2026-11-01T00:00:00Z&to="
                         b"2026-12-01T00:00:00Z&step=day" % walk["attacker_household"],
                         b"/api/v1/tariffs", b"/api/v1/log/proof/inclusion?index=0&size=1",
                         b"/api/v1/periods/2026-10/summary", b"/", b"/index.html"])
    method = rng.choice([b"GET", b"HEAD", b"POST", b"OPTIONS", b"PUT", b"DELETE", b"PATCH"])
    body = rng.choice([None, b"{}", b'{"name": "x"}', b"[" * 50, b'{"a": 1e400}'])
    headers = rng.sample([b"Accept: text/csv", b"Accept: */*;q=0", b"Origin: http://evil",
                          b"Expect: 100-continue", b"Connection: close",
                          b"Connection: keep-alive", b"Transfer-Encoding: chunked",
                          b"Content-Length: 3", b"Cookie: a=b", b"Range: bytes=0-1"],
                         rng.randint(0, 3))
    data = request(method, target, headers, body, token or None)
    if rng.random() < 0.2:
        data += request(b"GET", b"/healthz")
    for _ in range(rng.randint(1, 4)):
        data = damage(rng, data)
    return data


def damage(rng, data):
    at = rng.randrange(len(data) + 1)
    kind = rng.randrange(10)
    if kind == 0:
        return data[:at] + bytes([rng.randrange(256)]) + data[at:]
    if kind == 1:
        return data[:at] + data[at + rng.randint(1, 8):]
    if kind == 2:
        return data.replace(b"\r\n", b"\n", rng.randint(1, 3))
    if kind == 3:
        return data[:at] + rng.choice([b"\0", b"\r", b"\n", b"\r\n", b" ", b"\t", b":", b"%",
                                       b"%00", b"%ff", b"\xff", b"\xc3", b"\x7f"]) + data[at:]
    if kind == 4:
        return data[:at] + rng.choice([b"\r\nTransfer-Encoding: chunked",
                                       b"\r\nContent-Length: 99999999999",
                                       b"\r\nContent-Length: 0", b"\r\n X: folded",
                                       b"\r\nHost: other"]) + data[at:]
    if kind == 5:
        return data[:at] + data[at:at + 16] * rng.randint(2, 200) + data[at + 16:]
    if kind == 6:
        return data[:at]
    if kind == 7:
        return data.replace(b"HTTP/1.1", rng.choice([b"HTTP/1.0", b"HTTP/1.2", b"HTTP/11",
                                                     b"HTTP/1.1 ", b"http/1.1", b""]), 1)
    if kind == 8:
        return data[:at] + b"0\r\n\r\n" + data[at:]
    return bytes(b ^ (1 << rng.randrange(8)) if rng.random() < 0.02 else b for b in data)


def random_phase(seed):
    done = threading.Lock()
    next_case = [0]

    def worker(number):
        while True:
            with done:
                index = next_case[0]
                next_case[0] += 1
            if index >= RANDOM_CASES:
                return
            data = random_case(seed, index)
            replies, left = exchange(data, source="127.0.0.%d" % (2 + number % 16), wait_s=1.0,
                                     idle_s=0.1, half_close=True)
            check_replies("random case %d of seed %d (hostile.py replay WALK_JSON %d %d)" %
                          (index, seed, seed, index), replies, left)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def in_phase(name, action):
    """Runs action as one phase; the database must not change."""
    global phase
    phase = name
    before = dbstate.digest(walk["db"])
    start = time.monotonic()
    action()
    after = dbstate.digest(walk["db"])
    if after != before:
        fail("the database changed")
    print("# %s: %.1f s, daemon RSS %d MiB" % (name, time.monotonic() - start,
                                               rss_kib("VmRSS") // 1024))


def framing():
    for name, data, allowed in framing_cases():
        replies, left = exchange(data)
        if not replies:
            fail("%s: no reply" % name)
        check_replies(name, replies, left, allowed)
        if name.startswith("pipelined") and len(replies) != 2:
            fail("%s: %d replies to 2 requests" % (name, len(replies)))
        if "not read as a request" in name and len(replies) != 1:
            fail("%s: %d replies to 1 request" % (name, len(replies)))
        for status, headers, body, _ in replies:
            content_type = headers.get("content-type", [b""])[0]
            if status < 400:
                continue
            if name in LIBMICROHTTPD_REFUSES and content_type:
                fail("%s: HTTP %d, %s: libmicrohttpd no longer refuses it with its own page; "
                     "take it out of LIBMICROHTTPD_REFUSES and of docs/operations.md" %
                     (name, status, content_type.decode("latin-1")))
            elif name not in LIBMICROHTTPD_REFUSES and content_type != \
                    b"application/problem+json":
                fail("%s: HTTP %d is not a problem document: %r" % (name, status, body[:200]))


def json_bodies():
    for name, target, body in json_cases():
        replies, left = exchange(request(b"POST", target, body=body, token=ADMIN), wait_s=10)
        if not replies:
            fail("%s: no reply" % name)
        check_replies(name, replies, left, {400, 404, 409, 413, 422})
        for status, headers, reply, _ in replies:
            if status == 400 and headers.get("content-type", [b""])[0] != \
                    b"application/problem+json":
                fail("%s: a 400 that is not a problem document: %r" % (name, reply[:200]))


def utf8_targets():
    for target in utf8_target_cases():
        for token in (ADMIN, None):
            replies, left = exchange(request(b"GET", target, token=token))
            check_replies("GET %r" % target, replies, left, {400, 401, 404})
            for status, headers, reply, _ in replies:
                try:
                    reply.decode("utf-8")
                except UnicodeDecodeError:
                    fail("GET %r: the reply is not UTF-8: %r" % (target, reply[:200]))


def floods():
    connected = attacker.flood(PORT, 600, 20, 4)
    print("# a flood of 600 idle connections from 20 addresses: %d connected" % connected)
    ready = os.path.join(os.path.dirname(sys.argv[2]), "slowloris-ready")
    slow = threading.Thread(target=attacker.slowloris, args=(PORT, 320, 10, 6, ready))
    slow.start()
    slow.join()
    counts = attacker.bodies(PORT, 256, 8, 1000000, "")
    print("# 256 bodies of 1 MB without a token: %s" % counts)
    if set(counts) - {"401", "closed", "unanswered"} or counts.get("unanswered"):
        fail("bodies without a token: %s" % counts)
    counts = attacker.bodies(PORT, 128, 4, 1000000, ADMIN.decode())
    print("# 128 bodies of 1 MB with the admin token: %s" % counts)
    if set(counts) - {"400", "503", "closed", "unanswered"} or counts.get("unanswered"):
        fail("bodies with the admin token: %s" % counts)


def replay(seed, index):
    data = random_case(seed, index)
    print("# sent: %r" % data)
    replies, left = exchange(data, half_close=True)
    for status, headers, body, line in replies:
        print("# reply: %r %r" % (line, body[:300]))
    check_replies("random case %d of seed %d" % (index, seed), replies, left)


def main():
    if sys.argv[1] == "replay":
        replay(int(sys.argv[3]), int(sys.argv[4]))
    else:
        seed = int(os.environ.get("COOPBILL_HOSTILE_SEED", "15"))
        probe = threading.Thread(target=probe_loop)
        probe.start()
        phases = [("framing", framing), ("json", json_bodies), ("utf-8", utf8_targets),
                  ("floods", floods), ("random", lambda: random_phase(seed))]
        try:
            for name, action in phases:
                if name in sys.argv[3:] or not sys.argv[3:]:
                    in_phase(name if name != "random" else "%d random requests, seed %d" %
                             (RANDOM_CASES, seed), action)
        finally:
            probe_stop.set()
            probe.join()
        peak = rss_kib("VmHWM") // 1024
        print("# the probe: %d requests, the slowest in %.2f s; daemon peak RSS %d MiB" %
              (probe_stats["requests"], probe_stats["slowest_s"], peak))
        if peak >= RSS_LIMIT_MIB:
            fail("the daemon's peak RSS was %d MiB, over %d MiB" % (peak, RSS_LIMIT_MIB))
    if failures:
        print("\n".join("FAIL: " + f for f in failures[:60]), file=sys.stderr)
        sys.exit(1)


main()
