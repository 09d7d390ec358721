"""The member page as a member uses it, in Chromium on plain HTTP: a daemon
seeded with a household that has two months of usage and a meter gap, a
closed invoice, a tariff in force and an upcoming one, and a payment. The
member opens the sign-in link, sees the chart with the totals the API gives,
opens the invoice and sees its lines and "verified"; through a proxy that
alters the inclusion proof sees that check named as failed; with another log
key sees the warning; reads the page in Spanish on a 375-pixel screen; reaches
the invoice with the keyboard alone; signs out everywhere, after which the
API refuses the token. No errors in the console. Screenshots (phone and
desktop, English and Spanish, the invoice as printed) go to the log folder,
and the time from opening the link to a verified invoice is printed."""

import base64
import datetime
import hashlib
import http.server
import json
import os
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from zoneinfo import ZoneInfo

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

import lib

ZONE = "Europe/Madrid"
COOP_NAME = "Cooperativa Xarxa del Poble"
COOP_ADDRESS = "Carrer Major 1, 25001 Lleida"
COOP_TAX_ID = "ESF25000001"
ORIGIN = "coop.test/log"
UTC = datetime.timezone.utc


def month_start(day, months=0):
    """Local midnight on the first of the month `months` after day's."""
    y, m = divmod(day.month - 1 + months, 12)
    return day.replace(year=day.year + y, month=m + 1, day=1, hour=0, minute=0, second=0,
                       microsecond=0)


def rfc3339(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expect(test, reply, status, what):
    test.check(reply.status == status, what, repr(reply))
    return reply.json() if reply.body else None


def seed(t, d, admin, now):
    """Two households, two published tariffs, usage imported for the last
    month and this one so far, expenses, the last month closed, a payment."""
    current = month_start(now)
    previous = month_start(now, -1)
    joined = (previous - datetime.timedelta(days=40)).strftime("%Y-%m-%d")
    for name, addresses in (("Garcia family", ["10.0.1.10"]), ("Okafor", ["10.0.2.0/24"])):
        expect(t, d.api("POST", "/api/v1/households", admin,
                        {"name": name, "joined_at": joined, "addresses": addresses}),
               201, "household %s created" % name)
    tariff = {
        "name": "Village standard", "currency": "EUR",
        "valid_from": previous.strftime("%Y-%m-%d"),
        "emergency": {"reason": "the cooperative bills for the first time"},
        "fixed_fee": {"amount_minor": 1500, "prorate": True,
                      "description": "Membership and access"},
        "usage_charges": [
            {"name": "Peak download", "direction": "down",
             "windows": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                          "from": "18:00", "to": "23:00"}],
             "allowance_gb": 10,
             "tiers": [{"up_to_gb": 50, "price_per_gb_minor": 50}, {"price_per_gb_minor": 30}]},
            {"name": "Off-peak download", "direction": "down",
             "tiers": [{"price_per_gb_minor": 10}]}],
        "cost_sharing": {"categories": ["transit"], "equal_bp": 5000, "direction": "down"},
        "tax": {"rate_bp": 2100, "included": True},
    }
    upcoming = dict(tariff, name="Village standard 2", fixed_fee=dict(tariff["fixed_fee"],
                                                                      amount_minor=1600),
                    valid_from=month_start(now, 2).strftime("%Y-%m-%d"))
    del upcoming["emergency"]
    for document in (tariff, upcoming):
        draft = expect(t, d.api("POST", "/api/v1/tariffs", admin, document), 201,
                       "tariff %s drafted" % document["name"])
        expect(t, d.api("POST", "/api/v1/tariffs/%d/publish" % draft["id"], admin), 200,
               "tariff %s published, from %s" % (document["name"], document["valid_from"]))

    # Four buckets a day from the first of last month up to an hour ago:
    # evening traffic counts as peak, the rest as off-peak.
    rows = []
    day = previous
    last = datetime.datetime.now(UTC) - datetime.timedelta(hours=1)
    n = 0
    while day < now:
        for hour, down, up in ((9, 200e6, 30e6), (13, 500e6, 60e6),
                               (20, 1500e6 + (n % 7) * 300e6, 120e6), (22, 700e6, 50e6)):
            bucket = day.replace(hour=hour).astimezone(UTC)
            if bucket < last:
                for household, share in ((1, 1.0), (2, 0.5)):
                    rows.append({"household_id": household, "bucket_start": rfc3339(bucket),
                                 "bytes_up": int(up * share), "bytes_down": int(down * share)})
        day = (day + datetime.timedelta(days=1, hours=3)).replace(hour=0)
        n += 1
    for i in range(0, len(rows), 500):
        expect(t, d.api("POST", "/api/v1/usage/import", admin,
                        {"reason": "history from the old meter", "rows": rows[i:i + 500]}),
               201, "usage imported (%d rows)" % len(rows[i:i + 500]))
    for period, category, amount in ((previous, "transit", 10000), (previous, "power", 3000),
                                     (current, "transit", 10000)):
        expect(t, d.api("POST", "/api/v1/expenses", admin,
                        {"period": period.strftime("%Y-%m"), "category": category,
                         "amount_minor": amount, "description": category}),
               201, "expense %s recorded" % category)
    expect(t, d.api("POST", "/api/v1/periods/%s/close" % previous.strftime("%Y-%m"), admin), 200,
           "last month closed")
    expect(t, d.api("POST", "/api/v1/payments", admin,
                    {"household_id": 1, "amount_minor": 5000, "method": "cash",
                     "reference": "box 3", "received_on": now.strftime("%Y-%m-%d")}),
           201, "a payment recorded")
    return current, previous


