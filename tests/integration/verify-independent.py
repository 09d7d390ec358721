#!/usr/bin/env python3
"""An independent check of coopbill's transparency log.

Written from the specifications alone, with no coopbill code, so that a bug in
the daemon's tlog module cannot hide itself by also being in its verifier:
C2SP signed-note and tlog-checkpoint for the checkpoint, RFC 9162 §2.1.3.2 for
inclusion proofs, RFC 9162 §2.1.4.2 for consistency proofs. Ed25519 signatures
are checked by the openssl command (OpenSSL 3.0 or later).

usage: verify-independent.py BASE_URL KEY [--entry I] [--since-note FILE]

Prints one line per check, OK or FAILED, and exits 0 when all are OK, 1 when
one FAILED (2 for a usage error). Unlike coopbill-verify it never writes FILE.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

RESPONSE_SIZE_MAX = 1024 * 1024
TIMEOUT_S = 10
PROOF_MAX = 64
NOTE_SIZE_MAX = 256 * 1024
SIGNATURE_PREFIX = "\u2014 "
# DER of an Ed25519 SubjectPublicKeyInfo up to the 32 key bytes (RFC 8410).
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
EMPTY_ROOT = hashlib.sha256(b"").digest()


class Failed(Exception):
    """A check failed; the message says why."""


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(entry):
    return sha256(b"\x00" + entry)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def decode_base64(text, size=None):
    """Strict, canonical base64: decoding and encoding again gives the same text."""
    try:
        data = base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as e:
        raise Failed(f"not base64: {text!r}") from e
    if base64.b64encode(data).decode("ascii") != text:
        raise Failed(f"not canonical base64: {text!r}")
    if size is not None and len(data) != size:
        raise Failed(f"base64 of {len(data)} bytes where {size} were expected")
    return data


def key_id(name, public_key):
    return sha256(name.encode("utf-8") + b"\n\x01" + public_key)[:4]


def parse_key(text):
    """A verifier key line: <name>+<hex8 key id>+base64(0x01 || public key)."""
    parts = text.split("+", 2)
    if len(parts) != 3 or not parts[0] or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise ValueError("not <name>+<8 hex digits>+<base64>")
    name = parts[0]
    if any(c.isspace() or ord(c) < 0x20 for c in name):
        raise ValueError("the key name has a space or control character")
    try:
        typed = decode_base64(parts[2], 33)
    except Failed as e:
        raise ValueError(str(e)) from e
    if typed[0] != 0x01:
        raise ValueError("not an Ed25519 key")
    public_key = typed[1:]
    if key_id(name, public_key).hex() != parts[1]:
        raise ValueError("the key ID does not match the name and key")
    return name, bytes.fromhex(parts[1]), public_key


def ed25519_verify(public_key, message, signature):
    with tempfile.TemporaryDirectory(prefix="verify-independent.") as work:
        key_path = os.path.join(work, "key.pem")
        message_path = os.path.join(work, "message")
        signature_path = os.path.join(work, "signature")
        der = ED25519_SPKI_PREFIX + public_key
        with open(key_path, "w", encoding="ascii") as f:
            f.write("-----BEGIN PUBLIC KEY-----\n")
            f.write(base64.b64encode(der).decode("ascii") + "\n")
            f.write("-----END PUBLIC KEY-----\n")
        with open(message_path, "wb") as f:
            f.write(message)
        with open(signature_path, "wb") as f:
            f.write(signature)
        result = subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", key_path, "-rawin",
             "-in", message_path, "-sigfile", signature_path],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        return result.returncode == 0


def open_note(note_bytes, key, source):
    """Verifies a signed note against the key; returns its text (as bytes)."""
    name, kid, public_key = key
    if len(note_bytes) > NOTE_SIZE_MAX:
        raise Failed(f"{source} is longer than {NOTE_SIZE_MAX} bytes")
    try:
        note = note_bytes.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Failed(f"{source} is not UTF-8") from e
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise Failed(f"{source} has a control character")
    # The signatures follow the last blank line; the text keeps its final newline.
    blank = note.rfind("\n\n")
    if blank < 0 or not note.endswith("\n"):
        raise Failed(f"{source} is not a well-formed signed note")
    text = note[:blank + 1]
    signature_lines = note[blank + 2:].split("\n")[:-1]
    if not signature_lines:
        raise Failed(f"{source} is not a well-formed signed note")
    valid = invalid = False
    for line in signature_lines:
        if not line.startswith(SIGNATURE_PREFIX) or " " not in line[len(SIGNATURE_PREFIX):]:
            raise Failed(f"{source} is not a well-formed signed note")
        signer, signature64 = line[len(SIGNATURE_PREFIX):].split(" ", 1)
        try:
            signature = decode_base64(signature64)
        except Failed as e:
            raise Failed(f"{source} is not a well-formed signed note") from e
        if len(signature) < 5:
            raise Failed(f"{source} is not a well-formed signed note")
        # A key is its name and ID together; other keys' signatures are ignored.
        if signer != name or signature[:4] != kid:
            continue
        if len(signature) == 68 and ed25519_verify(public_key, text.encode("utf-8"),
                                                   signature[4:]):
            valid = True
        else:
            invalid = True
    if invalid:
        raise Failed(f"{source} has a signature by {name} that does not verify")
    if not valid:
        raise Failed(f"{source} has no signature by the key {name}+{kid.hex()}")
    return text


def parse_checkpoint(text, key, source):
    lines = text.split("\n")
    # text ends in a newline, so the last element is empty.
    if len(lines) < 4 or any(line == "" for line in lines[:-1]):
        raise Failed(f"{source} is signed but is not a checkpoint")
    origin, size_text, root64 = lines[0], lines[1], lines[2]
    if not re.fullmatch(r"0|[1-9][0-9]{0,18}", size_text) or int(size_text) >= 2**63:
        raise Failed(f"{source} has a malformed tree size")
    try:
        root = decode_base64(root64, 32)
    except Failed as e:
        raise Failed(f"{source} has a malformed root hash") from e
    if origin != key[0]:
        raise Failed(f'{source} is for the log "{origin}", not "{key[0]}"')
    size = int(size_text)
    if size == 0 and root != EMPTY_ROOT:
        raise Failed(f"{source} has size 0 but not the empty tree's root")
    return origin, size, root


def shown(text):
    """Server text for a verdict: short, and without terminal control characters."""
    text = "".join("?" if ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0 else c for c in text)
    return text if len(text) <= 200 else text[:200] + "..."


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise Failed(f"GET {req.full_url}: HTTP {code}, a redirect, which is not followed")


OPENER = urllib.request.build_opener(NoRedirect)


def fetch(base_url, path):
    url = base_url + path
    try:
        with OPENER.open(url, timeout=TIMEOUT_S) as response:
            body = response.read(RESPONSE_SIZE_MAX + 1)
            status = response.status
    except urllib.error.HTTPError as e:
        detail = "no problem detail"
        try:
            problem = json.loads(e.read(RESPONSE_SIZE_MAX + 1))
            if isinstance(problem.get("detail"), str):
                detail = shown(problem["detail"])
        except (ValueError, AttributeError, OSError):
            pass
        raise Failed(f"GET {url}: HTTP {e.code}: {detail}") from e
    except (urllib.error.URLError, OSError) as e:
        raise Failed(f"GET {url}: {e}") from e
    if len(body) > RESPONSE_SIZE_MAX:
        raise Failed(f"GET {url}: the answer exceeds the limit of {RESPONSE_SIZE_MAX} bytes")
    if status != 200:
        raise Failed(f"GET {url}: HTTP {status} where 200 was expected")
    return body


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(pairs)


def parse_proof(body, first_name, first, second_name, second):
    try:
        document = json.loads(body, object_pairs_hook=no_duplicates)
    except ValueError as e:
        raise Failed("the proof is not a JSON object") from e
    if not isinstance(document, dict):
        raise Failed("the proof is not a JSON object")
    for name, expected in ((first_name, first), (second_name, second)):
        value = document.get(name)
        if type(value) is not int or value != expected:
            raise Failed(f"the server sent a proof for another question than "
                         f"{first_name} {first}, {second_name} {second}")
    hashes = document.get("proof")
    if not isinstance(hashes, list) or len(hashes) > PROOF_MAX:
        raise Failed(f"the proof is not a list of at most {PROOF_MAX} hashes")
    proof = []
    for i, h in enumerate(hashes):
        if not isinstance(h, str):
            raise Failed(f"hash {i} of the proof is not base64 of 32 bytes")
        try:
            proof.append(decode_base64(h, 32))
        except Failed as e:
            raise Failed(f"hash {i} of the proof is not base64 of 32 bytes") from e
    return document, proof


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, first_root, second, second_root, proof):
    """RFC 9162 §2.1.4.2, for 0 < first <= second."""
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    if first & (first - 1) == 0:
        proof = [first_root] + proof
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def check_checkpoint(base_url, key):
    note = fetch(base_url, "/api/v1/log/checkpoint")
    text = open_note(note, key, "the server's checkpoint")
    return parse_checkpoint(text, key, "the server's checkpoint")


def check_entry(base_url, checkpoint, index):
    _, size, root = checkpoint
    if index >= size:
        raise Failed(f"the checkpoint's log has {size} entries, so no entry {index}")
    entry = fetch(base_url, f"/api/v1/log/entries/{index}")
    body = fetch(base_url, f"/api/v1/log/proof/inclusion?index={index}&size={size}")
    document, proof = parse_proof(body, "index", index, "size", size)
    server_leaf = document.get("leaf_hash")
    try:
        server_leaf = decode_base64(server_leaf, 32) if isinstance(server_leaf, str) else None
    except Failed:
        server_leaf = None
    if server_leaf is None:
        raise Failed("the proof's leaf_hash is not base64 of 32 bytes")
    leaf = leaf_hash(entry)
    if leaf != server_leaf:
        raise Failed("the entry's bytes do not hash to the leaf hash the server gives for it")
    if not verify_inclusion(index, size, leaf, proof, root):
        raise Failed("the inclusion proof does not lead to the checkpoint's root")
    return entry


def read_note(path):
    try:
        with open(path, "rb") as f:
            note = f.read(NOTE_SIZE_MAX + 1)
    except OSError as e:
        raise Failed(f"cannot read {path}: {e.strerror}") from e
    return note


def check_consistency(base_url, key, saved_note, checkpoint):
    text = open_note(saved_note, key, "the checkpoint saved earlier")
    _, old_size, old_root = parse_checkpoint(text, key, "the checkpoint saved earlier")
    _, size, root = checkpoint
    if size < old_size:
        raise Failed(f"history was rewritten: the log shrank from {old_size} to {size} entries")
    if size == old_size:
        if root != old_root:
            raise Failed(f"history was rewritten: two different logs of {size} entries")
        return old_size, size
    if old_size == 0:
        return old_size, size
    body = fetch(base_url, f"/api/v1/log/proof/consistency?from={old_size}&to={size}")
    _, proof = parse_proof(body, "from", old_size, "to", size)
    if not verify_consistency(old_size, old_root, size, root, proof):
        raise Failed(f"history was rewritten: the consistency proof does not show the log of "
                     f"{size} entries extending the saved one of {old_size}")
    return old_size, size


def main():
    parser = argparse.ArgumentParser(
        description="Independent check of a coopbill transparency log.")
    parser.add_argument("base_url", metavar="BASE_URL")
    parser.add_argument("key", metavar="KEY", help="the trusted verifier key line")
    parser.add_argument("--entry", metavar="I", type=int)
    parser.add_argument("--since-note", metavar="FILE",
                        help="a checkpoint note saved earlier (only read)")
    args = parser.parse_args()
    if args.entry is not None and args.entry < 0:
        parser.error("--entry needs an index 0, 1, 2...")
    if not re.match(r"https?://", args.base_url):
        parser.error("BASE_URL must start with http:// or https://")
    try:
        key = parse_key(args.key)
    except ValueError as e:
        parser.error(f"KEY is not a verifier key line: {e}")
    base_url = args.base_url.rstrip("/")
    ok = True

    checkpoint = None
    try:
        checkpoint = check_checkpoint(base_url, key)
        origin, size, root = checkpoint
        print(f"checkpoint OK: {origin} size {size} root {base64.b64encode(root).decode()}")
    except Failed as e:
        print(f"checkpoint FAILED: {e}")
        ok = False

    if args.entry is not None:
        try:
            if checkpoint is None:
                raise Failed("the server's checkpoint did not verify")
            entry = check_entry(base_url, checkpoint, args.entry)
            print(f"entry {args.entry} OK: included in the checkpoint of size {checkpoint[1]} "
                  f"({len(entry)} bytes)")
        except Failed as e:
            print(f"entry {args.entry} FAILED: {e}")
            ok = False

    if args.since_note is not None:
        try:
            saved_note = read_note(args.since_note)
            if checkpoint is None:
                raise Failed("the server's checkpoint did not verify")
            old_size, size = check_consistency(base_url, key, saved_note, checkpoint)
            print(f"consistent OK: size {old_size} \u2192 {size}")
        except Failed as e:
            print(f"consistent FAILED: {e}")
            ok = False

    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
