#!/usr/bin/env python3
"""The member-isolation walk over docs/openapi.yaml. Used by isolation.sh.

  isolation.py OPENAPI_YAML WALK_JSON

WALK_JSON names the daemon's port and database, the admin token, a closed
period, a published tariff and a draft, and households A and B (id, member
token, token id; for B also the strings that are B's alone).

Every operation of the spec is sent, its path and required query
parameters filled from their names:

  households/{id}, household_id   A's id (own) or B's (other)
  {token_id}, token_id            A's token (own) or B's (other)
  tariffs/{id}, tariff_id         the published tariff (own) or the draft (other)
  {period}, period                the closed period
  {index}                         entry 0 of the log

and any other query parameter from its example; a parameter the walk
cannot fill fails the walk, naming it. Bodies are the spec's examples
(household_id set to B's), so that a refusal is about who asks, not what.

What the spec says of an operation decides what must happen:

- `security` absent (in the operation and at the top): the spec does not
  say who may call it, which fails the walk.
- `security` empty or holding `{}`: anyone. Without a token, with its own
  ids, it answers (no 401 or 403); naming the draft, it refuses.
- `bearerAuth` alone: without a token, 401 with WWW-Authenticate.
- for A's member token, an operation whose responses list 403 and whose
  path names no household is the treasurer's: 403. Any other answers A's
  own ids (checked for GET and HEAD) and refuses, with a 403 or 404 the spec
  lists, any request naming something of B or the draft.

Throughout, no reply to A's token or to no token holds B's secrets or an
object whose household_id is B's, and the database is the same after every
request as before (dbstate.py).
"""
import http.client
import itertools
import json
import sys

import yaml

import dbstate

spec = yaml.safe_load(open(sys.argv[1]))
walk = json.load(open(sys.argv[2]))
A, B = walk["a"], walk["b"]
METHODS = ("get", "put", "post", "delete", "patch")
failures = []
sent = 0


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


# Each fillable parameter: its value when the request is A's own business,
# and when it names B's (or the treasurer's draft).
FILL = {
    "households/{id}": (A["id"], B["id"]),
    "household_id": (A["id"], B["id"]),
    "token_id": (A["token_id"], B["token_id"]),
    "tariffs/{id}": (walk["tariff"], walk["draft"]),
    "tariff_id": (walk["tariff"], walk["draft"]),
    "period": (walk["period"], walk["period"]),
    "index": (0, 0),
}


def fill_key(path, param):
    """The FILL key of a parameter: the segment before it and its name for
    a path parameter named id, its name otherwise."""
    if param["in"] == "path":
        before = path.split("{" + param["name"] + "}")[0].rstrip("/").split("/")[-1]
        if before + "/{" + param["name"] + "}" in FILL:
            return before + "/{" + param["name"] + "}"
    return param["name"] if param["name"] in FILL else None


def example_of(node):
    if "example" in node:
        return node["example"]
    if node.get("examples"):
        return resolve(next(iter(node["examples"].values())))["value"]
    return None


class Operation:
    def __init__(self, path, method, op):
        self.path, self.method, self.op = path, method.upper(), op
        self.name = "%s %s" % (self.method, path)
        self.responses = {str(code) for code in op["responses"]}
        security = op.get("security", spec.get("security"))
        if security is None:
            sys.exit("FAIL: %s: docs/openapi.yaml does not say who may call it; give it "
                     "security: [] (anyone), [{}, {bearerAuth: []}] (anyone, a token "
                     "counts when sent) or [{bearerAuth: []}] (a token)" % self.name)
        self.public = not security or {} in security
        self.params = []  # (parameter, FILL key or None)
        for param in map(resolve, op.get("parameters", [])):
            if param["in"] not in ("path", "query"):
                continue
            key = fill_key(path, param)
            if param["in"] == "path" and not key:
                sys.exit("FAIL: %s: the walk does not know how to fill the path parameter "
                         "{%s}; add it to FILL in tests/integration/isolation.py" %
                         (self.name, param["name"]))
            if param["in"] == "query" and not key:
                if not param.get("required"):
                    continue
                if example_of(param) is None and example_of(param.get("schema", {})) is None:
                    sys.exit("FAIL: %s: the required query parameter %s has no example in "
                             "the spec and the walk does not know how to fill it" %
                             (self.name, param["name"]))
            self.params.append((param, key))
        self.household_scoped = any(key in ("households/{id}", "household_id")
                                    for _, key in self.params)
        self.body = None
        body = op.get("requestBody")
        if body:
            content = body.get("content", {}).get("application/json")
            example = example_of(content) if content else None
            if example is None and body.get("required"):
                sys.exit("FAIL: %s: its request body has no JSON example in the spec, which "
                         "the walk sends so that a refusal is not about the body" % self.name)
            self.body = json.dumps(own_ids_to_b(example)) if example is not None else None

    def combinations(self):
        """Each (label, path, query) with every fillable parameter own or
        other; the label says which are other."""
        choices = [[("own", param, key)] +
                   ([("other", param, key)] if key and FILL[key][0] != FILL[key][1] else [])
                   for param, key in self.params]
        for combo in itertools.product(*choices):
            path, query, other = self.path, [], []
            for side, param, key in combo:
                value = FILL[key][side == "other"] if key else (
                    example_of(param) if example_of(param) is not None
                    else example_of(param["schema"]))
                if side == "other":
                    other.append(param["name"])
                if param["in"] == "path":
                    path = path.replace("{%s}" % param["name"], str(value))
                else:
                    query.append("%s=%s" % (param["name"], value))
            yield other, path + ("?" + "&".join(query) if query else "")


