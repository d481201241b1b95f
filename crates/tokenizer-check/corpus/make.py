#!/usr/bin/env python3
# Regenerates the tokenizer corpus in this folder from text already on a Debian machine with
# pyenv's CPython 3.12 (see README.md for the sources and their licences). Deterministic: the same
# inputs give the same files. Run from the repository root:
#   python3 crates/tokenizer-check/corpus/make.py
# One text per line; no carriage returns; every line valid UTF-8. Lines keep their leading and
# trailing whitespace and tabs (they are part of the test).
import glob
import json
import os
import random
import re
import unicodedata

ROOT = os.getcwd()
OUT = os.path.join(ROOT, "crates/tokenizer-check/corpus")
PY = "/root/.pyenv/versions/3.12.1/lib/python3.12"
LOCALES = "/usr/share/i18n/locales"
rng = random.Random(12)


def clean(line):
    line = line.rstrip("\n").replace("\r", "")
    return line


def write(name, lines, limit=None):
    seen, out = set(), []
    for line in lines:
        line = clean(line)
        if not line.strip() or line in seen:
            continue
        seen.add(line)
        out.append(line)
    if limit is not None and len(out) > limit:
        idx = sorted(rng.sample(range(len(out)), limit))
        out = [out[i] for i in idx]
    with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="\n") as f:
        for line in out:
            f.write(line + "\n")
    print(f"{name}: {len(out)} lines")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")


# Prose: this project's documentation (Apache-2.0) and CPython's documentation topics (PSF).
prose = []
for p in ["README.md", "coordinator/README.md", "deploy/README.md", "test-node/README.md",
          "contracts/README.md", "../shared/DESIGN.md"]:
    path = os.path.join(ROOT, p)
    if os.path.exists(path):
        prose += read(path)
topics = {}
exec(open(os.path.join(PY, "pydoc_data/topics.py"), encoding="utf-8").read(), topics)
doc = []
for text in topics["topics"].values():
    doc += text.split("\n")
write("prose-project.txt", prose, 900)
write("prose-python-docs.txt", doc, 1500)

# Code: Rust from this project, Python from the standard library, shell from this project.
rust = []
for path in sorted(glob.glob(os.path.join(ROOT, "crates/engine/src/*.rs"))
                   + glob.glob(os.path.join(ROOT, "coordinator/src/*.rs"))):
    rust += read(path)
write("code-rust.txt", rust, 900)
pyl = []
for name in ["json/decoder.py", "textwrap.py", "string.py", "shlex.py", "argparse.py",
             "email/_header_value_parser.py", "unicodedata.py", "html/entities.py",
             "test/test_unicode.py", "test/test_str.py", "test/test_re.py",
             "test/test_tomllib/test_misc.py"]:
    path = os.path.join(PY, name)
    if os.path.exists(path):
        pyl += read(path)
write("code-python.txt", pyl, 1000)
sh = []
for p in [".ci/run", ".ci/test", "worker/scripts/fetch-models.sh", "worker/scripts/gpu-check.sh",
          "contracts/install-wasm-opt.sh", "deploy/devnet.sh"]:
    path = os.path.join(ROOT, p)
    if os.path.exists(path):
        sh += read(path)
write("code-shell.txt", sh)

# JSON: CPython's tomllib test expectations (one document per line, compact and pretty-ish).
js = []
for path in sorted(glob.glob(os.path.join(PY, "test/test_tomllib/data/valid/**/*.json"),
                             recursive=True)):
    try:
        doc_ = json.load(open(path, encoding="utf-8"))
    except Exception:
        continue
    js.append(json.dumps(doc_, ensure_ascii=False))
    js.append(json.dumps(doc_, ensure_ascii=True, separators=(",", ":")))
    js.append(json.dumps(doc_, ensure_ascii=False, indent="\t").replace("\n", ""))
for path in sorted(glob.glob(os.path.join(PY, "test/test_tomllib/data/valid/**/*.toml"),
                             recursive=True)):
    js += read(path)

# Scripts: glibc locale data (day and month names, formats, language and country names in their
# own scripts), CPython's CJK codec test texts.
U = re.compile(r"<U([0-9A-Fa-f]{4,6})>")
scripts, numbers = [], []
KEYS = ("day", "abday", "mon", "abmon", "alt_mon", "ab_alt_mon", "am_pm", "d_t_fmt", "d_fmt",
        "t_fmt", "era", "lang_name", "country_name", "country_ab2", "yesexpr", "noexpr",
        "yesstr", "nostr", "name_fmt", "postal_fmt", "title", "outdigit", "alt_digits",
        "mon_thousands_sep", "currency_symbol", "int_curr_symbol", "measurement", "tel_int_fmt")
