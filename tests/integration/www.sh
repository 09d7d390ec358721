#!/usr/bin/env bash
# The member page's files: served from [server] www with the page's security
# headers and ETags; nothing outside that folder, no hidden files, no
# listings; the API unchanged under /api/; GET /api/v1/cooperative.
. "$(dirname "$0")/lib.sh"

WWW="$WORK/www"
mkdir -p "$WWW/css" "$WWW/js" "$WWW/sub" "$WORK/outside"
printf '<!doctype html><title>coop</title>\n' >"$WWW/index.html"
printf 'body { color: #222; }\n' >"$WWW/css/page.css"
printf 'export const answer = 42;\n' >"$WWW/js/app.js"
printf 'secret\n' >"$WWW/.htpasswd"
printf 'outside\n' >"$WORK/outside/secret.txt"
printf 'inside\n' >"$WWW/sub/note.txt"
ln -s ../outside/secret.txt "$WWW/leak.txt"
ln -s ../outside "$WWW/out"
ln -s sub/note.txt "$WWW/alias.txt"

write_config "www = $WWW
public_url = http://coop.test:8080/"
cat >>"$CONFIG" <<CONF

[cooperative]
name = Xarxa Oberta del Poble, SCCL
address = Carrer Major 1, 25001 Lleida
tax_id = F25000000
CONF
start_daemon
grep -q "member page at http://coop.test:8080/ from $WWW" "$WORK/daemon.log" ||
	fail "the start-up log does not say where the member page is"
ok "the start-up log says where members find the page"

status=$(req GET /)
expect 200 "$status" "GET / is the page's index.html"
grep -q '<title>coop</title>' "$WORK/body" || fail "GET / did not send index.html"
header Content-Type | grep -qx 'text/html; charset=utf-8' || fail "index.html type: $(header Content-Type)"
csp=$(header Content-Security-Policy)
for directive in "default-src 'self'" "script-src 'self'" "style-src 'self'" "frame-ancestors 'none'" \
	"object-src 'none'" "connect-src 'self'"; do
	grep -qF "$directive" <<<"$csp" || fail "the CSP lacks $directive: $csp"
done
grep -q "unsafe-inline\|unsafe-eval\|\*" <<<"$csp" && fail "the CSP allows inline code or any origin: $csp"
ok "the page carries a strict Content-Security-Policy"
[ "$(header X-Content-Type-Options)" = nosniff ] || fail "no nosniff"
[ "$(header Referrer-Policy)" = no-referrer ] || fail "no Referrer-Policy: no-referrer"
[ "$(header Cache-Control)" = no-cache ] || fail "Cache-Control: $(header Cache-Control)"
ok "nosniff, no-referrer and no-cache on the page"

status=$(req GET /css/page.css)
expect 200 "$status" "a stylesheet is served"
header Content-Type | grep -qx 'text/css; charset=utf-8' || fail "css type: $(header Content-Type)"
status=$(req GET /js/app.js)
expect 200 "$status" "a module is served"
header Content-Type | grep -qx 'text/javascript; charset=utf-8' || fail "js type: $(header Content-Type)"
cmp -s "$WORK/body" "$WWW/js/app.js" || fail "the module's bytes differ from the file"
ok "content types by extension, bytes as on disk"

etag=$(header ETag)
[[ $etag =~ ^\"[0-9a-f]+-[0-9a-f]+\"$ ]] || fail "ETag: $etag"
rm -f "$WORK/body"
status=$(req GET /js/app.js '' '' -H "If-None-Match: $etag")
expect 304 "$status" "If-None-Match with the ETag is answered 304"
[ ! -s "$WORK/body" ] || fail "the 304 has a body"
[ "$(header ETag)" = "$etag" ] || fail "the 304 lacks the ETag"
status=$(req GET /js/app.js '' '' -H "If-None-Match: \"other\", W/$etag")
expect 304 "$status" "a weak tag in a list of tags matches too"
status=$(req GET /js/app.js '' '' -H 'If-None-Match: "other"')
expect 200 "$status" "another tag gets the file"
sleep 1.1
printf 'export const answer = 43;\n' >"$WWW/js/app.js"
status=$(req GET /js/app.js '' '' -H "If-None-Match: $etag")
expect 200 "$status" "a changed file gets a new ETag and its new bytes"
grep -q 43 "$WORK/body" || fail "the changed file was not sent"

status=$(curl -sS -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -I "$BASE/css/page.css")
expect 200 "$status" "HEAD of a file"
[ "$(header Content-Length)" = "$(stat -c %s "$WWW/css/page.css")" ] || fail "HEAD Content-Length"

expect 200 "$(req GET /alias.txt)" "a symlink that stays inside the folder is served"
for path in /leak.txt /out/secret.txt /.htpasswd /sub /sub/ /css/ /missing.html \
	/css/../index.html '/%2e%2e/outside/secret.txt' '/sub/%2e%2e/%2e%2e/outside/secret.txt' \
	'/..%2foutside%2fsecret.txt' '/js//app.js' '/js\app.js'; do
	status=$(req GET "$path" '' '' --path-as-is)
	expect_problem 404 "$status" "GET $path is 404" 'no page or file'
	grep -qx 'outside\|inside\|secret' "$WORK/body" && fail "GET $path sent a file it must not"
done
status=$(req POST / '' '{}')
expect_problem 405 "$status" "POST on the page is 405" 'GET, HEAD'
[ "$(header Allow)" = "GET, HEAD" ] || fail "Allow: $(header Allow)"

status=$(req GET /api/v1/nothing)
expect_problem 404 "$status" "an unknown API path is still the API's 404" 'no resource'
status=$(req GET /api)
expect_problem 404 "$status" "/api itself is not a page" 'no resource'
expect 200 "$(req GET /healthz)" "/healthz is still the API"

status=$(req GET /api/v1/cooperative)
expect 200 "$status" "GET /api/v1/cooperative without a token"
[ "$(body -c '[.name, .address, .tax_id, .currency, .currency_exponent, .timezone, .public_url]')" = \
	'["Xarxa Oberta del Poble, SCCL","Carrer Major 1, 25001 Lleida","F25000000","EUR",2,"UTC","http://coop.test:8080"]' ] ||
	fail "cooperative: $(cat "$WORK/body")"
ok "the cooperative's heading, currency, zone and public address are published"

# Another folder, named by a restart's configuration: a cooperative restyles.
stop_daemon
rm -rf "$WWW"
write_config "www = $WORK/missing"
start_daemon
status=$(req GET /)
expect_problem 404 "$status" "without the folder, GET / is 404 and the daemon serves the API" 'no page'
expect 200 "$(req GET /healthz)" "the API answers without the page's folder"
grep -q "\[server\] www: $WORK/missing has no readable index.html" "$WORK/daemon.log" ||
	fail "the start-up log does not warn that the page's folder is missing"
ok "the start-up log warns that the page cannot be served"
finish