def own_ids_to_b(value):
    if isinstance(value, dict):
        return {k: B["id"] if k == "household_id" else own_ids_to_b(v) for k, v in value.items()}
    if isinstance(value, list):
        return [own_ids_to_b(v) for v in value]
    return value


def send(method, target, token, body):
    global sent
    sent += 1
    conn = http.client.HTTPConnection("127.0.0.1", walk["port"], timeout=30)
    headers = {"Authorization": "Bearer " + token} if token else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, target, body=body, headers=headers)
    reply = conn.getresponse()
    data = reply.read()
    conn.close()
    return reply.status, reply.getheader("WWW-Authenticate"), data


def leaks(data):
    """What of B's a reply holds."""
    text = data.decode("utf-8", "replace")
    found = [secret for secret in B["secrets"] if secret in text]
    try:
        document = json.loads(text)
    except ValueError:
        return found

    def walk_json(node):
        if isinstance(node, dict):
            if node.get("household_id") == B["id"]:
                found.append("an object with household_id %d" % B["id"])
            for v in node.values():
                walk_json(v)
        elif isinstance(node, list):
            for v in node:
                walk_json(v)
    walk_json(document)
    return found


def check(op, method, target, who, token, allowed):
    """Sends one request; allowed(status) says whether its status is right."""
    before = dbstate.digest(walk["db"])
    status, challenge, data = send(method, target, token, op.body if method != "HEAD" else None)
    case = "%s %s as %s" % (method, target, who)
    if not allowed(status):
        failures.append("%s: HTTP %d is not what docs/openapi.yaml says: %s" %
                        (case, status, data[:300].decode("utf-8", "replace")))
    if status == 401 and not challenge:
        failures.append("%s: 401 without WWW-Authenticate" % case)
    if who != "admin" and leaks(data):
        failures.append("%s: the reply reveals B's %s" % (case, ", ".join(leaks(data))))
    if dbstate.digest(walk["db"]) != before:
        failures.append("%s (HTTP %d): the database changed" % (case, status))


def refusals(op, wanted):
    """The statuses of wanted that the spec lists for op; the spec must
    list one."""
    listed = sorted(int(code) for code in op.responses if int(code) in wanted)
    if not listed:
        failures.append("%s: docs/openapi.yaml lists none of %s" % (op.name, sorted(wanted)))
    return listed


def walk_operation(op):
    methods = [op.method] + (["HEAD"] if op.method == "GET" else [])
    safe = op.method == "GET"
    treasurers = "403" in op.responses and not op.household_scoped and not op.public
    for method in methods:
        for other, target in op.combinations():
            own = not other
            # Without a token.
            if op.public and own:
                check(op, method, target, "no token", None, lambda s: s not in (401, 403))
            elif op.public:
                codes = refusals(op, {401, 403, 404})
                check(op, method, target, "no token (%s of B's)" % ", ".join(other), None,
                      lambda s, c=codes: s in c)
            else:
                codes = refusals(op, {401})
                check(op, method, target, "no token", None, lambda s, c=codes: s in c)
            # A's member token.
            if treasurers:
                codes = refusals(op, {403})
                check(op, method, target, "A's member", A["token"], lambda s, c=codes: s in c)
            elif own and safe:
                check(op, method, target, "A's member", A["token"],
                      lambda s: s not in (401, 403) and s < 500)
            elif not own:
                codes = refusals(op, {403, 404})
                check(op, method, target, "A's member (%s of B's)" % ", ".join(other),
                      A["token"], lambda s, c=codes: s in c)


operations = [Operation(path, method, op) for path, item in spec["paths"].items()
              for method, op in item.items() if method in METHODS]
for op in operations:
    walk_operation(op)
print("# %d operations of docs/openapi.yaml walked in %d requests" % (len(operations), sent))
if failures:
    print("\n".join("FAIL: " + f for f in failures), file=sys.stderr)
    sys.exit(1)