def add_gap(d, previous):
    """A meter gap comes only from the meter, which these tests do not run
    (no nftables here): with the daemon stopped, one row is written into the
    real database as the meter writes it, marked as not yet in the log, so
    that the daemon's next start appends it to the transparency log as it
    does for gaps recorded while the log was unavailable."""
    at = int((previous + datetime.timedelta(days=11, hours=14, minutes=5)).timestamp())
    db = sqlite3.connect(d.db)
    with db:
        gap = db.execute("INSERT INTO meter_gaps (household_id, direction, reason, since, at, "
                         "bytes_before, bytes_after, scope) VALUES (1, 'down', 'counter-reset', "
                         "?, ?, 81234567890, 1048576, 'internet')", (at - 60, at)).lastrowid
        db.execute("INSERT INTO meter_gaps_unlogged (gap_id) VALUES (?)", (gap,))
    db.close()


def other_key_line(name):
    """A well-formed verifier key line for a key that did not sign the log."""
    public = hashlib.sha256(b"not the cooperative's key").digest()
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    return "%s+%s+%s\n" % (name, key_id.hex(), base64.b64encode(b"\x01" + public).decode())


class Proxy:
    """Forwards every request to the daemon; on demand it alters the first
    hash of inclusion proofs, or serves another log key."""

    def __init__(self, upstream):
        self.mode = None
        self.port = lib.free_port()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("authorization", "accept", "content-type",
                                            "if-none-match")}
                req = urllib.request.Request(upstream + self.path, data=body,
                                             method=self.command, headers=headers)
                try:
                    answer = urllib.request.urlopen(req, timeout=30)
                except urllib.error.HTTPError as error:
                    answer = error
                data = answer.read()
                if proxy.mode == "proof" and self.path.startswith("/api/v1/log/proof/inclusion"):
                    proof = json.loads(data)
                    first = proof["proof"][0]
                    proof["proof"][0] = ("B" if first[0] == "A" else "A") + first[1:]
                    data = json.dumps(proof).encode()
                if proxy.mode == "key" and self.path == "/api/v1/log/key":
                    data = other_key_line(ORIGIN).encode()
                self.send_response(answer.status)
                for k, v in answer.headers.items():
                    if k.lower() not in ("content-length", "connection", "date", "server",
                                         "transfer-encoding", "etag"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_HEAD = do_POST = do_DELETE = do_PATCH = forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        # A daemon thread: it ends with the test, whatever happens.
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def phone(t, lang):
    """A browser with a phone's 375-pixel-wide screen. A desktop window is
    at least 500 pixels wide, so the screen is emulated."""
    b = t.browser(width=375, height=812, lang=lang)
    b.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": 375, "height": 812, "deviceScaleFactor": 2, "mobile": True})
    b.phone = True
    return b


def full_page(t, b, label, width):
    """A screenshot of the whole page, not only what the window shows."""
    height = min(b.execute_script("return document.documentElement.scrollHeight") + 20, 12000)
    if getattr(b, "phone", False):
        b.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": height, "deviceScaleFactor": 1,
                           "mobile": True})
    else:
        b.set_window_size(width, height + 140)
    time.sleep(0.3)
    return t.screenshot(b, label)


