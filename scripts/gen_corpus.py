#!/usr/bin/env python3
"""Writes the bad-input corpus of tests/corpus.rs into tests/corpus/.

    python3 scripts/gen_corpus.py          # from the repository root

Deterministic: the same script writes the same bytes. It (re)creates
  tests/corpus/flows/<name>.toml     malformed flow files
  tests/corpus/flows.tsv             name, expected line (0 = about the whole file),
                                     a piece of the expected message, description
  tests/corpus/payloads/<name>.json  malformed payload files
  tests/corpus/payloads.tsv          name, description
Flow files too large to keep in git (over the 4 MiB limit) are made by the test itself.

In a flow text below, `@@` marks where the error is; it is removed and its line becomes
the expected line.
"""

import os
import shutil

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "corpus")
MARK = "@@"

flows = []  # (name, bytes, line, needle, description)
names = set()


def add(name, text, needle, desc, line=None):
    """Adds a flow case; `text` is str (with one @@ marker unless `line` is given) or bytes."""
    assert name not in names, name
    names.add(name)
    if isinstance(text, str):
        if line is None:
            assert text.count(MARK) == 1, (name, text[:200])
            before = text.split(MARK)[0]
            line = before.count("\n") + 1
        text = text.replace(MARK, "")
        data = text.encode("utf-8")
    else:
        data = text
        assert line is not None, name
    assert "\t" not in needle and "\n" not in needle and "\t" not in desc, name
    flows.append((name, data, line, needle, desc))


def step(kind, body, sid="s"):
    return f'[[steps]]\nid = "{sid}"\nkind = "{kind}"\n{body}'


# A valid minimal body per kind (its required options).
REQUIRED = {
    "read": 'path = "data/*.json"\n',
    "write": 'path = "out/{n}.json"\n',
    "http": 'url = "http://127.0.0.1:9/x"\n',
    "command": 'run = ["true"]\n',
    "map": "jq = '.'\n",
    "filter": "jq = 'true'\n",
    "assert": "jq = 'true'\n",
    "split": "size = 1\n",
    "merge": "",
    "dedupe": "key = '.id'\n",
}
KINDS = list(REQUIRED)
GOOD = step("map", "jq = '.'\n", "ok")

# ---------------------------------------------------------------------------------
# TOML syntax errors: otherwise valid flows.
syntax = [
    ("unclosed-basic-string", 'description = @@"never closed\n' + GOOD),
    ("unclosed-literal-string", "description = @@'never closed\n" + GOOD),
    ("unclosed-multiline-basic", GOOD + 'description = """\nline\n@@'),
    ("unclosed-multiline-literal", GOOD + "description = '''\nline\n@@"),
    ("unclosed-array", step("command", '@@run = ["a", "b"\n')),
    ("unclosed-inline-table", step("http", 'url = "http://x/"\n@@headers = { A = "b"\n')),
    ("missing-equals", step("map", "@@jq '.'\n")),
    ("missing-value", step("map", "jq = @@\n")),
    ("missing-key", GOOD + "@@= 1\n"),
    ("duplicate-key", step("map", "jq = '.'\n@@jq = '.a'\n")),
    ("duplicate-table", "[settings]\ntimeout = \"1m\"\n@@[settings]\ntimeout = \"2m\"\n" + GOOD),
    ("table-redefines-array", GOOD + "@@[steps]\nid = \"x\"\n"),
    ("array-of-tables-after-value", "steps = []\n@@" + GOOD),
    ("bad-escape", 'description = "a @@\\q b"\n' + GOOD),
    ("bad-unicode-escape", 'description = "@@\\uZZZZ"\n' + GOOD),
    ("surrogate-escape", 'description = "@@\\uD800"\n' + GOOD),
    ("escape-out-of-range", 'description = "@@\\U00110000"\n' + GOOD),
    ("newline-in-basic-string", 'description = "one@@\ntwo"\n' + GOOD),
    ("control-char-in-string", 'description = "a@@\x01b"\n' + GOOD),
    ("control-char-in-comment", "# a comment @@\x07 bell\n" + GOOD),
    ("nul-in-file", "description = @@\x00\n" + GOOD),
    ("bare-key-with-space", "@@my key = 1\n" + GOOD),
    ("two-values", step("split", "size = 1 @@2\n")),
    ("bool-typo", step("filter", "jq = '.'\nkeep_empty = @@tru\n")),
    ("bool-capital", step("filter", "jq = '.'\nkeep_empty = @@True\n")),
    ("number-double-underscore", step("split", "size = @@1__0\n")),
    ("number-leading-zero", step("split", "size = @@007\n")),
    ("number-trailing-underscore", step("split", "size = @@10_\n")),
    ("number-trailing-dot", "[settings]\nmax_payload_bytes = @@1.\n" + GOOD),
    ("number-leading-dot", "[settings]\nmax_payload_bytes = @@.5\n" + GOOD),
    ("bad-date", "description = @@1979-13-01\n" + GOOD),
    ("bad-time", "description = @@07:61:00\n" + GOOD),
    ("header-unclosed", "@@[[steps]\nid = \"a\"\nkind = \"merge\"\n"),
    ("header-mismatched", "@@[steps]]\nid = \"a\"\nkind = \"merge\"\n"),
    ("header-empty", "@@[]\n" + GOOD),
    ("header-trailing-dot", "@@[settings.]\n" + GOOD),
    ("dotted-key-empty-part", "@@settings..timeout = \"1s\"\n" + GOOD),
    ("dotted-key-conflict", "settings = 1\n@@settings.timeout = \"1s\"\n" + GOOD),
    ("inline-table-extended", "settings = { timeout = \"1s\" }\n@@[settings]\nmax_payload_bytes = 1\n" + GOOD),
    ("array-missing-comma", step("command", 'run = ["a" @@"b"]\n')),
    ("inline-table-missing-comma", step("http", 'url = "http://x/"\nheaders = { A = "1" @@B = "2" }\n')),
    ("garbage-line", GOOD + "@@!!!\n"),
    ("lone-cr", "description = \"x\"@@\r" + GOOD),
]
for name, text in syntax:
    add(f"syntax-{name}", text, "TOML:", f"TOML syntax: {name.replace('-', ' ')}")