for path in sorted(glob.glob(os.path.join(LOCALES, "*"))):
    try:
        lines = open(path, encoding="utf-8", errors="strict").read().split("\n")
    except (UnicodeDecodeError, IsADirectoryError):
        continue
    # Continuation lines end with the escape char (/ or \\).
    joined, cur = [], ""
    for line in lines:
        if line.startswith("%") or line.startswith("#"):
            continue
        s = line.rstrip()
        if s.endswith("/") or s.endswith("\\"):
            cur += s[:-1]
            continue
        joined.append(cur + s)
        cur = ""
    for line in joined:
        key = line.strip().split(None, 1)
        if not key or key[0] not in KEYS or len(key) < 2:
            continue
        strs = re.findall(r'"([^"]*)"', key[1])
        vals = [U.sub(lambda m: chr(int(m.group(1), 16)), s) for s in strs]
        vals = [v.replace("//", "/") for v in vals if v]
        if not vals:
            continue
        text = " ".join(vals) if key[0] in ("day", "abday", "mon", "abmon", "alt_mon",
                                            "ab_alt_mon", "am_pm") else vals[0]
        if key[0] in ("mon", "day", "alt_mon"):
            text2 = ", ".join(vals)
            scripts.append(text2)
        if any(ord(c) > 127 for c in text):
            scripts.append(text)
        elif key[0] in ("d_t_fmt", "d_fmt", "t_fmt", "postal_fmt", "name_fmt", "tel_int_fmt"):
            numbers.append(text)
for path in sorted(glob.glob(os.path.join(PY, "test/cjkencodings/*-utf8.txt"))):
    scripts += read(path)
write("scripts-locales.txt", scripts, 2400)

# Generated mixtures (documented in README.md): real words from the texts above recombined to
# put quotes, apostrophes, digits, whitespace runs, emoji and combining marks at every position.
words = sorted({w for line in prose + doc for w in re.findall(r"[A-Za-z]+", line) if len(w) > 1})
intl = sorted({w for line in scripts for w in line.split() if any(ord(c) > 127 for c in w)})


def W():
    return rng.choice(words)


def I():
    return rng.choice(intl)


q = []
for ap in ["'", "’", "‘", "\"", "“", "”", "`", "''", "\"\"", "«", "»", "‹", "›", "„", "´"]:
    for s in ["s", "S", "t", "T", "ll", "LL", "re", "RE", "ve", "VE", "m", "M", "d", "D", "Ll"]:
        q.append(f"{W()}{ap}{s} {W()}")
        q.append(f"{W()} {ap}{s}")
        q.append(f"{ap}{s}{W()}")
    q.append(f"{ap}{W()}{ap}")
    q.append(f"{ap}{ap} {W()} {ap}{ap}")
    q.append(f"{W()}{ap}")
    q.append(f"{W()}{ap} ")
    q.append(f" {ap}{W()}")
    q.append(f"{ap}")
    q.append(f" {ap} ")
    q.append(f"{ap}{ap}{ap}")
    q.append(f"{ap}1{ap}2{ap}")
    q.append(f"{I()}{ap}s {I()}")
    q.append(f"{ap}s{ap}S{ap}ll{ap}")
    q.append(f"{W()}  {ap}s")
    q.append(f"{W()}\t{ap}ll")
    q.append(f"{ap} {ap}s {ap}ll {ap}re")
for contr in ["don't", "won't", "can't", "I'm", "you're", "we'll", "they've", "she'd", "it's",
              "IT'S", "DON'T", "We'LL", "o'clock", "rock'n'roll", "y'all'd've", "'tis",
              "'twas", "ma'am", "James'", "James's", "the '90s", "l'homme", "aujourd’hui",
              "dell'arte", "O'Neill", "d'Artagnan", "’s", "’S", "’ll", "'s'", "''s", "'''"]:
    q.append(contr)
    q.append(f"{W()} {contr} {W()}")
    q.append(f"{contr}{contr}")
for _ in range(150):
    ap = rng.choice(["'", "’", "\"", "'s", "'S", "'ll", "'LL", "'ve", "’s", "''"])
    parts = [W() for _ in range(rng.randint(1, 6))]
    pos = rng.randint(0, len(parts))
    parts.insert(pos, ap)
    sep = rng.choice(["", " ", "  ", "\t"])
    q.append(sep.join(parts))
write("quotes-apostrophes.txt", q)

