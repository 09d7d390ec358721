#!/usr/bin/env python3
"""The manual pages: `man --warnings` has nothing to say about them, they have
the sections of man-pages(7), meson installs them, and they cannot drift from
the code. Every option and command that `coopbilld --help` and
`coopbill-verify --help` print is in the program's page; coopbill.conf(5)
documents exactly the sections and keys of src/base/config.c's key table, each
under its section, with the range and the default that the daemon itself
states when it refuses a bad value for that key.

Environment (set by tests/meson.build): COOPBILL_SRCDIR, COOPBILL_BUILDDIR,
COOPBILLD, COOPBILL_VERIFY. Exits 77 when man (man-db) is not installed;
scripts/test installs it (scripts/deps.sh)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRCDIR = os.environ["COOPBILL_SRCDIR"]
BUILDDIR = os.environ["COOPBILL_BUILDDIR"]
COOPBILLD = os.environ["COOPBILLD"]
COOPBILL_VERIFY = os.environ["COOPBILL_VERIFY"]

PAGES = {"coopbilld.8": COOPBILLD, "coopbill-verify.1": COOPBILL_VERIFY, "coopbill.conf.5": None}
# man-pages(7)'s sections; a configuration file has no options or exit status.
SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "FILES", "EXAMPLES",
            "SEE ALSO"]
FILE_FORMAT_SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "FILES", "EXAMPLES", "SEE ALSO"]

failures = []
passed = 0


def fail(message):
    failures.append(message)
    print("FAIL: " + message, file=sys.stderr)


def ok(message):
    global passed
    passed += 1
    print("ok %d - %s" % (passed, message))


def run(args, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run(args, capture_output=True, text=True, env=env)


def rendered(path):
    """The page as a reader sees it, in ASCII, on one line per paragraph
    (MANWIDTH is wide), with bold and underline removed and spaces collapsed."""
    out = run(["man", "-l", path], {"LC_ALL": "C", "MANWIDTH": "400", "MANPAGER": "cat"}).stdout
    out = re.sub(r".\x08", "", out)
    return " ".join(out.split())


ROFF_ESCAPES = [(r"\-", "-"), (r"\e", "\\"), (r"\(->", "->"), (r"\(em", "--"), (r"\&", ""),
                (r"\fB", ""), (r"\fI", ""), (r"\fR", ""), (r"\fP", "")]


def roff_text(lines):
    """The words of some lines of man(7) source: font macros' arguments joined
    as groff joins them, other requests dropped, escapes replaced."""
    words = []
    for line in lines:
        if line.startswith('.\\"'):
            continue
        if line.startswith("."):
            macro, _, rest = line[1:].partition(" ")
            args = [a or b for a, b in re.findall(r'"([^"]*)"|(\S+)', rest)]
            if macro in ("B", "I"):
                words.append(" ".join(args))
            elif macro in ("BR", "RB", "IR", "RI", "BI", "IB"):
                words.append("".join(args))
            continue
        words.append(line)
    text = " ".join(words)
    for escape, plain in ROFF_ESCAPES:
        text = text.replace(escape, plain)
    return " ".join(text.split())


def documented_keys(path):
    """{(section, key): the words of its paragraph} from coopbill.conf(5): a
    key is a `.TP` tag `.B key` under a `.SS [section]` heading."""
    keys = {}
    section = None
    lines = open(path, encoding="utf-8").read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(".SH"):
            section = None
        heading = re.fullmatch(r"\.SS \[(\w+)\]", line)
        if heading:
            section = heading.group(1)
        if section and line == ".TP" and i + 1 < len(lines):
            tag = re.fullmatch(r"\.B (\w+)", lines[i + 1])
            if tag:
                end = i + 2
                while end < len(lines) and not re.match(r"\.(TP|SS|SH|PP)\b", lines[end]):
                    end += 1
                keys[(section, tag.group(1))] = roff_text(lines[i + 2:end])
                i = end
                continue
        i += 1
    return keys


def code_keys():
    """[(section, key)] of the key table in src/base/config.c."""
    source = open(os.path.join(SRCDIR, "src/base/config.c"), encoding="utf-8").read()
    keys = re.findall(r'\[CONFIG_KEY_\w+\]\s*=\s*(?:\{|TEXT_KEY\()\s*"(\w+)",\s*"(\w+)"', source)
    enum = re.search(r"enum config_key_id \{(.*?)\};", source, re.S).group(1)
    ids = [i for i in re.findall(r"(CONFIG_KEY_\w+)", enum) if i != "CONFIG_KEY_COUNT"]
    if len(keys) != len(ids):
        fail("src/base/config.c: read %d keys from the key table but the enum has %d; "
             "update this test's pattern" % (len(keys), len(ids)))
    return keys


def stated_limits(section, key, workdir):
    """What coopbilld --check-config says when the key has the value "@",
    such as "... write a number from 1 to 3600 (default 60)"."""
    config = os.path.join(workdir, "bad.conf")
    with open(config, "w", encoding="utf-8") as f:
        f.write("[%s]\n%s = @\n" % (section, key))
    result = run([COOPBILLD, "--check-config", "--config", config])
    # Free text, such as [cooperative] name, takes "@" as it is.
    return result.stderr if result.returncode == 1 else ""


def main():
    if not shutil.which("man"):
        print("SKIP: man is not installed (Debian's man-db; scripts/test installs it)")
        return 77

    built = {name: os.path.join(BUILDDIR, "man", name) for name in PAGES}
    installed = json.loads(run(["meson", "introspect", "--installed", BUILDDIR]).stdout or "{}")
    for name, path in built.items():
        if not os.path.isfile(path):
            fail("%s was not built (man/meson.build)" % name)
            continue
        section = name.rsplit(".", 1)[1]
        dest = installed.get(path, "")
        if not dest.endswith("/man%s/%s" % (section, name)):
            fail("%s: meson does not install it into man%s (installs it as %r)" %
                 (name, section, dest))
        else:
            ok("%s: meson installs it as %s" % (name, dest))

        # lintian's own check: any warning of groff or man is one too many.
        check = run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path],
                    {"LC_ALL": "C.UTF-8", "MANROFFSEQ": "", "MANWIDTH": "80"})
        if check.returncode != 0 or check.stderr.strip():
            fail("%s: man --warnings says:\n%s" % (name, check.stderr.strip()))
        else:
            ok("%s: man --warnings has nothing to say" % name)

        source = open(path, encoding="utf-8").read()
        headings = re.findall(r"^\.SH (.+)$", source, re.M)
        headings = [h.strip('"') for h in headings]
        wanted = FILE_FORMAT_SECTIONS if section == "5" else SECTIONS
        missing = [s for s in wanted if s not in headings]
        if missing:
            fail("%s: lacks the sections %s" % (name, ", ".join(missing)))
        else:
            ok("%s: has the sections %s" % (name, ", ".join(wanted)))

    # Every option and command of the programs' --help is in their page.
    for name, program in PAGES.items():
        if not program or not os.path.isfile(built[name]):
            continue
        help_text = run([program, "--help"]).stdout
        options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[A-Za-z])(?=[\s,=])", help_text))
        commands = set(re.findall(r"^  (token [a-z]+)", help_text, re.M))
        if len(options) < 4:
            fail("%s --help: found only %s; update this test's pattern" % (program, options))
        page = rendered(built[name])
        absent = sorted(o for o in options | commands if o not in page)
        if absent:
            fail("%s: lacks what --help lists: %s" % (name, ", ".join(absent)))
        else:
            ok("%s: has every option%s of --help (%d)" %
               (name, " and command" if commands else "", len(options | commands)))

    # coopbill.conf(5) and the key table: the same keys, the same limits.
    conf_page = built["coopbill.conf.5"]
    if os.path.isfile(conf_page):
        documented = documented_keys(conf_page)
        keys = code_keys()
        undocumented = ["[%s] %s" % k for k in keys if k not in documented]
        stale = ["[%s] %s" % k for k in documented if k not in keys]
        if undocumented:
            fail("coopbill.conf.5: lacks the keys %s" % ", ".join(undocumented))
        if stale:
            fail("coopbill.conf.5: documents keys the daemon does not have: %s" %
                 ", ".join(stale))
        if not undocumented and not stale:
            ok("coopbill.conf.5: documents the %d keys of the key table, each under its "
               "section" % len(keys))
        checked = 0
        with tempfile.TemporaryDirectory() as workdir:
            for section, key in keys:
                message = stated_limits(section, key, workdir)
                paragraph = documented.get((section, key))
                if not message or paragraph is None:
                    continue
                needs = []
                limits = re.search(r"write a number from (\d+) to (\d+)", message)
                if limits:
                    needs.append("%s to %s" % limits.groups())
                if "write true or false" in message:
                    needs.append("true or false")
                default = re.search(r"\(default ([^)]+)\)", message)
                if default:
                    needs.append("default " + default.group(1))
                for need in needs:
                    # Whole words: "default 30" is not in "default 300".
                    if not re.search(r"(?<![\w/.])%s(?![\w/])" % re.escape(need.lower()),
                                     paragraph.lower()):
                        fail("coopbill.conf.5: [%s] %s should say %r, as the daemon does: %s" %
                             (section, key, need, message.strip()))
                checked += bool(needs)
        if checked < 15:
            fail("coopbill.conf.5: only %d keys had a range or default to check; the daemon's "
                 "messages changed: update this test" % checked)
        else:
            ok("coopbill.conf.5: the range and default of %d keys are those the daemon states"
               % checked)

    print("%d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