# ---------------------------------------------------------------------------------
# Wrong types and bad values for every option of every step kind.
BAD_TYPE = {  # (option, bad value, needle)
    "read": [
        ("path", "1", "`path` must be a string"),
        ("path", '["a"]', "`path` must be a string"),
        ("format", "1", "`format` must be a string"),
        ("format", '"xml"', "`format` must be one of"),
        ("format", '"JSON"', "`format` must be one of"),
    ],
    "write": [
        ("path", "1", "`path` must be a string"),
        ("path", "{}", "`path` must be a string"),
        ("path", '"out/{x}.json"', "unknown field `{x}`"),
        ("path", '"out/{n.json"', "unclosed `{`"),
        ("format", "true", "`format` must be a string"),
        ("format", '"csv"', "`format` must be one of"),
    ],
    "http": [
        ("method", "1", "`method` must be a string"),
        ("method", '"FETCH"', "unsupported HTTP method"),
        ("url", "1", "`url` must be a string"),
        ("url", '"http://x/${env:}"', "placeholder"),
        ("headers", '"x"', "`headers` must be a table"),
        ("headers", "[]", "`headers` must be a table"),
        ("headers", "{ A = 1 }", "`headers` must be a string"),
        ("query", '"q=1"', "`query` must be a table"),
        ("query", "{ q = [1] }", "`query` must be a string"),
        ("body", "1", "`body` must be a string"),
        ("body", '"all"', "`body` must be one of"),
        ("next", "1", "`next` must be a string"),
        ("timeout", "30", "`timeout` must be a string"),
        ("retries", '"3"', "`retries` must be a whole number"),
        ("retries", "-1", "`retries` must be a whole number"),
        ("retries", "1.5", "`retries` must be a whole number"),
        ("idempotency_key", '"yes"', "`idempotency_key` must be true or false"),
        ("response", "1", "`response` must be a string"),
        ("response", '"xml"', "`response` must be one of"),
        ("max_pages", "0", "`max_pages` must be a whole number"),
        ("max_pages", '"x"', "`max_pages` must be a whole number"),
        ("max_response_bytes", "0", "`max_response_bytes` must be a whole number"),
        ("max_response_bytes", "-5", "`max_response_bytes` must be a whole number"),
        ("max_response_bytes", '"1MB"', "`max_response_bytes` must be a whole number"),
    ],
    "command": [
        ("run", '"prog"', "`run` must be an array"),
        ("run", "[]", "`run` needs at least the program"),
        ("run", "[1]", "`run` must be a string"),
        ("run", "{ a = 1 }", "`run` must be an array"),
        ("timeout", "5", "`timeout` must be a string"),
        ("env", '"A=1"', "`env` must be a table"),
        ("env", "{ A = 1 }", "`env` must be a string"),
        ("output", "1", "`output` must be a string"),
        ("output", '"csv"', "`output` must be one of"),
    ],
    "map": [
        ("jq", "1", "`jq` must be a string"),
        ("jq", '[".a"]', "`jq` must be a string"),
        ("jq", "{ a = 1 }", "`jq` must be a string"),
    ],
    "filter": [
        ("jq", "true", "`jq` must be a string"),
        ("keep_empty", '"no"', "`keep_empty` must be true or false"),
        ("keep_empty", "1", "`keep_empty` must be true or false"),
    ],
    "assert": [
        ("jq", "1", "`jq` must be a string"),
        ("equals_file", "1", "`equals_file` must be a string"),
        ("message", "1", "`message` must be a string"),
        ("message", "[]", "`message` must be a string"),
    ],
    "split": [
        ("path", "1", "`path` must be a string"),
        ("size", '"10"', "`size` must be a whole number"),
        ("size", "0", "`size` must be a whole number"),
        ("size", "-1", "`size` must be a whole number"),
        ("size", "1.5", "`size` must be a whole number"),
        ("size", "true", "`size` must be a whole number"),
    ],
    "dedupe": [
        ("key", "1", "`key` must be a string"),
        ("mode", "1", "`mode` must be a string"),
        ("mode", '"drop"', "`mode` must be one of"),
    ],
}
for kind, cases in BAD_TYPE.items():
    for i, (opt, value, needle) in enumerate(cases, 1):
        req = "".join(
            line + "\n"
            for line in REQUIRED[kind].splitlines()
            if not line.startswith(opt + " ")
        )
        add(
            f"type-{kind}-{opt.replace('_', '-')}-{i}",
            step(kind, req + f"{opt} = @@{value}\n"),
            needle,
            f"{kind}: {opt} = {value}",
        )

