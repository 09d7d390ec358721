"""The member page's prices, in Chromium on plain HTTP, against a daemon seeded
with twelve households: a tariff in force (with peak windows, an allowance,
tiers, a cap and tax) published before any period was closed, the last two
months' usage imported for every household and the months closed, then an
announced tariff (with cost sharing) published and another proposed. The
member sees the price label of the tariff they follow with its three monthly
costs as the label API gives them and its signature verified (an altered copy
fails the check); the announced tariff's label, whose profiles come from last
month's households; the label printed alone on one A4 and one Letter page;
last month re-priced under the announced tariff, as the reprice API gives it,
line by line, and under a tariff proposed to the members; the proposed and the
announced tariff as proposed changes, each with the household's last two
months and the cooperative's counts as the impact API gives them; the page in
Spanish on a 375-pixel phone. The English and Spanish strings have the same
keys, and nothing is logged to the console. Screenshots go to the log folder."""

import base64
import datetime
import json
import os

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

import lib

UTC = datetime.timezone.utc
COOP_NAME = "Xarxa Oberta del Poble"
HOUSEHOLDS = 12
PROFILES = ("light", "typical", "heavy")


def month_start(day, months=0):
    y, m = divmod(day.month - 1 + months, 12)
    return day.replace(year=day.year + y, month=m + 1, day=1, hour=0, minute=0, second=0,
                       microsecond=0)


def rfc3339(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expect(t, reply, status, what):
    t.check(reply.status == status, what, repr(reply))
    return reply.json() if reply.body else None


def euros(minor, lang):
    """An amount as the page must write it: en-US "€1,234.56", es "1234,56 €"
    (Spanish groups thousands from five digits on)."""
    sign = "-" if minor < 0 else ""
    major, cents = divmod(abs(minor), 100)
    if lang == "en":
        return "%s€%s.%02d" % (sign, "{:,}".format(major), cents)
    whole = "{:,}".format(major).replace(",", ".") if major >= 10000 else str(major)
    return "%s%s,%02d\u00a0€" % (sign, whole, cents)


def seed(t, d, admin, now):
    """Twelve households; the tariff in force published; the last two months'
    usage imported and the months closed; then the announced tariff published
    and another proposed to the members."""
    first = month_start(now, -2)
    previous = month_start(now, -1)
    joined = (first - datetime.timedelta(days=40)).strftime("%Y-%m-%d")
    for i in range(1, HOUSEHOLDS + 1):
        d.api("POST", "/api/v1/households", admin,
              {"name": "Household %d" % i, "joined_at": joined,
               "addresses": ["10.0.%d.10" % i]})
    t.check(len(d.api("GET", "/api/v1/households", admin).json()["households"]) == HOUSEHOLDS,
            "%d households created" % HOUSEHOLDS)
    in_force = {
        "name": "Village standard", "currency": "EUR",
        "valid_from": first.strftime("%Y-%m-%d"),
        "emergency": {"reason": "the cooperative bills for the first time"},
        "fixed_fee": {"amount_minor": 1500, "prorate": True,
                      "description": "Membership and access"},
        "usage_charges": [
            {"name": "Peak download", "direction": "down",
             "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"],
                          "from": "18:00", "to": "23:00"}],
             "allowance_gb": 10,
             "tiers": [{"up_to_gb": 50, "price_per_gb_minor": 50}, {"price_per_gb_minor": 30}]},
            {"name": "Off-peak download", "direction": "down",
             "tiers": [{"price_per_gb_minor": 10}]},
            {"name": "Upload", "direction": "up", "tiers": [{"price_per_gb_minor": 5}]}],
        "cap_minor": 9000,
        "tax": {"rate_bp": 2100, "included": True},
    }
    announced = {
        "name": "Shared costs 2", "currency": "EUR",
        "valid_from": month_start(now, 2).strftime("%Y-%m-%d"),
        "fixed_fee": {"amount_minor": 1000, "prorate": True, "description": "Membership"},
        "usage_charges": [{"name": "Download", "direction": "down", "allowance_gb": 20,
                           "tiers": [{"price_per_gb_minor": 20}]}],
        "cost_sharing": {"categories": ["transit"], "equal_bp": 5000, "direction": "down"},
        "minimum_minor": 1200,
        "tax": {"rate_bp": 2100, "included": False},
    }
    proposed = {
        "name": "Flat proposal", "currency": "EUR",
        "valid_from": month_start(now, 3).strftime("%Y-%m-%d"),
        "fixed_fee": {"amount_minor": 1800, "prorate": True, "description": "Membership"},
        "usage_charges": [{"name": "Download", "direction": "down",
                           "tiers": [{"price_per_gb_minor": 5}]}],
        "tax": {"rate_bp": 2100, "included": True},
    }
    ids = {}
    draft = expect(t, d.api("POST", "/api/v1/tariffs", admin, in_force), 201, "tariff in force drafted")
    expect(t, d.api("POST", "/api/v1/tariffs/%d/publish" % draft["id"], admin), 200,
           "tariff in force published, from %s" % in_force["valid_from"])
    ids["in_force"] = draft["id"]

    # Each household's own amount of traffic, at 9:00, 13:00 and 20:00 (peak)
    # every day of the last two months.
    rows = []
    day = first
    while day < month_start(now):
        for hour, down, up in ((9, 150e6, 20e6), (13, 300e6, 40e6), (20, 900e6, 80e6)):
            bucket = day.replace(hour=hour)
            for household in range(1, HOUSEHOLDS + 1):
                scale = household / 4
                rows.append({"household_id": household, "bucket_start": rfc3339(bucket),
                             "bytes_up": int(up * scale), "bytes_down": int(down * scale)})
        day += datetime.timedelta(days=1)
    for i in range(0, len(rows), 500):
        expect(t, d.api("POST", "/api/v1/usage/import", admin,
                        {"reason": "history from the old meter", "rows": rows[i:i + 500]}),
               201, "usage imported (%d rows)" % len(rows[i:i + 500]))
    for month in (first, previous):
        expect(t, d.api("POST", "/api/v1/expenses", admin,
                        {"period": month.strftime("%Y-%m"), "category": "transit",
                         "amount_minor": 24000, "description": "transit"}), 201,
               "an expense recorded for %s" % month.strftime("%Y-%m"))
        expect(t, d.api("POST", "/api/v1/periods/%s/close" % month.strftime("%Y-%m"), admin),
               200, "%s closed" % month.strftime("%Y-%m"))
    draft = expect(t, d.api("POST", "/api/v1/tariffs", admin, announced), 201,
                   "announced tariff drafted")
    expect(t, d.api("POST", "/api/v1/tariffs/%d/publish" % draft["id"], admin), 200,
           "announced tariff published, from %s" % announced["valid_from"])
    ids["announced"] = draft["id"]
    draft = expect(t, d.api("POST", "/api/v1/tariffs", admin, proposed), 201,
                   "proposed tariff drafted")
    expect(t, d.api("POST", "/api/v1/tariffs/%d/consult" % draft["id"], admin), 200,
           "the tariff is proposed to the members")
    ids["proposed"] = draft["id"]
    return previous.strftime("%Y-%m"), ids