def open_invoice(t, b):
    t.wait_for(b, "return document.querySelector('.open-invoice')", "the invoice list shows")
    b.find_element(By.CSS_SELECTOR, ".open-invoice").click()
    return t.wait_for(b, "const v = document.querySelector('.verdict');"
                         "return v && v.dataset.verified", "the invoice's check ends",
                      timeout_s=60)


def checks_of(b):
    return b.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('.checks li')]"
        ".map((li) => [li.dataset.check, li.className]))")


with lib.Test("member", timeout_s=280) as t:
    d = t.start_daemon(extra="[cooperative]\nname = %s\naddress = %s\ntax_id = %s\n\n"
                             "[log]\norigin = %s\n" % (COOP_NAME, COOP_ADDRESS, COOP_TAX_ID, ORIGIN))
    # The cooperative's zone and the address members open (a LAN name, so
    # not a secure context) are set before anything is billed.
    d.stop()
    with open(d.config) as f:
        config = f.read()
    config = config.replace("timezone = UTC", "timezone = " + ZONE)
    config = config.replace("[server]\n", "[server]\npublic_url = %s\n" % d.lan_base, 1)
    with open(d.config, "w") as f:
        f.write(config)
    d.start()
    admin = d.admin_token()
    now = datetime.datetime.now(ZoneInfo(ZONE))
    current, previous = seed(t, d, admin, now)
    d.stop()
    add_gap(d, previous)
    d.start()

    issued = expect(t, d.api("POST", "/api/v1/households/1/tokens", admin, {"name": "phone"}),
                    201, "a member token issued")
    link = issued["signin_url"]
    member = issued["token"]
    t.check(link == "%s/#token=%s" % (d.lan_base, member), "the sign-in link is the public "
            "address with the token in the fragment", link)
    laptop = expect(t, d.api("POST", "/api/v1/households/1/tokens", admin, {"name": "laptop"}),
                    201, "a second member token issued")["token"]
    api_usage = {}
    for label, start in (("current", current), ("previous", previous)):
        end = month_start(start, 1)
        api_usage[label] = expect(t, d.api(
            "GET", "/api/v1/households/1/usage?from=%s&to=%s&step=day" % (
                rfc3339(start), rfc3339(end)), member), 200, "the API's usage, %s period" % label)
    t.check(len(api_usage["previous"]["gaps"]) == 1, "the API shows the gap",
            repr(api_usage["previous"]["gaps"]))
    unserved = d.unserved(1)
    invoice = expect(t, d.api("GET", "/api/v1/households/1/invoices/%s"
                              % previous.strftime("%Y-%m"), member), 200, "the API's invoice")

    # Desktop, English: the link, the chart, the invoice verified.
    b = t.browser(width=1280, height=900, lang="en-US")
    started = time.monotonic()
    b.get(link)
    verdict = open_invoice(t, b)
    elapsed = time.monotonic() - started
    t.check(verdict == "true", "the invoice is verified",
            b.find_element(By.CSS_SELECTOR, ".verify").text)
    print("# from opening the sign-in link to a verified invoice: %.2f s" % elapsed, flush=True)
    t.check(b.execute_script("return isSecureContext") is False,
            "the page runs on plain HTTP, not in a secure context")
    t.check("#token" not in b.current_url and "token" not in b.current_url,
            "the token is removed from the address bar", b.current_url)
    t.check(b.execute_script("return localStorage.getItem('coopbill.token')") == member,
            "the token is kept on the device")

    for label, start in (("current", current), ("previous", previous)):
        period = start.strftime("%Y-%m")
        shown = b.execute_script(
            "const p = document.querySelector(`.period-usage[data-period='%s']`);"
            "return p && Object.fromEntries([...p.querySelectorAll('.totals dd')]"
            ".map((dd) => [dd.dataset.total, Number(dd.firstChild.dataset.bytes)]))" % period)
        total = api_usage[label]["total"]
        t.check(shown and shown.get("down") == total["bytes_down"] and
                shown.get("up") == total["bytes_up"],
                "the %s period's totals are the API's" % label, "%r vs %r" % (shown, total))
        bars = b.execute_script(
            "return document.querySelectorAll(`.period-usage[data-period='%s'] rect.bar`).length"
            % period)
        days = sum(1 for p in api_usage[label]["series"] if p["bytes_down"] > 0)
        t.check(bars >= days > 0, "the %s period's chart has a bar for each day with traffic"
                % label, "%d bars, %d days" % (bars, days))
        rows = b.execute_script(
            "return document.querySelectorAll(`.period-usage[data-period='%s'] "
            "table.figures tbody tr`).length" % period)
        t.check(rows == len(api_usage[label]["series"]) + 1,
                "the %s period's figures are in a table, a row per day and the total" % label,
                "%d rows" % rows)
    gap = b.execute_script("return [document.querySelectorAll(`.period-usage[data-period='%s'] "
                           ".gap-mark`).length, document.querySelector('.gap')?.textContent]"
                           % previous.strftime("%Y-%m"))
    t.check(gap[0] == 1 and "download counter was reset" in (gap[1] or ""),
            "the gap is marked on the chart and its reason given", repr(gap))

    text = b.find_element(By.CSS_SELECTOR, ".invoice-doc").text
    for line in invoice["invoice"]["lines"]:
        t.check(line["description"] in text and line["explain"] in text,
                "the invoice shows the line %s with its explanation" % line["description"])
    total = b.execute_script("return document.querySelector('.invoice-doc .lines strong[data-minor]')"
                             ".dataset.minor")
    t.check(total == str(invoice["total_minor"]), "the invoice's total is the API's", total)
    for part in (COOP_NAME, COOP_ADDRESS, COOP_TAX_ID, "Garcia family", invoice["tariff"]["sha256"],
                 "R-000003", "you owe"):
        t.check(part in text, "the invoice document shows %s" % part)
    pinned = b.find_element(By.ID, "pinned-key").text
    t.check(pinned == d.api("GET", "/api/v1/log/key").text.strip(),
            "the pinned key's line is shown", pinned)
    full_page(t, b, "desktop-en", 1280)

    # The invoice as printed: the document alone, and a PDF of it.
    b.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    hidden = b.execute_script(
        "return ['#usage', '#estimate', '#cooperative', '#tokens', 'header', '.doc-actions']"
        ".every((s) => getComputedStyle(document.querySelector(s)).display === 'none')")
    t.check(hidden, "printed, the page is the invoice alone")
    b.set_window_size(800, 900)
    full_page(t, b, "invoice-print", 800)
    pdf = b.execute_cdp_cmd("Page.printToPDF", {"printBackground": False, "paperWidth": 8.27,
                                                "paperHeight": 11.69})
    with open(os.path.join(t.logdir, "member-invoice.pdf"), "wb") as f:
        f.write(base64.b64decode(pdf["data"]))
    b.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    # The log grows; checked again, the new checkpoint must extend the one
    # the device kept (a consistency proof from the old size to the new).
    size = b.execute_script("return JSON.parse(localStorage.getItem('coopbill.checkpoint')).size")
    expect(t, d.api("POST", "/api/v1/payments", admin,
                    {"household_id": 2, "amount_minor": 1000, "method": "transfer",
                     "received_on": now.strftime("%Y-%m-%d")}), 201, "the log grows by a payment")
    b.execute_script("document.querySelector('.verdict').remove()")
    b.find_element(By.ID, "verify-again").click()
    t.check(t.wait_for(b, "return document.querySelector('.verdict')?.dataset.verified",
                       "the second check ends", timeout_s=60) == "true" and
            checks_of(b).get("consistency") == "pass" and
            b.execute_script("return JSON.parse(localStorage.getItem('coopbill.checkpoint')).size")
            == size + 1, "checked again, the grown log is consistent with the kept checkpoint",
            b.find_element(By.CSS_SELECTOR, ".verify").text)
    t.check_console(b, "no console errors on the desktop page", unserved)

    # An altered inclusion proof, then another log key, through a proxy (a
    # new origin for the browser, so a device that has seen the first key).
    proxy = Proxy(d.base)
    proxy.mode = "proof"
    p = t.browser(width=1280, height=900, lang="en-US")
    p.get("http://%s:%d/#token=%s" % (lib.LAN_HOST, proxy.port, member))
    t.check(open_invoice(t, p) == "false", "with an altered proof the invoice is not verified")
    checks = checks_of(p)
    t.check(checks.get("inclusion") == "fail" and checks.get("signature") == "pass" and
            checks.get("document") == "pass", "the failed check is named: the inclusion proof",
            repr(checks))
    verdict = p.find_element(By.CSS_SELECTOR, ".verdict").text
    t.check("inclusion proof does not lead" in verdict, "the verdict says what failed", verdict)
    proxy.mode = "key"
    p.refresh()
    t.check(open_invoice(t, p) == "false", "with another key the invoice is not verified")
    warning = p.find_element(By.CSS_SELECTOR, ".key-warning").text
    t.check("the log key has changed" in warning and other_key_line(ORIGIN).strip() in warning and
            pinned in warning, "a loud warning shows the pinned key and the new one", warning)
    checks = checks_of(p)
    t.check(checks.get("key") == "fail", "the key is named as the failed check", repr(checks))
    p.execute_script("document.querySelector('.key-warning').scrollIntoView()")
    t.screenshot(p, "key-warning")
    t.check_console(p, "no console errors with an altered proof or key", unserved)
    p.quit()
    proxy.close()

    # Spanish, on a 375-pixel phone, and English on the same phone.
    for lang, label in (("es-ES", "phone-es"), ("en-US", "phone-en")):
        ph = phone(t, lang)
        ph.get(link)
        t.wait_for(ph, "return document.querySelector('.period-usage')", "the usage shows")
        t.wait_for(ph, "return document.querySelector('.tariff') && "
                       "document.querySelector('#tokens table')", "the page is filled")
        overflow = ph.execute_script("return [innerWidth, document.documentElement.scrollWidth]")
        t.check(overflow == [375, 375], "%s: nothing is wider than the 375-pixel screen" % label,
                "window and page widths %r" % overflow)
        if lang == "es-ES":
            heading = ph.find_element(By.CSS_SELECTOR, "#usage-title").text
            t.check(ph.execute_script("return document.documentElement.lang") == "es" and
                    heading == "Consumo", "the page is in Spanish", heading)
            body = ph.find_element(By.TAG_NAME, "body").text
            t.check("Cerrar sesión en todas partes" in body and "€" in body and
                    "Sign out" not in body, "its words and amounts are Spanish")
            euros = invoice["total_minor"] // 100, invoice["total_minor"] % 100
            open_invoice(t, ph)
            t.check("%d,%02d" % euros in ph.find_element(By.CSS_SELECTOR, ".invoice-doc").text,
                    "amounts have a decimal comma")
            ph.execute_script("window.scrollTo(0, 0)")
        full_page(t, ph, label, 375)
        t.check_console(ph, "%s: no console errors" % label, unserved)

    # Desktop, Spanish, with the language chosen on the page.
    es = t.browser(width=1280, height=900, lang="en-US")
    es.get(link)
    t.wait_for(es, "return document.querySelector('#language')", "the language switch shows")
    es.execute_script("const s = document.querySelector('#language'); s.value = 'es';"
                      "s.dispatchEvent(new Event('change'))")
    t.wait_for(es, "return document.querySelector('#usage-title')?.textContent === 'Consumo'",
               "the page switches to Spanish")
    open_invoice(t, es)
    es.execute_script("window.scrollTo(0, 0)")
    full_page(t, es, "desktop-es", 1280)
    t.check_console(es, "desktop, Spanish: no console errors", unserved)

    # The keyboard alone: Tab to the invoice, Enter opens it.
    k = t.browser(width=1280, height=900, lang="en-US")
    k.get(link)
    t.wait_for(k, "return document.querySelector('.open-invoice')", "the invoice list shows")
    presses = 0
    while presses < 80:
        ActionChains(k).send_keys(Keys.TAB).perform()
        presses += 1
        if k.execute_script("return document.activeElement.classList.contains('open-invoice')"):
            break
    t.check(presses < 80, "Tab reaches the invoice (%d presses)" % presses)
    ActionChains(k).send_keys(Keys.ENTER).perform()
    t.wait_for(k, "return document.activeElement?.id === 'invoice-title'",
               "Enter opens the invoice and moves the focus to it")
    t.check(t.wait_for(k, "return document.querySelector('.verdict')?.dataset.verified",
                       "the check ends", timeout_s=60) == "true",
            "the invoice opened with the keyboard is verified")
    t.check_console(k, "keyboard: no console errors", unserved)

    # One other sign-in revoked from the list, then all of them.
    b.set_window_size(1280, 900)
    b.find_element(By.CSS_SELECTOR, "#tokens button[aria-label='Sign out laptop']").click()
    t.wait_for(b, "return document.querySelector('#tokens [role=status]') && "
                  "![...document.querySelectorAll('#tokens tbody th')]"
                  ".some((th) => th.textContent.startsWith('laptop'))",
               "the revoked sign-in leaves the list")
    reply = d.api("GET", "/api/v1/me", laptop)
    t.check(reply.status == 401, "the API refuses the sign-in revoked from the list", repr(reply))

    # Sign out everywhere, then the API refuses the token.
    b.find_element(By.ID, "sign-out-everywhere").click()
    b.find_element(By.ID, "confirm-everywhere").click()
    t.wait_for(b, "return document.querySelector('#signin-title')", "the sign-in form shows")
    t.check(b.execute_script("return localStorage.getItem('coopbill.token')") is None,
            "the device forgets the token")
    reply = d.api("GET", "/api/v1/me", member)
    t.check(reply.status == 401, "the API refuses the token after signing out everywhere",
            repr(reply))
    t.check_console(b, "no console errors after signing out", unserved)

    # The revoked link opened again in the same tab (only the fragment
    # changes, so the page does not load again): the page shows the API's
    # refusal in its own words.
    b.get(link)
    detail = reply.json()["detail"]
    notice = t.wait_for(b, "const n = document.querySelector('.notice')?.textContent;"
                           "return n && n.includes(%s) && n" % json.dumps(detail),
                        "the refusal shows")
    t.check("#token" not in b.current_url, "a refused sign-in shows the API's detail "
            "and leaves no token in the address bar", notice)