# The options every kind accepts, with wrong types, on every kind.
for kind in KINDS:
    add(
        f"type-{kind}-skip",
        step(kind, REQUIRED[kind] + 'skip = @@"yes"\n'),
        "`skip` must be true or false",
        f"{kind}: skip as a string",
    )
    add(
        f"type-{kind}-description",
        step(kind, REQUIRED[kind] + "description = @@42\n"),
        "`description` must be a string",
        f"{kind}: description as a number",
    )
    add(
        f"type-{kind}-id",
        f"[[steps]]\nid = @@7\nkind = \"{kind}\"\n{REQUIRED[kind]}",
        "`id` must be a string",
        f"{kind}: id as a number",
    )
add("type-split-size-overflow", step("split", "size = @@99999999999999999999\n"), "`size` must be a whole number", "split: a size past u64")
add("type-split-size-hex-prefix", step("split", "size = @@0x\n"), "`size` must be a whole number", "split: size = 0x")
add("type-kind-number", '[[steps]]\nid = "s"\nkind = @@1\n', "`kind` must be a string", "kind as a number")
add("type-kind-array", '[[steps]]\nid = "s"\nkind = @@["map"]\njq = "."\n', "`kind` must be a string", "kind as an array")
add("type-kind-unknown", '[[steps]]\nid = "s"\nkind = @@"transform"\n', "unknown step kind", "kind not one of the kinds")
add("type-kind-case", '[[steps]]\nid = "s"\nkind = @@"Map"\njq = "."\n', "unknown step kind", "kind in the wrong case")
for kind in ["read", "write", "http", "command", "map", "filter", "split", "dedupe"]:
    opt = REQUIRED[kind].split(" ")[0]
    add(
        f"missing-{kind}-{opt}",
        f"@@[[steps]]\nid = \"s\"\nkind = \"{kind}\"\n",
        f"needs `{opt}`",
        f"{kind} without its required `{opt}`",
    )