def phone(t, lang):
    b = t.browser(width=375, height=812, lang=lang)
    b.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": 375, "height": 812, "deviceScaleFactor": 2, "mobile": True})
    b.phone = True
    return b


def section_shots(t, b, label, width):
    """A screenshot of each prices section, as tall as the section."""
    for section in ("label", "try", "proposed"):
        height = b.execute_script("const s = document.getElementById('%s');"
                                  "s.scrollIntoView(); return Math.ceil(s.getBoundingClientRect()"
                                  ".height)" % section)
        if getattr(b, "phone", False):
            b.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                              {"width": width, "height": height, "deviceScaleFactor": 1,
                               "mobile": True})
        else:
            b.set_window_size(width, height + 140)
        b.execute_script("document.getElementById('%s').scrollIntoView()" % section)
        t.screenshot(b, "%s-%s" % (label, section))


def label_shown(t, b, tariff_id):
    """Waits for the label of tariff_id and its signature check: the costs
    shown ({profile: (data-minor, text)}) and the check's outcome."""
    t.wait_for(b, "const s = document.querySelector("
                  "`#label .label-doc[data-tariff='%d'] .signature-status[data-verified]`);"
                  "return s && s.dataset.verified" % tariff_id,
               "the label of tariff %d shows and its signature is checked" % tariff_id,
               timeout_s=60)
    return b.execute_script(
        "const doc = document.querySelector(`#label .label-doc[data-tariff='%d']`);"
        "return {costs: Object.fromEntries([...doc.querySelectorAll('strong[data-profile]')]"
        ".map((s) => [s.dataset.profile, [Number(s.dataset.minor), s.textContent]])),"
        "verified: doc.querySelector('.signature-status').dataset.verified,"
        "source: doc.querySelector('.label-source').textContent,"
        "text: doc.textContent}" % tariff_id)