ws = []
for _ in range(350):
    n = rng.randint(1, 6)
    parts = []
    for _ in range(n):
        parts.append(rng.choice([W(), I(), str(rng.randint(0, 10**rng.randint(1, 8))),
                                 rng.choice(".,;:!?-()[]{}")]))
    line = ""
    for p in parts:
        line += rng.choice([" ", "  ", "   ", "\t", "\t\t", " \t", "\t ", "    ", " " * 17,
                            "\u00a0", "\u3000", "\u2009", "\u2003", "\u200b", "\u2028", "\u0085",
                            "\x0b", "\x0c", ""]) + p
    line += rng.choice(["", " ", "  ", "\t", " \t ", "      ", "\u00a0"])
    ws.append(line)
for n in [1, 2, 3, 4, 8, 16, 33, 100, 257]:
    ws.append(" " * n)
    ws.append("\t" * n)
    ws.append(" \t" * n)
    ws.append(W() + " " * n)
    ws.append(" " * n + W())
    ws.append(W() + " " * n + W())
    ws.append(W() + "\t" * n + W())
    ws.append(" " * n + "123")
    ws.append("x" + " " * n + "'s")
write("whitespace.txt", ws)

nums = list(numbers)
for _ in range(500):
    k = rng.randint(0, 14)
    forms = [
        str(rng.randint(0, 10**rng.randint(1, 20))),
        f"{rng.randint(0, 10**9):,}",
        f"{rng.uniform(-1e6, 1e6):.{rng.randint(0, 6)}f}",
        f"{rng.uniform(0, 1):.3e}",
        f"{rng.randint(1900, 2100)}-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}",
        f"{rng.randint(1, 28)}/{rng.randint(1, 12)}/{rng.randint(0, 99):02}",
        f"{rng.randint(0, 23):02}:{rng.randint(0, 59):02}:{rng.randint(0, 59):02}.{rng.randint(0, 999999)}Z",
        f"+{rng.randint(1, 99)} ({rng.randint(100, 999)}) {rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
        f"v{rng.randint(0, 9)}.{rng.randint(0, 99)}.{rng.randint(0, 999)}-rc.{rng.randint(1, 9)}",
        f"0x{rng.getrandbits(rng.randint(4, 160)):x}",
        f"${rng.randint(0, 99999)}.{rng.randint(0, 99):02} €{rng.randint(0, 999)},{rng.randint(0, 99):02} ¥{rng.randint(0, 10**6)}",
        f"{rng.randint(0, 100)}% of {rng.randint(0, 10**4)} {W()}",
        f"{rng.randint(1, 31)}. {W()} {rng.randint(1000, 2999)}",
        "".join(rng.choice("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹०१२३४५६७८९๐๑๒๓๔๕๖๗๘๙０１２３４５６７８９①②③½¼²³⁴₁₂") for _ in range(rng.randint(1, 12))),
        f"{W()}{rng.randint(0, 9999)}{W()} {rng.randint(0, 99)}{I()}",
    ]
    nums.append(forms[k])
    if rng.random() < 0.3:
        nums.append(" ".join(rng.choice(forms) for _ in range(3)))
write("numbers-dates.txt", nums)

punct = []
P = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~¡¿«»–—…·•‰′″‹›€£¥§¶©®™°±×÷"
for _ in range(400):
    n = rng.randint(1, 30)
    s = "".join(rng.choice(P + "  " + "ab1") for _ in range(n))
    if rng.random() < 0.5:
        s = W() + s + W()
    punct.append(s)
punct += ["...", "?!", "!!!", "--", "---", "->", "=>", "::", "&&", "||", "<<=", ">>>", "/*", "*/",
          "//", "#!", "\\n", "\\t", "\\\\", "a.b.c", "e.g.", "i.e.,", "U.S.A.", "(a)", "[1]",
          "{x}", "<tag attr=\"v\">", "</tag>", "@user", "#hashtag", "https://example.com/a?b=c&d=e#f",
          "me@example.org", "C:\\Program Files\\x", "~/.cargo/bin", "$HOME", "%PATH%", "a_b_c",
          "__init__", "x**2", "a-b-c", "'-'", "\"-\"", "--flag=value", "-v", "1+1=2", "a/b",
          "¿Qué?", "¡Hola!", "«Bonjour»", "„Hallo“", "「こんにちは」", "『本』", "【注意】", "《书》",
          "…", "。", "、", "，", "！", "？", "؟", "،", "।", "॥", "።"]
write("punctuation.txt", punct)