add("missing-kind", '@@[[steps]]\nid = "s"\njq = "."\n', "needs `kind`", "a step without a kind")
add("missing-id", '@@[[steps]]\nkind = "merge"\n', "needs an `id`", "a step without an id")
add("missing-assert-check", '@@[[steps]]\nid = "s"\nkind = "assert"\nmessage = "m"\n', "needs `jq`, `equals` or `equals_file`", "assert with nothing to check")
add("assert-equals-and-file", '@@[[steps]]\nid = "s"\nkind = "assert"\nequals = 1\nequals_file = "e.json"\n', "not both", "assert with equals and equals_file")

settings = [
    ("max-payload-string", 'max_payload_bytes = @@"1MB"', "`max_payload_bytes` must be a whole number"),
    ("max-payload-negative", "max_payload_bytes = @@-1", "`max_payload_bytes` must be a whole number"),
    ("max-payload-float", "max_payload_bytes = @@1.5", "`max_payload_bytes` must be a whole number"),
    ("timeout-number", "timeout = @@30", "`timeout` must be a string"),
]
for name, line, needle in settings:
    add(f"settings-{name}", f"[settings]\n{line}\n" + GOOD, needle, f"[settings] {line.replace(MARK, '')}")
add("settings-not-a-table", "settings = @@1\n" + GOOD, "`settings` must be a table", "settings = 1")
add("settings-array", "settings = @@[]\n" + GOOD, "`settings` must be a table", "settings = []")
add("trigger-not-a-table", 'trigger = @@"daily"\n' + GOOD, "`trigger` must be a table", "trigger as a string")
add("trigger-empty", "@@[trigger]\n" + GOOD, "needs one of `every`, `cron` or `watch`", "an empty [trigger]")
add("trigger-every-number", "[trigger]\nevery = @@15\n" + GOOD, "`every` must be a string", "every as a number")
add("trigger-cron-number", "[trigger]\ncron = @@5\n" + GOOD, "`cron` must be a string", "cron as a number")
add("trigger-watch-number", "[trigger]\nwatch = @@1\n" + GOOD, "`watch` must be a string", "watch as a number")
add("trigger-every-and-watch", '[trigger]\nevery = "1m"\nwatch = @@"in/*.json"\n' + GOOD, "not several", "every and watch together")
add("trigger-every-and-cron", '[trigger]\nevery = "1m"\ncron = @@"* * * * *"\n' + GOOD, "not several", "every and cron together")
add("top-description-number", "description = @@1\n" + GOOD, "`description` must be a string", "description = 1")
add("top-steps-string", 'steps = @@"x"\n', "`steps` must be an array", "steps as a string")
add("top-steps-empty", "steps = @@[]\n", "the flow has no steps", "steps = []")
add("top-steps-numbers", "steps = [@@1, 2]\n", "`steps` must be a table", "steps holding numbers")
add("top-steps-table", '@@[steps]\nid = "a"\nkind = "merge"\n', "`steps` must be an array", "[steps] instead of [[steps]]")
add("top-no-steps", '@@description = "nothing to do"\n', "the flow has no steps", "no steps at all")

# ---------------------------------------------------------------------------------
# Unknown keys at every level.
add("key-top-level", "@@bogus = 1\n" + GOOD, "unknown key `bogus` in the flow file", "an unknown top-level key")
add("key-top-table", "@@[extra]\na = 1\n" + GOOD, "unknown key `extra`", "an unknown top-level table")
add("key-settings", "[settings]\n@@retries = 1\n" + GOOD, "unknown key `retries` in [settings]", "an unknown key in [settings]")
add("key-trigger", '[trigger]\nevery = "1m"\n@@at = "9:00"\n' + GOOD, "unknown key `at` in [trigger]", "an unknown key in [trigger]")
for kind in KINDS:
    add(
        f"key-{kind}",
        step(kind, REQUIRED[kind] + "@@jq_filter = 1\n"),
        "unknown key `jq_filter`",
        f"an unknown key in a {kind} step",
    )
add("key-step-upper-case", step("map", "jq = '.'\n@@ID = \"x\"\n"), "unknown key `ID`", "a key in the wrong case")
add("key-step-subtable", GOOD + "@@[steps.options]\na = 1\n", "unknown key `options`", "a sub-table inside a step")
add("key-other-kinds-option", step("map", "jq = '.'\n@@size = 10\n"), "unknown key `size`", "an option of another kind")

