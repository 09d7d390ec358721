"""Shared by the browser tests: a daemon on a free loopback port, the API,
headless Chromium driven by Selenium, console checks and screenshots.

The whole surface:

    import lib

    with lib.Test("member", timeout_s=240) as t:   # one per test script
        d = t.start_daemon(server="public_url = ...", extra="[log]\\norigin = x")
        # (it serves the page from the source tree's www/, or from www=DIR)
        admin = d.admin_token()                   # coopbilld token create --role admin
        r = d.api("POST", "/api/v1/households", admin, {"name": "Garcia", ...})
        r.status, r.headers, r.body (bytes), r.text, r.json()
        d.cli("token", "list")                    # coopbilld --config ... ARGS: stdout
        d.base                                    # http://127.0.0.1:PORT (a secure context)
        d.lan_base                                # http://coop.test:PORT (not one)
        d.stop(); d.start()                       # SIGTERM (stop returns the exit code); again
        d.config, d.db, d.log_path, t.tmp         # its files; the test's temporary folder
        lib.request("GET", url, token, body)      # any URL; lib.free_port() for a proxy
        port = t.serve(directory)                 # a static server on 127.0.0.1:port
        b = t.browser(width=375, height=812, lang="es")  # a Selenium WebDriver
        b.get(d.lan_base + "/")
        t.wait_for(b, "return document.title != ''", what="the page loads")
        t.screenshot(b, "phone")                  # <log dir>/<test>-phone.png
        t.check_console(b, "no console errors")   # fails on any SEVERE message
        d.unserved(tariff_id)                     # routes not served yet, for check_console
        t.console(b)                              # every console message so far
        t.ok("what was checked")                  # prints "ok N - what"
        t.check(cond, "what", "detail on failure")
        t.fail("what went wrong")                 # raises; the test ends with exit 1

On leaving the with block, everything started is stopped (browsers, daemons,
static servers) and the temporary folder removed, also after a failure or
the timeout. The test then exits 0 with "N passed, 0 failed", or 1 after a
"FAIL: ..." line with the tail of the daemon's log. Screenshots and the
daemon logs are kept in the log folder: $COOPBILL_BROWSER_LOGDIR, else
$COOPBILL_BUILDDIR/meson-logs/browser.

Environment (set by meson, tests/meson.build): COOPBILLD (the daemon),
COOPBILL_SRCDIR, COOPBILL_BUILDDIR.
"""

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common import utils as selenium_utils
except ImportError:
    print("FAIL: selenium is not importable by %s; install python3-selenium "
          "(scripts/deps.sh)" % sys.executable)
    sys.exit(1)

# A name that is not loopback, so that a page opened with it is not a
# secure context (as on a cooperative's LAN); Chromium maps it to 127.0.0.1.
LAN_HOST = "coop.test"


class LoopbackService(Service):
    """chromedriver reached at 127.0.0.1 rather than by the name localhost,
    which a bare system without /etc/hosts cannot resolve."""

    @property
    def service_url(self):
        return "http://127.0.0.1:%d" % self.port

    def is_connectable(self):
        return selenium_utils.is_connectable(self.port, "127.0.0.1")


class Failure(Exception):
    pass