# Emoji: standard sequences (Unicode emoji data): ZWJ families and professions, flags (regional
# indicator pairs and tag sequences), skin tones, keycaps, variation selectors.
e = []
base = ["😀", "😂", "🙂", "🤔", "👍", "👋", "🙏", "💪", "👩", "👨", "🧑", "👧", "👦", "🐕", "🐈", "🌍",
        "🔥", "✨", "❤", "☺", "✌", "☝", "⭐", "🚀", "🎉", "🍕", "🏳", "🏴", "⚽", "🇦"]
tones = ["\U0001F3FB", "\U0001F3FC", "\U0001F3FD", "\U0001F3FE", "\U0001F3FF"]
zwj = ["👨\u200d👩\u200d👧\u200d👦", "👩\u200d❤\ufe0f\u200d👨", "👩\u200d💻", "🧑🏽\u200d🚀",
       "🏳\ufe0f\u200d🌈", "🏴\u200d☠\ufe0f", "👁\ufe0f\u200d🗨\ufe0f", "🐕\u200d🦺", "🐈\u200d⬛",
       "👨🏿\u200d🤝\u200d👨🏻", "🧔🏾\u200d♂\ufe0f", "🏃\u200d♀\ufe0f\u200d➡\ufe0f", "❤\ufe0f\u200d🔥",
       "👩\u200d👩\u200d👦", "🫱🏼\u200d🫲🏿", "😮\u200d💨", "🙇🏻\u200d♀\ufe0f"]
flags = ["🇫🇷", "🇯🇵", "🇺🇸", "🇩🇪", "🇧🇷", "🇮🇳", "🇺🇦", "🇪🇺", "🇺🇳", "🇦🇶",
         "🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F",
         "🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F"]
keycaps = [c + "\ufe0f\u20e3" for c in "0123456789#*"] + ["1\u20e3"]
for _ in range(300):
    parts = []
    for _ in range(rng.randint(1, 5)):
        k = rng.randint(0, 6)
        if k == 0:
            parts.append(rng.choice(base))
        elif k == 1:
            parts.append(rng.choice(["👋", "👍", "🙏", "💪", "👩", "🧑", "✌", "☝"]) + rng.choice(tones))
        elif k == 2:
            parts.append(rng.choice(zwj))
        elif k == 3:
            parts.append(rng.choice(flags))
        elif k == 4:
            parts.append(rng.choice(keycaps))
        elif k == 5:
            parts.append(W())
        else:
            parts.append(I())
    sep = rng.choice(["", " ", "  ", "\t", "'s ", ", "])
    e.append(sep.join(parts))
e += zwj + flags + keycaps + [b + t for b in ["👋", "🧑"] for t in tones]
e += ["🇦", "🇦🇧🇨", "\U0001F3FB", "\u200d", "\ufe0f", "\u20e3", "a\u200db", "❤️", "❤︎", "☺️☺︎"]
write("emoji.txt", e)

# Mixed scripts, combining marks (NFD of the locale texts, stacked marks) and multi-byte
# characters next to ASCII.
m = []
for line in rng.sample(scripts, 300):
    m.append(unicodedata.normalize("NFD", line))
    m.append(unicodedata.normalize("NFKD", line))
marks = [chr(c) for c in range(0x300, 0x370)] + ["\u0483", "\u05b0", "\u064b", "\u0670",
                                                   "\u093c", "\u0e31", "\u0e48", "\u20dd",
                                                   "\u302a", "\ufe20"]
for _ in range(250):
    w = rng.choice([W(), I(), str(rng.randint(0, 999)), "'s", " "])
    out = ""
    for ch in w:
        out += ch + "".join(rng.choice(marks) for _ in range(rng.choice([0, 0, 1, 2, 5])))
    m.append(out)
    m.append(rng.choice(marks) + W())
for _ in range(400):
    n = rng.randint(2, 8)
    parts = [rng.choice([W(), I(), str(rng.randint(0, 99)), rng.choice("'’.,-_/ "),
                         rng.choice(base), rng.choice(intl)[:rng.randint(1, 3)]]) for _ in range(n)]
    m.append("".join(parts))
    m.append(" ".join(parts))
for c in ["é", "日", "🙂", "ß", "Ω", "я", "א", "ب", "क", "ก", "\u0301", "\u200d", "\ufeff",
          "\U0010FFFD", "\u00ad", "ﬁ", "Ⅻ", "ǅ", "İ", "ς", "\u2060", "\ue000"]:
    for a in ["a", "1", "'", " ", "'s", "x1", "\t", "A", "_"]:
        m += [a + c, c + a, a + c + a, c + a + c, c * 3 + a * 3]
write("mixed-scripts-marks.txt", m)
write("json-toml.txt", js)