# ---------------------------------------------------------------------------------
# Bad jq in every jq option.
JQ_OPTS = [
    ("map-jq", "map", "jq", ""),
    ("filter-jq", "filter", "jq", ""),
    ("assert-jq", "assert", "jq", ""),
    ("split-path", "split", "path", "size = 1\n"),
    ("dedupe-key", "dedupe", "key", ""),
    ("http-next", "http", "next", 'url = "http://127.0.0.1:9/x"\n'),
]
BAD_JQ = [
    ("trailing-pipe", "'.a |'", "`{opt}`"),
    ("undefined-function", "'nosuchfun(.a)'", "`{opt}`"),
    ("unclosed-paren", "'(.a'", "`{opt}`"),
    ("undefined-variable", "'$nosuch'", "`{opt}`"),
    ("unclosed-string", "'\"abc'", "`{opt}`"),
    ("wrong-arity", "'map'", "`{opt}`"),
    ("open-bracket", "'.['", "`{opt}`"),
    ("unknown-format", "'@nosuchformat'", "`{opt}`"),
    ("stray-brace", "'}'", "`{opt}`"),
    ("bad-placeholder", "'.a == ${{env:}}'", "placeholder"),
    ("deep-parens", "'" + "(" * 10000 + "." + ")" * 10000 + "'", "nests more than"),
    ("long-chain", "'" + "1 + " * 400 + "1'", "nests more than"),
    ("deep-negation", "'" + "-" * 5000 + "1'", "nests more than"),
    ("deep-ifs", "'" + "if . then " * 300 + "1" + " else 2 end" * 300 + "'", "nests more than"),
]
for oname, kind, opt, extra in JQ_OPTS:
    for bname, value, needle in BAD_JQ:
        add(
            f"jq-{oname}-{bname}",
            step(kind, extra + f"{opt} = @@{value}\n"),
            needle.format(opt=opt),
            f"{kind}.{opt}: {bname.replace('-', ' ')}",
        )

# ---------------------------------------------------------------------------------
# Schedules and durations.
EVERY = ["", "15", "m", "15x", "-5m", "0s", "1.5h", "99999999999999999999d", "15 m", "ms", "1e3s", "5minutes"]
for i, v in enumerate(EVERY, 1):
    add(f"every-{i:02}", f'[trigger]\nevery = @@"{v}"\n' + GOOD, "`every`", f"every = {v!r}")
CRON = [
    "",
    "* * * *",
    "* * * * * *",
    "60 * * * *",
    "* 24 * * *",
    "*/0 * * * *",
    "a b c d e",
    "* * 32 * *",
    "* * * 13 *",
    "* * * * 8",
    "@daily",
    "5-1 * * * *",
    "*/ * * * *",
    "1-2-3 * * * *",
    "* * * * MON-",
    "L * * * *",
    "* * * * 7#9",
]
for i, v in enumerate(CRON, 1):
    add(f"cron-{i:02}", f'[trigger]\ncron = @@"{v}"\n' + GOOD, "`cron`", f"cron = {v!r}")
WATCH = ["inbox/[a-", "[", "inbox/***", "a/**b"]
for i, v in enumerate(WATCH, 1):
    add(f"watch-{i:02}", f'[trigger]\nwatch = @@"{v}"\n' + GOOD, "`watch`", f"watch = {v!r}")
DURATIONS = ["", "10", "abc", "0ms", "1y", "5 sec", "-1s", "1h30"]
for i, v in enumerate(DURATIONS, 1):
    add(f"duration-settings-{i:02}", f'[settings]\ntimeout = @@"{v}"\n' + GOOD, "`timeout`", f"settings timeout = {v!r}")
    add(
        f"duration-http-{i:02}",
        step("http", f'url = "http://127.0.0.1:9/x"\ntimeout = @@"{v}"\n'),
        "`timeout`",
        f"http timeout = {v!r}",
    )
    add(
        f"duration-command-{i:02}",
        step("command", f'run = ["true"]\ntimeout = @@"{v}"\n'),
        "`timeout`",
        f"command timeout = {v!r}",
    )

# ---------------------------------------------------------------------------------
# Step ids that try to escape the run folder or break its naming.
IDS = [
    ("dotdot-slash", "../x"),
    ("absolute", "/abs"),
    ("slash", "a/b"),
    ("dot", "."),
    ("dotdot", ".."),
    ("empty", ""),
    ("too-long", "a" * 65),
    ("unicode", "ünï"),
    ("upper", "Load"),
    ("leading-dash", "-a"),
    ("leading-underscore", "_a"),
    ("space", "a b"),
    ("dot-inside", "a.b"),
    ("nul", "a\\u0000b"),
    ("tab", "a\\tb"),
    ("backslash", "a\\\\b"),
    ("newline", "a\\nb"),
]
for name, v in IDS:
    add(f"id-{name}", f'[[steps]]\nid = @@"{v}"\nkind = "merge"\n', "is not valid", f"step id {v!r}")
