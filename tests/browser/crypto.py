"""The page's cryptography (www/js/crypto/) in Chromium: SHA-256, SHA-512 and
Ed25519 against published vectors, the RFC 6962 proof vectors, the C2SP
signed-note example, and a real daemon's checkpoints and proofs with its real
key. Run twice: on http://coop.test:PORT, which is not a secure context (the
page's own JavaScript runs), and on http://127.0.0.1:PORT, which is (WebCrypto
runs); each run checks which did."""

import ctypes
import ctypes.util
import glob
import hashlib
import json
import os
import shutil

import lib

# SHA-256 test messages of FIPS 180-2 (appendix B) and their digests.
NIST_SHA256 = [
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    (b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
     b"lmnopqrsmnopqrstnopqrstu",
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
]
MILLION_A = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

# Ed25519 arithmetic in the plainest Python (RFC 8032 §5.1), only to make
# the edge cases below; the page's own code is what is tested.
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
IDENTITY = (0, 1, 1, 0)


def point_add(a, b):
    pa = (a[1] - a[0]) * (b[1] - b[0]) % P
    pb = (a[1] + a[0]) * (b[1] + b[0]) % P
    pc = 2 * a[3] * b[3] * D % P
    pd = 2 * a[2] * b[2] % P
    e, f, g, h = pb - pa, pd - pc, pd + pc, pb + pa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def point_mul(scalar, point):
    result = IDENTITY
    while scalar:
        if scalar & 1:
            result = point_add(result, point)
        point = point_add(point, point)
        scalar >>= 1
    return result


def point_from_y(y, sign=0):
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * pow(2, (P - 1) // 4, P) % P
    assert (x * x - x2) % P == 0
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def encode(point):
    z = pow(point[2], P - 2, P)
    x, y = point[0] * z % P, point[1] * z % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


BASE = point_from_y(4 * pow(5, P - 2, P) % P)
# A point of order 8: y as in libsodium's list of small-order encodings.
ORDER8 = point_from_y(0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826)


def h512(*parts):
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little")


def secret(vector):
    digest = hashlib.sha512(bytes.fromhex(vector["secret_key"])).digest()
    return int.from_bytes(digest[:32], "little") & ((1 << 254) - 8) | (1 << 254)


def sign_with_torsion(seed, message):
    """Signs as an honest signer whose published key is A + T (T of order
    8): a cofactored check accepts it, a cofactorless one (libsodium's)
    only when k is a multiple of 8. Returns (key, signature, k mod 8)."""
    digest = hashlib.sha512(seed).digest()
    a = int.from_bytes(digest[:32], "little") & ((1 << 254) - 8) | (1 << 254)
    key = encode(point_add(point_mul(a, BASE), ORDER8))
    r = h512(digest[32:], message) % L
    big_r = encode(point_mul(r, BASE))
    k = h512(big_r, key, message) % L
    return key, big_r + ((r + k * a) % L).to_bytes(32, "little"), k % 8


def ed25519_edge_cases(rfc):
    first = rfc[0]
    s = int.from_bytes(bytes.fromhex(first["signature"][64:]), "little")
    cases = [
        # [S + L]B = [S]B: only the check S < L refuses it.
        ("S + L", first["public_key"], first["message"],
         first["signature"][:64] + (s + L).to_bytes(32, "little").hex(), False),
        # With the identity as key, R = B and S = 1 satisfy the equation for
        # any message: only the check of the key's order refuses it.
        ("small-order key", encode(IDENTITY).hex(), "6869",
         encode(BASE).hex() + (1).to_bytes(32, "little").hex(), False),
        # R the identity and S = ka: only the check of R's order refuses it.
        ("small-order R", first["public_key"], "6869",
         encode(IDENTITY).hex() + (h512(encode(IDENTITY), bytes.fromhex(first["public_key"]),
                                        b"hi") % L * secret(first) % L).to_bytes(32, "little").hex(),
         False),
        # A non-canonical key: y = p + 1 spells 1, the identity.
        ("non-canonical key", (P + 1).to_bytes(32, "little").hex(), "",
         encode(IDENTITY).hex() + "00" * 32, False),
    ]
    seed = bytes.fromhex(first["secret_key"])
    wanted = {"key with a small-order part, k not a multiple of 8": False,
              "key with a small-order part, k a multiple of 8": True}
    for i in range(200):
        message = b"message %d" % i
        key, signature, k8 = sign_with_torsion(seed, message)
        name = "key with a small-order part, k %sa multiple of 8" % ("" if k8 == 0 else "not ")
        if name in wanted:
            cases.append((name, key.hex(), message.hex(), signature.hex(), wanted.pop(name)))
        if not wanted:
            break
    return [dict(name=n, public_key=k, message=m, signature=g, expect=e) for n, k, m, g, e in cases]


def libsodium_verify(library, key, message, signature):
    return library.crypto_sign_verify_detached(signature, message, ctypes.c_ulonglong(len(message)),
                                               key) == 0


with lib.Test("crypto", timeout_s=240) as t:
    src = t.srcdir

    # The page's folder: the crypto modules where www/ has them, and the test page.
    site = os.path.join(t.tmp, "site")
    shutil.copytree(os.path.join(src, "www", "js", "crypto"), os.path.join(site, "js", "crypto"))
    for name in ("crypto.html", "crypto.js"):
        shutil.copy(os.path.join(src, "tests", "browser", name), site)
    sizes = {name: os.path.getsize(os.path.join(site, "js", "crypto", name))
             for name in sorted(os.listdir(os.path.join(site, "js", "crypto")))}
    total = sum(sizes.values())
    t.check(total < 25 * 1024, "the crypto modules are small: %d bytes (%s)" % (
        total, ", ".join("%s %d" % item for item in sizes.items())))

    # Vectors.
    for message, digest in NIST_SHA256:
        assert hashlib.sha256(message).hexdigest() == digest
    assert hashlib.sha256(b"a" * 1000000).hexdigest() == MILLION_A
    sha256_vectors = [(m.hex(), d) for m, d in NIST_SHA256]
    for length in range(201):
        message = bytes((7 * i + 3) % 256 for i in range(length))
        sha256_vectors.append((message.hex(), hashlib.sha256(message).hexdigest()))
    sha512_vectors = []
    for length in (0, 1, 3, 111, 112, 127, 128, 129, 239, 240, 1000):
        message = bytes((5 * i + 1) % 256 for i in range(length))
        sha512_vectors.append((message.hex(), hashlib.sha512(message).hexdigest()))
    with open(os.path.join(src, "tests", "data", "rfc8032", "vectors.json")) as f:
        rfc8032 = json.load(f)
    edges = ed25519_edge_cases(rfc8032)
    sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    t.check(sodium.sodium_init() >= 0, "libsodium loads, to say how it decides the edge cases")
    disagree = [e["name"] for e in edges if libsodium_verify(
        sodium, bytes.fromhex(e["public_key"]), bytes.fromhex(e["message"]),
        bytes.fromhex(e["signature"])) != e["expect"]]
    t.check(not disagree and len(edges) == 6, "libsodium decides the %d edge cases as expected"
            % len(edges), ", ".join(disagree))
    merkle = []
    for path in sorted(glob.glob(os.path.join(src, "tests", "data", "rfc6962", "**", "*.json"),
                                 recursive=True)):
        with open(path) as f:
            merkle.append({"path": os.path.relpath(path, src), "vector": json.load(f)})
    with open(os.path.join(src, "tests", "data", "signed-note", "note.txt")) as f:
        note_text = f.read()
    with open(os.path.join(src, "tests", "data", "signed-note", "message.txt")) as f:
        note_message = f.read()
    with open(os.path.join(src, "tests", "data", "signed-note", "verifier-key.txt")) as f:
        note_key = f.read().strip()

    # A real log: a token and households, a checkpoint, more, another checkpoint.
    d = t.start_daemon(extra="[log]\norigin = coop.example/log")
    admin = d.admin_token()
    key = d.api("GET", "/api/v1/log/key").text.strip()

    def household(name, address):
        reply = d.api("POST", "/api/v1/households", admin,
                      {"name": name, "addresses": [address], "joined_at": "2026-11-01"})
        t.check(reply.status == 201, "the daemon creates household %s" % name, repr(reply))

    household("Garcia", "10.0.1.10")
    checkpoint1 = d.api("GET", "/api/v1/log/checkpoint").text
    household("Okafor", "10.0.2.10")
    household("Nguyen", "10.0.3.10")
    household("Silva", "10.0.4.10")
    checkpoint2 = d.api("GET", "/api/v1/log/checkpoint").text
    sizes = [int(checkpoint1.split("\n")[1]), int(checkpoint2.split("\n")[1])]
    roots = [checkpoint1.split("\n")[2], checkpoint2.split("\n")[2]]
    entries = [d.api("GET", "/api/v1/log/entries/%d" % i).text for i in range(sizes[1])]
    inclusion = [d.api("GET", "/api/v1/log/proof/inclusion?index=%d&size=%d" % (i, sizes[1])).json()
                 for i in range(sizes[1])]
    consistency = d.api("GET", "/api/v1/log/proof/consistency?from=%d&to=%d" % tuple(sizes)).json()
    t.check(sizes == [2, 5], "the log has 2 entries, then 5", str(sizes))

    checks_input = {
        "sha256": sha256_vectors,
        "sha256Million": {"byte": 0x61, "length": 1000000, "digest": MILLION_A},
        "sha512": sha512_vectors,
        "ed25519": rfc8032,
        "ed25519Edge": edges,
        "merkle": merkle,
        "note": {"key": note_key, "note": note_text, "message": note_message},
        "log": {"key": key, "checkpoints": [checkpoint1, checkpoint2], "sizes": sizes,
                "roots": roots, "entries": entries, "inclusion": inclusion,
                "consistency": consistency},
    }

    # The test page is served apart from the daemon, so that what is checked
    # here is the cryptography alone; member.py checks the daemon's serving.
    port = t.serve(site)
    browser = t.browser()
    runs = [("http://%s:%d" % (lib.LAN_HOST, port), False, "js"),
            ("http://127.0.0.1:%d" % port, True, "webcrypto")]
    for base, secure, backend in runs:
        where = "on %s (%s)" % (base, "a secure context" if secure else "plain HTTP, not secure")
        browser.get(base + "/crypto.html")
        t.wait_for(browser, "return document.documentElement.dataset.ready", "the test page loads")
        report = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "window.cryptoChecks(arguments[0]).then(done,"
            " (e) => done({error: String(e) + '\\n' + e.stack}));", checks_input)
        t.check("error" not in report, "the checks run " + where, report.get("error", ""))
        t.check(report["secure"] is secure, "isSecureContext is %s %s" % (secure, where))
        t.check(report["sha256Backend"] == backend and report["ed25519Backend"] == backend,
                "SHA-256 and Ed25519 use %s %s" % (
                    "WebCrypto" if secure else "the page's JavaScript", where),
                "SHA-256: %s, Ed25519: %s" % (report["sha256Backend"], report["ed25519Backend"]))
        for result in report["results"]:
            t.check(result["ok"], result["name"], result["detail"])
        counts = report["merkleCounts"]
        t.check(counts == {"inclusion": 98, "consistency": 98, "accepted": 12},
                "all 196 RFC 6962 vectors were read, 12 of them valid", str(counts))
        print("# %s: the checks took %d ms" % (where, report["ms"]), flush=True)
        t.screenshot(browser, "secure" if secure else "plain-http")
        t.check_console(browser, "no console errors " + where)