class Reply:
    """An HTTP answer: status, headers (case-insensitive), body bytes."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "HTTP %d: %s" % (self.status, self.body[:400].decode("utf-8", "replace"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(method, url, token=None, body=None, headers=None, timeout_s=30):
    """One HTTP request; any status is an answer, not an exception. A body
    that is not bytes or str is sent as JSON."""
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = "Bearer " + token
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode("utf-8")
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as answer:
            return Reply(answer.status, answer.headers, answer.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read())


class Daemon:
    """A coopbilld with its own config and database in the test's folder."""

    def __init__(self, test, name, server, extra, www):
        self.test = test
        self.dir = tempfile.mkdtemp(prefix=name + ".", dir=test.tmp)
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.lan_base = "http://%s:%d" % (LAN_HOST, self.port)
        self.config = os.path.join(self.dir, "coopbill.conf")
        self.db = os.path.join(self.dir, "coopbill.db")
        self.log_path = os.path.join(self.dir, "daemon.log")
        self.process = None
        with open(self.config, "w") as f:
            f.write("[server]\nlisten = 127.0.0.1:%d\nwww = %s\n%s\n\n" % (self.port, www, server))
            f.write("[database]\npath = %s\n\n" % self.db)
            # The browser tests run in the host's network namespace: no nftables.
            f.write("[meter]\nenabled = false\n\n")
            f.write("[billing]\ncurrency = EUR\ntimezone = UTC\n\n")
            f.write(extra + "\n")

    def start(self):
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen([self.test.coopbilld, "--config", self.config],
                                        stdin=subprocess.DEVNULL, stdout=self.log,
                                        stderr=self.log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.test.fail("coopbilld exited during start-up (%d)" % self.process.returncode)
            try:
                # Any answer will do: a daemon that refuses to serve still answers 503.
                request("GET", self.base + "/healthz", timeout_s=2)
                return self
            except OSError:
                time.sleep(0.1)
        self.test.fail("coopbilld did not answer within 10 s")

    def stop(self):
        """SIGTERM and wait; returns the exit code (kill -9 after 10 s)."""
        if not self.process:
            return None
        self.process.terminate()
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process = None
        self.log.close()
        return code

    def cli(self, *args):
        """coopbilld --config CONFIG ARGS...: its stdout, stripped; fails the
        test when it exits non-zero."""
        done = subprocess.run([self.test.coopbilld, "--config", self.config, *args],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        if done.returncode != 0:
            self.test.fail("coopbilld %s: exit %d: %s" % (" ".join(args), done.returncode,
                                                          done.stderr.decode(errors="replace")))
        return done.stdout.decode().strip()

    def admin_token(self, name="treasurer"):
        return self.cli("token", "create", "--role", "admin", "--name", name)

    def api(self, method, path, token=None, body=None, headers=None):
        return request(method, self.base + path, token, body, headers)

    def unserved(self, tariff_id):
        """The routes of the member page's prices that this daemon does not
        serve yet, as parts of their URLs for Test.check_console: a price
        label (asked of a published tariff_id), proposed tariffs and their
        impact."""
        missing = []
        if self.api("GET", "/api/v1/tariffs/%d/label" % tariff_id).status == 404:
            missing.append("/label")
        if self.api("GET", "/api/v1/tariffs?status=proposed").status == 400:
            missing.append("status=proposed")
        # Served, the route refuses a request without a token (401).
        if self.api("GET", "/api/v1/tariffs/%d/impact" % tariff_id).status == 404:
            missing.append("/impact")
        return missing

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    # Module scripts must be served as JavaScript, whatever the system's mime table says.
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".mjs": "text/javascript",
                      ".json": "application/json"}

    def log_message(self, *args):
        pass


class Test:
    """One browser test: results, temporary folder, and cleanup."""

    def __init__(self, name, timeout_s=240):
        self.name = name
        self.timeout_s = timeout_s
        self.passed = 0
        self.coopbilld = os.environ.get("COOPBILLD", "")
        self.srcdir = os.environ.get("COOPBILL_SRCDIR",
                                     os.path.dirname(os.path.dirname(os.path.dirname(
                                         os.path.abspath(__file__)))))
        logdir = os.environ.get("COOPBILL_BROWSER_LOGDIR")
        if not logdir:
            builddir = os.environ.get("COOPBILL_BUILDDIR", os.path.join(self.srcdir, "build"))
            logdir = os.path.join(builddir, "meson-logs", "browser")
        self.logdir = logdir
        self.tmp = None
        self._daemons = []
        self._browsers = []
        self._servers = []

    # Results.

    def ok(self, what):
        self.passed += 1
        print("ok %d - %s" % (self.passed, what), flush=True)

    def fail(self, what):
        raise Failure(what)

    def check(self, condition, what, detail=""):
        if not condition:
            self.fail(what + (": " + detail if detail else ""))
        self.ok(what)

    # Context: set up, and tear everything down whatever happens.

    def __enter__(self):
        if not self.coopbilld:
            print("FAIL: COOPBILLD must name the coopbilld binary")
            sys.exit(1)
        os.makedirs(self.logdir, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix="coopbill-browser.")

        def timed_out(signum, frame):
            raise Failure("the test did not finish within %d s" % self.timeout_s)

        signal.signal(signal.SIGALRM, timed_out)
        # SIGTERM (meson's own timeout) also ends in cleanup.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))
        signal.alarm(self.timeout_s)
        return self

    def __exit__(self, kind, error, tb):
        signal.alarm(0)
        failed = kind is not None
        if failed:
            if kind is Failure:
                print("FAIL: %s" % error, flush=True)
            elif kind is not SystemExit:
                print("FAIL: %s: %s" % (kind.__name__, error), flush=True)
                traceback.print_exception(kind, error, tb)
            for daemon in self._daemons:
                tail = daemon.log_tail()
                if tail:
                    print("--- daemon log (last 20 lines) ---\n" + tail, end="", flush=True)
        self._cleanup()
        if failed:
            sys.exit(1)
        print("%d passed, 0 failed" % self.passed, flush=True)
        sys.exit(0)

    def _cleanup(self):
        for browser in self._browsers:
            try:
                browser.quit()
            except Exception:
                pass
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for i, daemon in enumerate(self._daemons):
            try:
                daemon.stop()
            except Exception:
                if daemon.process:
                    daemon.process.kill()
            shutil.copy(daemon.log_path,
                        os.path.join(self.logdir, "%s-daemon%d.log" % (self.name, i + 1)))
        shutil.rmtree(self.tmp, ignore_errors=True)

    # Daemons, servers, browsers.

    def start_daemon(self, server="", extra="", www=None):
        """A coopbilld on a free loopback port: server is extra lines for its
        [server] section, extra whole sections appended to its config; it
        serves the page from www, by default the source tree's www/."""
        daemon = Daemon(self, "daemon%d" % (len(self._daemons) + 1), server, extra,
                        www or os.path.join(self.srcdir, "www"))
        self._daemons.append(daemon)
        return daemon.start()

    def serve(self, directory):
        """A static file server for directory on a free loopback port;
        returns its port."""
        handler = lambda *args: _QuietHandler(*args, directory=directory)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server.server_address[1]

    def browser(self, width=1280, height=900, lang="en-US"):
        """Headless Chromium with a fresh profile; console messages of every
        level are kept for check_console."""
        options = webdriver.ChromeOptions()
        chromium = shutil.which("chromium")
        driver_path = shutil.which("chromedriver")
        if not chromium or not driver_path:
            self.fail("chromium and chromedriver are needed: install chromium and "
                      "chromium-driver (scripts/deps.sh)")
        options.binary_location = chromium
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--no-first-run", "--remote-debugging-pipe",
                    "--user-data-dir=" + tempfile.mkdtemp(prefix="profile.", dir=self.tmp),
                    "--window-size=%d,%d" % (width, height),
                    "--host-resolver-rules=MAP %s 127.0.0.1" % LAN_HOST,
                    "--lang=" + lang):
            options.add_argument(arg)
        options.add_experimental_option("prefs", {"intl.accept_languages": lang})
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        try:
            browser = webdriver.Chrome(service=LoopbackService(driver_path), options=options)
        except WebDriverException as error:
            self.fail("chromium did not start: %s" % error.msg)
        browser.set_page_load_timeout(30)
        browser.set_script_timeout(60)
        browser.console = []
        self._browsers.append(browser)
        return browser

    # Browser checks.

    def console(self, browser):
        """All console messages so far (dicts with level, message), kept across calls."""
        browser.console.extend(browser.get_log("browser"))
        return browser.console

    def check_console(self, browser, what="no errors in the console", unserved=()):
        """Fails on any SEVERE message but the browser's notes of requests to
        routes this daemon does not serve (unserved: parts of their URLs, as
        Daemon.unserved gives them), which the page answers in words."""
        errors = [m["message"] for m in self.console(browser) if m["level"] == "SEVERE" and not (
            "Failed to load resource" in m["message"] and any(u in m["message"] for u in unserved))]
        self.check(not errors, what, "\n  ".join([""] + errors))

    def wait_for(self, browser, script, what, timeout_s=15):
        """Polls a JavaScript expression ("return ...") until it is truthy;
        returns its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = browser.execute_script(script)
            if value:
                return value
            if time.monotonic() > deadline:
                self.fail("%s: not within %d s" % (what, timeout_s))
            time.sleep(0.1)

    def screenshot(self, browser, label):
        path = os.path.join(self.logdir, "%s-%s.png" % (self.name, label))
        browser.save_screenshot(path)
        return path