add("id-duplicate", '[[steps]]\nid = "a"\nkind = "merge"\n[[steps]]\nid = @@"a"\nkind = "merge"\n', "duplicate step id `a`", "the same id twice")

# ---------------------------------------------------------------------------------
# Deep nesting: must not overflow the stack anywhere.
N = 10000
add("nest-equals-arrays", step("assert", "equals = @@" + "[" * N + "]" * N + "\n"), "TOML:", "equals nested 10 000 arrays deep", line=4)
add("nest-equals-tables", step("assert", "equals = @@" + "{a = " * N + "1" + "}" * N + "\n"), "TOML:", "equals nested 10 000 inline tables deep", line=4)
add("nest-equals-70", step("assert", "equals = @@" + "[" * 70 + "]" * 70 + "\n"), "nested more than 64 levels", "equals nested 70 arrays deep (past flowrun's own limit)", line=4)
add("nest-unclosed-arrays", step("assert", "equals = @@" + "[" * N + "\n"), "TOML:", "10 000 unclosed arrays", line=4)
# The TOML parser gives no place for its nesting limit on keys: a whole-file problem.
add("nest-dotted-key", ".".join(["a"] * N) + " = 1\n" + GOOD, "TOML:", "a dotted key 10 000 parts long", line=0)
add("nest-table-header", "[" + ".".join(["a"] * N) + "]\n" + GOOD, "TOML:", "a table header 10 000 parts deep", line=0)
add("nest-step-subtables", GOOD + "[steps." + ".".join(["a"] * N) + "]\n", "TOML:", "sub-tables of a step 10 000 deep", line=0)
add("nest-equals-dotted", step("assert", "equals = { " + ".".join(["a"] * N) + " = 1 }\n"), "TOML:", "an inline table with a 10 000-part dotted key", line=0)
add("nest-headers-table", step("http", 'url = "http://x/"\nheaders = @@' + "{a = " * N + '"x"' + "}" * N + "\n"), "TOML:", "headers nested 10 000 deep", line=5)

# ---------------------------------------------------------------------------------
# Not UTF-8.
good = GOOD.encode()
add("utf8-ff-in-comment", b"# caf\xff\n" + good, "not valid UTF-8", "0xFF in a comment", line=1)
add("utf8-ff-in-string", good + b'description = "caf\xe9"\n', "not valid UTF-8", "Latin-1 in a string", line=good.count(b"\n") + 1)
add("utf8-truncated-at-end", good + b"# \xe2\x82", "not valid UTF-8", "a multi-byte character cut at the end", line=good.count(b"\n") + 1)
add("utf8-overlong", b"description = \"\xc0\xaf\"\n" + good, "not valid UTF-8", "an overlong encoding", line=1)
add("utf8-lone-continuation", b"\x80" + good, "not valid UTF-8", "a lone continuation byte", line=1)
add("utf8-utf16le", "\ufeff".encode("utf-16-le") + GOOD.encode("utf-16-le"), "not valid UTF-8", "UTF-16 LE with BOM", line=1)
add("utf8-surrogate", b"# \xed\xa0\x80\n" + good, "not valid UTF-8", "an encoded surrogate", line=1)
add("utf8-late-line", good + b"\n\n\n# \xfe\n", "not valid UTF-8", "a bad byte on a later line", line=good.count(b"\n") + 4)

# ---------------------------------------------------------------------------------
# Files with nothing (valid) in them.
add("empty-file", b"", "the flow has no steps", "an empty file", line=1)
add("only-comments", b"# just a comment\n# and another\n", "the flow has no steps", "only comments", line=1)
add("only-whitespace", b"\n\n   \n\t\n", "the flow has no steps", "only whitespace", line=1)
add("only-bom", b"\xef\xbb\xbf", "the flow has no steps", "only a byte-order mark", line=1)
add("only-step-header", "@@[[steps]]\n", "needs an `id`", "a step with nothing in it")