def check_costs(t, shown, label, lang, what):
    for name in PROFILES:
        minor = label["document"]["profiles"][name]["total_minor"]
        got = shown["costs"].get(name)
        t.check(got and got[0] == minor and got[1] == euros(minor, lang),
                "%s: the %s cost is the label API's, %s" % (what, name, euros(minor, lang)),
                repr(got))


with lib.Test("prices", timeout_s=280) as t:
    d = t.start_daemon(extra="[cooperative]\nname = %s\n\n[log]\norigin = coop.test/log\n"
                             % COOP_NAME)
    admin = d.admin_token()
    now = datetime.datetime.now(UTC)
    period, ids = seed(t, d, admin, now)
    member = expect(t, d.api("POST", "/api/v1/households/1/tokens", admin, {"name": "phone"}),
                    201, "a member token issued")["token"]
    link = "%s/#token=%s" % (d.lan_base, member)
    labels = {}
    for key in ("in_force", "announced"):
        tariff_id = ids[key]
        labels[key] = expect(t, d.api("GET", "/api/v1/tariffs/%d/label" % tariff_id), 200,
                             "the label API gives the %s tariff's label" % key)
    t.check(labels["in_force"]["document"]["profiles"]["source"] == "configuration" and
            labels["announced"]["document"]["profiles"]["source"] == "period",
            "the label published before any close has configured profiles, the one after "
            "it profiles from last month's households")
    unserved = d.unserved(ids["in_force"])
    reprice = expect(t, d.api("GET", "/api/v1/households/1/reprice?period=%s&tariff_id=%d"
                              % (period, ids["announced"]), member), 200,
                     "the reprice API re-prices last month under the announced tariff")

    # Desktop, English.
    b = t.browser(width=1280, height=900, lang="en-US")
    b.get(link)
    t.wait_for(b, "return document.querySelector('#label-tariff')", "the label's chooser shows")
    t.check(b.execute_script("return document.querySelector('label[for=label-tariff]') !== null "
                             "&& document.querySelector('#label h2').textContent") == "Price label",
            "the label section is headed and its chooser labelled")
    t.check(Select(b.find_element(By.ID, "label-tariff")).first_selected_option
            .get_attribute("value") == str(ids["in_force"]),
            "the label shown first is the tariff the household follows")
    shown = label_shown(t, b, ids["in_force"])
    t.check(shown["verified"] == "true", "the label's signature is verified", shown["text"][-400:])
    check_costs(t, shown, labels["in_force"], "en", "tariff in force")
    altered = b.execute_async_script(
        "const [label, done] = arguments; label.document.notice_days += 1;"
        "import('/js/verify.js').then((v) => v.verifyLabel(label)).then((r) => done("
        "Object.fromEntries(r.checks.map((c) => [c.name, c.ok]))))", labels["in_force"])
    t.check(altered == {"document": False, "key": True, "signature": False, "entry": True},
            "an altered label fails its hash and signature checks", repr(altered))
    t.check("configured profiles" in shown["source"], "the label says its profiles are the "
            "cooperative's configured ones", shown["source"])
    for part in ("Peak download", "Mon, Tue, Wed, Thu, Fri from 18:00 to 23:00",
                 "the first 10 GB free", "10 to 50 GB at €0.50/GB", "beyond 50 GB at €0.30/GB",
                 "Never more than €90.00 before tax", "Prices include 21% tax", "30 days",
                 COOP_NAME):
        t.check(part in shown["text"], "the label shows %s" % part)

    Select(b.find_element(By.ID, "label-tariff")).select_by_value(str(ids["announced"]))
    shown = label_shown(t, b, ids["announced"])
    t.check(shown["verified"] == "true", "the announced tariff's label is verified")
    check_costs(t, shown, labels["announced"], "en", "announced tariff")
    profiles = labels["announced"]["document"]["profiles"]
    month = datetime.date(int(period[:4]), int(period[5:]), 1).strftime("%B %Y")
    t.check("households in %s (%d households billed)" % (month, profiles["households"])
            in shown["source"] and all(profiles[p]["households"] >= 5 for p in PROFILES),
            "the label says its profiles come from last month's households, at least 5 each",
            shown["source"])
    t.check("an estimate" in shown["text"], "the label says its shared costs are an estimate")

    # Printed: the label alone, on one page of A4 and of Letter. Printing
    # ends with afterprint (printToPDF sends it too), so each is asked for
    # with the button (hidden on paper, so pressed from the script).
    b.execute_script("window.print = () => { window.printed = (window.printed || 0) + 1; }")
    b.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    for paper, size in (("A4", (8.27, 11.69)), ("Letter", (8.5, 11))):
        b.execute_script("document.getElementById('print-label').click()")
        visible = b.execute_script(
            "return [...document.querySelectorAll('main > *, header#top')]"
            ".filter((e) => getComputedStyle(e).display !== 'none').map((e) => e.id)")
        t.check(visible == ["label"], "printed, the page is the label alone", repr(visible))
        pdf = base64.b64decode(b.execute_cdp_cmd("Page.printToPDF", {
            "paperWidth": size[0], "paperHeight": size[1]})["data"])
        with open(os.path.join(t.logdir, "prices-label-%s.pdf" % paper), "wb") as f:
            f.write(pdf)
        pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
        t.check(pages == 1, "the label prints on one %s page" % paper, "%d pages" % pages)
    t.check(b.execute_script("return window.printed") == 2, "the print button prints")
    b.execute_script("document.getElementById('print-label').click(); window.scrollTo(0, 0)")
    b.set_window_size(800, 1100)
    t.screenshot(b, "label-print")
    b.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    b.execute_script("window.dispatchEvent(new Event('afterprint'))")

    # Last month under the announced tariff, beside what was paid.
    b.set_window_size(1280, 900)
    t.wait_for(b, "return document.querySelector('#try-tariff')", "the tariff to try can be chosen")
    Select(b.find_element(By.ID, "try-tariff")).select_by_value(str(ids["announced"]))
    b.find_element(By.ID, "try-go").click()
    result = t.wait_for(b, "const r = document.querySelector('.try-result');"
                           "return r && {repriced: Number(r.querySelector('.repriced-total').dataset.minor),"
                           "paid: Number(r.querySelector('.paid-total').dataset.minor),"
                           "difference: Number(r.dataset.difference), text: r.textContent,"
                           "shown: r.querySelector('.repriced-total').textContent}",
                        "the re-priced month shows", timeout_s=60)
    t.check(result["repriced"] == reprice["repriced"]["total_minor"] and
            result["shown"] == euros(reprice["repriced"]["total_minor"], "en"),
            "the re-priced total is the reprice API's", repr(result))
    t.check(result["paid"] == reprice["invoice"]["total_minor"] and
            result["difference"] == reprice["difference_minor"],
            "what was paid and the difference are the API's")
    for doc in (reprice["invoice"], reprice["repriced"]):
        for line in doc["lines"]:
            t.check(line["description"] in result["text"] and line["explain"] in result["text"],
                    "the comparison shows %s with its explanation" % line["description"])

    # The proposed tariff tried too: members may re-price under it.
    proposed_reprice = expect(t, d.api("GET", "/api/v1/households/1/reprice?period=%s&tariff_id=%d"
                                       % (period, ids["proposed"]), member), 200,
                              "the reprice API re-prices last month under the proposed tariff")
    Select(b.find_element(By.ID, "try-tariff")).select_by_value(str(ids["proposed"]))
    b.find_element(By.ID, "try-go").click()
    shown = t.wait_for(b, "const r = document.querySelector(`.try-result[data-tariff='%d']`);"
                          "return r && Number(r.querySelector('.repriced-total').dataset.minor)"
                       % ids["proposed"], "the month re-priced under the proposed tariff shows",
                       timeout_s=60)
    t.check(shown == proposed_reprice["repriced"]["total_minor"],
            "under the proposed tariff, the re-priced total is the reprice API's", repr(shown))

    # Proposed changes: the proposed tariff and the announced one, each with
    # this household's months and the cooperative's counts from the impact.
    changes = t.wait_for(b, "const c = [...document.querySelectorAll('#proposed article.change')];"
                            "return c.length && c.map((a) => [Number(a.dataset.tariff), a.className])",
                         "the proposed changes show")
    t.check(changes == [[ids["proposed"], "change proposed"], [ids["announced"], "change upcoming"]],
            "the proposed tariff and the announced one are listed, the proposed first",
            repr(changes))
    announced_label = t.wait_for(
        b, "return document.querySelector(`#proposed .change[data-tariff='%d'] .label-doc "
           ".signature-status[data-verified]`)?.dataset.verified" % ids["announced"],
        "the announced tariff's label shows in its change", timeout_s=60)
    t.check(announced_label == "true", "the announced change shows its verified label")
    terms = b.execute_script("return document.querySelector(`#proposed .change[data-tariff='%d']`)"
                             ".textContent" % ids["proposed"])
    t.check("Flat proposal" in terms and "€18.00 per month" in terms and "€0.05/GB" in terms,
            "the proposed change shows its terms", terms[:300])
    for key in ("proposed", "announced"):
        if "/impact" in unserved:
            text = t.wait_for(b, "return document.querySelector(`#proposed .change[data-tariff='%d'] "
                                 ".impact .unavailable`)?.textContent" % ids[key],
                              "the %s change says its effect is not available" % key)
            t.check("cannot be shown" in text, "without the impact route, the %s change says its "
                    "effect is not available" % key, text)
            continue
        impact = expect(t, d.api("GET", "/api/v1/tariffs/%d/impact" % ids[key], member), 200,
                        "the impact API answers the member for the %s tariff" % key)
        t.check("households" not in impact and
                all(set(row) == {"period", "invoice_minor", "repriced_minor", "difference_minor"}
                    for row in impact["mine"]),
                "the member's impact has their own rows and aggregates only")
        shown = t.wait_for(b, "const a = document.querySelector(`#proposed .change[data-tariff='%d']`);"
                              "const rows = [...a.querySelectorAll('table.mine tbody tr')];"
                              "return rows.length && {mine: rows.map((r) => [r.querySelector('th')"
                              ".dataset.period, Number(r.querySelector('.difference').dataset.minor)]),"
                              "counts: Object.fromEntries([...a.querySelectorAll('[data-outcome]')]"
                              ".map((c) => [c.dataset.outcome, Number(c.dataset.count)])),"
                              "revenue: Number(a.querySelector('.repriced-revenue').dataset.minor),"
                              "median: Number(a.querySelector(\"[data-quantile='p50']\").dataset.minor)}"
                           % ids[key], "the %s change's effect shows" % key, timeout_s=60)
        t.check(shown["mine"] == [[r["period"], r["difference_minor"]] for r in impact["mine"]] and
                len(shown["mine"]) == 2,
                "the %s change shows the household's two closed months as the impact API "
                "gives them" % key, repr(shown["mine"]))
        t.check(shown["counts"] == {o: impact[o]["count"] for o in ("more", "less", "same")} and
                sum(shown["counts"].values()) == impact["invoices"] == 2 * HOUSEHOLDS,
                "the %s change shows how many invoices would be higher, lower and the same, as "
                "the impact API counts them" % key, repr(shown["counts"]))
        t.check(shown["revenue"] == impact["repriced_revenue_minor"] and
                shown["median"] == impact["difference_quantiles_minor"]["p50"],
                "the %s change shows the impact API's revenue and median change" % key)
    section_shots(t, b, "desktop-en", 1280)
    t.check_console(b, "no console errors on the desktop page", unserved)

    # The strings of both languages have the same keys.
    keys = b.execute_async_script(
        "const done = arguments[0];"
        "Promise.all([import('/js/i18n/en.js'), import('/js/i18n/es.js')]).then(([en, es]) => "
        "done([Object.keys(en.default).sort(), Object.keys(es.default).sort()]))")
    t.check(keys[0] == keys[1], "English and Spanish have the same strings",
            repr(set(keys[0]) ^ set(keys[1])))

    # Spanish, on a 375-pixel phone.
    ph = phone(t, "es-ES")
    ph.get(link)
    shown = label_shown(t, ph, ids["in_force"])
    check_costs(t, shown, labels["in_force"], "es", "Spanish")
    t.check("Firmada por la cooperativa" in shown["text"], "the label is in Spanish")
    t.wait_for(ph, "return document.querySelector('#label h2')?.textContent === "
                   "'Etiqueta de precios'", "the page is in Spanish")
    Select(ph.find_element(By.ID, "try-tariff")).select_by_value(str(ids["announced"]))
    ph.find_element(By.ID, "try-go").click()
    shown = t.wait_for(ph, "return document.querySelector('.try-result .repriced-total')?.textContent",
                       "the re-priced month shows", timeout_s=60)
    t.check(shown == euros(reprice["repriced"]["total_minor"], "es"),
            "the re-priced total is in Spanish", shown)
    t.wait_for(ph, "return !document.querySelector('[aria-busy]')", "the page is filled",
               timeout_s=60)
    overflow = ph.execute_script("return [innerWidth, document.documentElement.scrollWidth]")
    t.check(overflow == [375, 375], "nothing is wider than the 375-pixel screen",
            "window and page widths %r" % overflow)
    scrolled = ph.execute_script(
        "return [...document.querySelectorAll('#label .table-wrap, #try .table-wrap, "
        "#proposed .table-wrap')].filter((w) => w.scrollWidth > w.clientWidth)"
        ".map((w) => [w.querySelector('caption').textContent, w.scrollWidth, w.clientWidth])")
    t.check(not scrolled, "every table of the prices fits the phone's width without scrolling",
            repr(scrolled))
    section_shots(t, ph, "phone-es", 375)
    t.check_console(ph, "no console errors on the Spanish phone", unserved)