# Flow names (file stems) that are not valid names.
for stem in ["Upper", "has.dot", "has space", "ünicode", "a" * 65, "_under"]:
    add(stem, GOOD, "not a valid flow name", f"flow file named {stem!r}", line=0)


def write():
    flows_dir = os.path.join(OUT, "flows")
    if os.path.isdir(flows_dir):
        shutil.rmtree(flows_dir)
    os.makedirs(flows_dir)
    with open(os.path.join(OUT, "flows.tsv"), "w", encoding="utf-8", newline="\n") as index:
        index.write("# name\tline\tneedle\tdescription (generated by scripts/gen_corpus.py)\n")
        for name, data, line, needle, desc in sorted(flows):
            with open(os.path.join(flows_dir, name + ".toml"), "wb") as f:
                f.write(data)
            index.write(f"{name}\t{line}\t{needle}\t{desc}\n")

    payload_dir = os.path.join(OUT, "payloads")
    if os.path.isdir(payload_dir):
        shutil.rmtree(payload_dir)
    os.makedirs(payload_dir)
    with open(os.path.join(OUT, "payloads.tsv"), "w", encoding="utf-8", newline="\n") as index:
        index.write("# name\tdescription (generated by scripts/gen_corpus.py)\n")
        for name, data, desc in sorted(payloads):
            with open(os.path.join(payload_dir, name + ".json"), "wb") as f:
                f.write(data)
            index.write(f"{name}\t{desc}\n")
    print(f"{len(flows)} flow files, {len(payloads)} payload files in {os.path.relpath(OUT)}")


# ---------------------------------------------------------------------------------
# Payload files that are not (complete) JSON.
payloads = [
    ("empty", b"", "an empty file"),
    ("whitespace", b"  \n\t\n", "only whitespace"),
    ("truncated-object", b'{\n  "a": 1', "an object cut short"),
    ("truncated-array", b"[\n  1,\n  2", "an array cut short"),
    ("truncated-string", b'"abc', "a string cut short"),
    ("truncated-escape", b'"\\u12', "a unicode escape cut short"),
    ("truncated-number", b"[1.", "a number cut short"),
    ("truncated-literal", b"tru", "a literal cut short"),
    ("trailing-comma", b"[1, 2,]", "a trailing comma"),
    ("trailing-garbage", b'{"a": 1} x', "text after the value"),
    ("two-values", b"1 2", "two values"),
    ("single-quotes", b"{'a': 1}", "single-quoted strings"),
    ("unquoted-key", b"{a: 1}", "an unquoted key"),
    ("comment", b"// note\n{}", "a comment"),
    ("nan", b"NaN", "NaN"),
    ("infinity", b"[Infinity]", "Infinity"),
    ("huge-exponent", b"1e999", "a number out of range"),
    ("leading-zero", b"[01]", "a number with a leading zero"),
    ("plus-sign", b"+1", "a plus sign"),
    ("hex-number", b"0x10", "a hex number"),
    ("bad-escape", b'"\\q"', "an invalid escape"),
    ("lone-surrogate", b'"\\ud800"', "a lone surrogate escape"),
    ("control-char", b'"a\x01b"', "a raw control character in a string"),
    ("not-utf8", b'"caf\xe9"', "Latin-1 in a string"),
    ("utf16", "{}".encode("utf-16"), "UTF-16"),
    ("nul-byte", b"{\x00}", "a NUL byte"),
    ("deep-arrays", b"[" * 10002 + b"]" * 10002, "arrays nested 10 002 deep (past the 10 001 limit)"),
    ("deep-objects", b'{"a":' * 10002 + b"1" + b"}" * 10002, "objects nested 10 002 deep (past the 10 001 limit)"),
    ("wide-integer", b'{"id":\n  1180591620717411303424}', "an integer beyond 64 bits"),
    ("trimmed", b'{\n  "a": "0123456789\n[trimmed]\n', "a trimmed payload file"),
    ("missing-colon", b'{"a" 1}', "a missing colon"),
    ("missing-value", b'{"a":}', "a missing value"),
    ("lone-comma", b"{,}", "a lone comma"),
    ("close-only", b"]", "only a closing bracket"),
    ("array-missing-comma", b"[1 2]", "a missing comma"),
    ("minus-only", b"-", "a lone minus"),
    ("leading-dot", b".5", "a number starting with a dot"),
    ("duplicate-close", b"[1]]", "an extra closing bracket"),
]

write()
