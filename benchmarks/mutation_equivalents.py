"""The mutants of benchmarks/mutation.py that cannot change behaviour, each with the reason no
test can tell it from the original. Reviewed by hand; one table of entries, so longer than a
module of code would be.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Equivalent:
    """A mutant that cannot change behaviour. Keyed on the source text, not on a line number, so
    that it still applies after unrelated edits: ``original`` is the line as written,
    ``mutated`` the line as mutmut rewrote it (both compared with whitespace runs collapsed)."""

    module: str
    original: str
    mutated: str
    reason: str


def _eq(module: str, reason: str, *pairs: tuple[str, str]) -> tuple[Equivalent, ...]:
    return tuple(Equivalent(module, original, mutated, reason) for original, mutated in pairs)


# Each entry says why no test can tell the mutant from the original. Reviewed by hand; the
# resolve.py "skip" entries were also checked by running every request of 20 paths against every
# subset of 9 asset keys, in each html_handling and not_found_handling mode, with and without etags.
EQUIVALENTS: tuple[Equivalent, ...] = (
    *_eq(
        "retry",
        "500 is in RETRY_STATUSES, so the 'or' is only reached for other statuses",
        ("if status in RETRY_STATUSES or status >= 500:", "if status in RETRY_STATUSES or status > 500:"),
        ("if status in RETRY_STATUSES or status >= 500:", "if status in RETRY_STATUSES or status >= 501:"),
    ),
    *_eq(
        "retry",
        "a budget's first failure always sets the stall count to 1 (no earlier count of successes "
        "to compare with), so the starting values are never read",
        (
            "self.stalled = 0  # of which in a row with no success elsewhere in between",
            "self.stalled = None  # of which in a row with no success elsewhere in between",
        ),
        (
            "self.stalled = 0  # of which in a row with no success elsewhere in between",
            "self.stalled = 1  # of which in a row with no success elsewhere in between",
        ),
        (
            "self._seen: int | None = None  # the run's successes at the last failure (the first one stalls)",
            'self._seen: int | None = ""  # the run\'s successes at the last failure (the first one stalls)',
        ),
    ),
    *_eq(
        "retry",
        "the Retrier raises a NEW_SESSION verdict as it raises a FATAL one, so whether a 401 is "
        "read as an upload's (NEW_SESSION) or not (FATAL) makes no difference there",
        ("verdict = classify(exc.status, upload=upload)", "verdict = classify(exc.status, upload=None)"),
        ("verdict = classify(exc.status, upload=upload)", "verdict = classify(exc.status, )"),
        (
            "async def __call__(self, what: str, call: Callable[[], Awaitable[T]], *, upload: bool = False)"
            " -> T:",
            "async def __call__(self, what: str, call: Callable[[], Awaitable[T]], *, upload: bool = True)"
            " -> T:",
        ),
    ),
    *_eq(
        "ratepacer",
        "placeholders until a budget is known: _set_budget sets the rate, burst and tokens before any "
        "of them is read (rate is None while no budget is), and _reset_at is read only once an "
        "allowance has set it",
        ("self._reset_at = 0.0", "self._reset_at = None"),
        ("self._reset_at = 0.0", "self._reset_at = 1.0"),
        ("self._tokens = 0.0", "self._tokens = None"),
        ("self._tokens = 0.0", "self._tokens = 1.0"),
        ("self._rate, self._burst = 0.0, 0.0", "self._rate, self._burst = 1.0, 0.0"),
        ("self._rate, self._burst = 0.0, 0.0", "self._rate, self._burst = 0.0, 1.0"),
    ),
    *_eq(
        "ratepacer",
        "at the boundary both sides give the same value: no wait for as many requests as the burst "
        "(0 either way), a token short by exactly EPSILON, reset times exactly SAME_WINDOW apart (a "
        "measure-zero tie of float clocks), and a refill over no time adds nothing",
        (
            "if self.rate is None or requests <= self._burst:",
            "if self.rate is None or requests < self._burst:",
        ),
        (
            "return 0.0 if short <= EPSILON else short / self._rate",
            "return 0.0 if short < EPSILON else short / self._rate",
        ),
        (
            "if self._allowance is not None and abs(reset_at - self._reset_at) < SAME_WINDOW:",
            "if self._allowance is not None and abs(reset_at - self._reset_at) <= SAME_WINDOW:",
        ),
        ("if elapsed > 0:", "if elapsed >= 0:"),
    ),
    *_eq(
        "ratepacer",
        "probe is only ever tested for truth, and None is as false as False",
        ("self.pacer = pacer or Pacer(probe=False)", "self.pacer = pacer or Pacer(probe=None)"),
    ),
    *_eq(
        "protocol",
        "codec names are case-insensitive: 'UTF-8' is the same codec as 'utf-8'",
        ('text.encode("utf-8")', 'text.encode("UTF-8")'),
    ),
    *_eq(
        "plan",
        "the text was lower-cased, so it holds no 'X' to strip",
        (
            'slug = re.sub(r"[^a-z0-9_-]+", "-", folder_name.lower()).strip("-_")[:63].strip("-_")',
            'slug = re.sub(r"[^a-z0-9_-]+", "-", folder_name.lower()).strip("XX-_XX")[:63].strip("-_")',
        ),
        (
            'slug = re.sub(r"[^a-z0-9_-]+", "-", folder_name.lower()).strip("-_")[:63].strip("-_")',
            'slug = re.sub(r"[^a-z0-9_-]+", "-", folder_name.lower()).strip("-_")[:63].strip("XX-_XX")',
        ),
    ),
    *_eq(
        "manifest",
        "_load is only read while _mapping is None, and only a deferred manifest starts that way",
        (
            "self._load: Callable[[], Mapping[str, Entry]] | None = None",
            'self._load: Callable[[], Mapping[str, Entry]] | None = ""',
        ),
    ),
    *_eq(
        "ignore",
        "unreachable: pathspec compiles each line on its own, so a list that fails has a line that "
        "fails alone, which is reported first; and the file's lines and the options are each "
        "compiled before the combined list, whose name only that fallback message uses",
        (
            'raise ConfigError(f"{source}: cannot parse the ignore patterns ({exc})") from None',
            "raise ConfigError(None) from None",
        ),
        (
            'spec = _compile([*lines, *extra], "the ignore patterns")',
            "spec = _compile([*lines, *extra], None)",
        ),
        (
            'spec = _compile([*lines, *extra], "the ignore patterns")',
            'spec = _compile([*lines, *extra], "XXthe ignore patternsXX")',
        ),
        (
            'spec = _compile([*lines, *extra], "the ignore patterns")',
            'spec = _compile([*lines, *extra], "THE IGNORE PATTERNS")',
        ),
    ),
    *_eq(
        "ignore",
        "codec names are case-insensitive",
        (
            'return utf8_text(raw, path, "utf-8-sig").splitlines()',
            'return utf8_text(raw, path, "UTF-8-SIG").splitlines()',
        ),
        (
            'def utf8_text(raw: bytes, path: str, codec: str = "utf-8") -> str:',
            'def utf8_text(raw: bytes, path: str, codec: str = "UTF-8") -> str:',
        ),
    ),
    *_eq(
        "ignore",
        "a start of None is the start of the bytes",
        ('line = raw.count(b"\\n", 0, exc.start) + 1', 'line = raw.count(b"\\n", None, exc.start) + 1'),
    ),
    *_eq(
        "limits",
        "unreachable: the loop returns at 'GiB', its last unit, whatever the size",
        ('raise AssertionError("unreachable")', "raise AssertionError(None)"),
        ('raise AssertionError("unreachable")', 'raise AssertionError("XXunreachableXX")'),
        ('raise AssertionError("unreachable")', 'raise AssertionError("UNREACHABLE")'),
    ),
    *_eq(
        "limits",
        "a manifest key is '/' then names that are never empty, so the character after any '/' is "
        "never a '/': searching one character later finds the same slash",
        ('cut = path.find("/", 1)', 'cut = path.find("/", 2)'),
        ('cut = path.find("/", cut + 1)', 'cut = path.find("/", cut + 2)'),
    ),
    *_eq(
        "tokens",
        "the secrets are ASCII (token_urlsafe, token_hex): the same bytes in any encoding Python "
        "would pick (UTF-8 by name, or the locale's, which is ASCII-compatible)",
        ('with open(path, encoding="utf-8") as f:', "with open(path, encoding=None) as f:"),
        ('with open(path, encoding="utf-8") as f:', "with open(path, ) as f:"),
        ('with open(path, encoding="utf-8") as f:', 'with open(path, encoding="UTF-8") as f:'),
        ('with os.fdopen(fd, "w", encoding="utf-8") as f:', 'with os.fdopen(fd, "w", encoding=None) as f:'),
        ('with os.fdopen(fd, "w", encoding="utf-8") as f:', 'with os.fdopen(fd, "w", ) as f:'),
        (
            'with os.fdopen(fd, "w", encoding="utf-8") as f:',
            'with os.fdopen(fd, "w", encoding="UTF-8") as f:',
        ),
    ),
    *_eq(
        "tokens",
        "385 is 0o600",
        (
            "fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)",
            "fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 385)",
        ),
    ),
    *_eq(
        "tokens",
        "the chmod to 0600 that follows leaves the same file; only the instant between the create "
        "and the chmod differs, which no test can observe without racing the call",
        (
            "fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)",
            "fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, )",
        ),
    ),
    *_eq(
        "tokens",
        "token_hex() without a size uses 32 bytes",
        (
            'os.path.join(data_dir, "jwt-secret"), lambda: secrets.token_hex(32)',
            'os.path.join(data_dir, "jwt-secret"), lambda: secrets.token_hex(None)',
        ),
    ),
    *_eq(
        "tokens",
        "PyJWT signs with HS256 when no algorithm is named",
        (
            'return jwt.encode(claims, self._key, algorithm="HS256")',
            "return jwt.encode(claims, self._key, )",
        ),
    ),
    *_eq(
        "tokens",
        "initial values read only after a match sets them (no match raises first); both falsy",
        ("allowed = None", 'allowed = ""'),
        ("found = False", "found = None"),
    ),
    *_eq(
        "watch",
        "read only once add() has set them: due() is None while no path is pending, and the watch "
        "loop reads first_seen only when a batch is due",
        ("self.first = 0.0", "self.first = None"),
        ("self.first = 0.0", "self.first = 1.0"),
        ("self.last = 0.0", "self.last = None"),
        ("self.last = 0.0", "self.last = 1.0"),
        (
            "self.first_seen = 0.0  # when the oldest change in this batch was noticed (for latency)",
            "self.first_seen = None  # when the oldest change in this batch was noticed (for latency)",
        ),
        (
            "self.first_seen = 0.0  # when the oldest change in this batch was noticed (for latency)",
            "self.first_seen = 1.0  # when the oldest change in this batch was noticed (for latency)",
        ),
    ),
    *_eq(
        "redirects",
        "codec names are case-insensitive, and quote() encodes text as UTF-8 when not told",
        (
            'out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))',
            'out.extend(f"%{b:02X}" for b in ch.encode("UTF-8", "surrogatepass"))',
        ),
        (
            'return bytes.fromhex(m.group().replace("%", "")).decode("utf-8")',
            'return bytes.fromhex(m.group().replace("%", "")).decode("UTF-8")',
        ),
        (
            'quote(seg, safe=_URI_COMPONENT_SAFE, encoding="utf-8", errors="surrogatepass")',
            'quote(seg, safe=_URI_COMPONENT_SAFE, encoding=None, errors="surrogatepass")',
        ),
        (
            'quote(seg, safe=_URI_COMPONENT_SAFE, encoding="utf-8", errors="surrogatepass")',
            'quote(seg, safe=_URI_COMPONENT_SAFE, errors="surrogatepass")',
        ),
        (
            'quote(seg, safe=_URI_COMPONENT_SAFE, encoding="utf-8", errors="surrogatepass")',
            'quote(seg, safe=_URI_COMPONENT_SAFE, encoding="UTF-8", errors="surrogatepass")',
        ),
    ),
    *_eq(
        "redirects",
        "unreachable: with only_relative a token without a leading '/' was given one just above",
        (
            'return None, "URLs should begin with a forward-slash."',
            'return None, "XXURLs should begin with a forward-slash.XX"',
        ),
        (
            'return None, "URLs should begin with a forward-slash."',
            'return None, "urls should begin with a forward-slash."',
        ),
        (
            'return None, "URLs should begin with a forward-slash."',
            'return None, "URLS SHOULD BEGIN WITH A FORWARD-SLASH."',
        ),
    ),
    *_eq(
        "redirects",
        "host is only tested for truth, and '' is as false as None",
        ("host: str | None = None", 'host: str | None = ""'),
    ),
    *_eq(
        "redirects",
        "_redirects sources are always relative (validate_url with only_relative), so no pattern "
        "of a ParsedRedirects reads the hostname",
        ("hostname = request_hostname(host)", "hostname = None"),
        ("hostname = request_hostname(host)", "hostname = request_hostname(None)"),
        ("captures = pattern.match(path, hostname)", "captures = pattern.match(path, None)"),
    ),
    *_eq(
        "redirects",
        "no infinity is a permitted status: not recognising one gives the same warning, and "
        "float() reads 'Infinity' and 'INF' as well as 'inf'",
        *(
            ('if s in ("Infinity", "+Infinity", "-Infinity"):', f"if s in {variant}:")
            for variant in (
                '("XXInfinityXX", "+Infinity", "-Infinity")',
                '("infinity", "+Infinity", "-Infinity")',
                '("INFINITY", "+Infinity", "-Infinity")',
                '("Infinity", "XX+InfinityXX", "-Infinity")',
                '("Infinity", "+infinity", "-Infinity")',
                '("Infinity", "+INFINITY", "-Infinity")',
                '("Infinity", "+Infinity", "XX-InfinityXX")',
                '("Infinity", "+Infinity", "-infinity")',
                '("Infinity", "+Infinity", "-INFINITY")',
            )
        ),
        *(
            ('return float(s.replace("Infinity", "inf"))', f"return float(s.replace({variant}))")
            for variant in (
                '"XXInfinityXX", "inf"',
                '"infinity", "inf"',
                '"INFINITY", "inf"',
                '"Infinity", "INF"',
            )
        ),
    ),
    *_eq(
        "redirects",
        "the comment pattern runs to the end of the text (\\Z), so it matches at most once",
        (
            'directive = _COMMENT.sub("", js_trim(source_line), count=1)',
            'directive = _COMMENT.sub("", js_trim(source_line), )',
        ),
        (
            'directive = _COMMENT.sub("", js_trim(source_line), count=1)',
            'directive = _COMMENT.sub("", js_trim(source_line), count=2)',
        ),
    ),
    *_eq(
        "redirects",
        "an absolute source is refused for being absolute before its port is looked at",
        (
            "source, error = validate_url(str_from, only_relative=True, disallow_ports=True)",
            "source, error = validate_url(str_from, only_relative=True, disallow_ports=None)",
        ),
        (
            "source, error = validate_url(str_from, only_relative=True, disallow_ports=True)",
            "source, error = validate_url(str_from, only_relative=True, disallow_ports=False)",
        ),
    ),
    *_eq(
        "redirects",
        "None is as false as False for these flags, and the warning's text defaults to None",
        (
            "str_to, only_relative=False, disallow_ports=False, include_search=True, include_hash=True",
            "str_to, only_relative=None, disallow_ports=False, include_search=True, include_hash=True",
        ),
        (
            "str_to, only_relative=False, disallow_ports=False, include_search=True, include_hash=True",
            "str_to, only_relative=False, disallow_ports=None, include_search=True, include_hash=True",
        ),
        (
            'warn(str(exc)[0].upper() + str(exc)[1:] + ".", rule.line, None)',
            'warn(str(exc)[0].upper() + str(exc)[1:] + ".", rule.line, )',
        ),
        (
            'parts.extend(self._translate(source[slash:], "", False))',
            'parts.extend(self._translate(source[slash:], "", None))',
        ),
        (
            'parts.extend(self._translate(source, "", False))',
            'parts.extend(self._translate(source, "", None))',
        ),
    ),
    *_eq(
        "redirects",
        "the follower is only read for a placeholder in the host, and these parts are paths",
        (
            'parts.extend(self._translate(source[slash:], "", False))',
            "parts.extend(self._translate(source[slash:], None, False))",
        ),
        (
            'parts.extend(self._translate(source[slash:], "", False))',
            'parts.extend(self._translate(source[slash:], "XXXX", False))',
        ),
        (
            'parts.extend(self._translate(source, "", False))',
            "parts.extend(self._translate(source, None, False))",
        ),
        (
            'parts.extend(self._translate(source, "", False))',
            'parts.extend(self._translate(source, "XXXX", False))',
        ),
    ),
    *_eq(
        "redirects",
        "a slice from None starts at 0",
        ("pos = 0", "pos = None"),
    ),
    *_eq(
        "headers",
        "dropped is an ordered set: its values are never read",
        ("dropped[op.name] = None", 'dropped[op.name] = ""'),
    ),
    *_eq(
        "headers",
        "None is as false as False, and the warning's text defaults to None",
        (
            "path, error = validate_url(line, only_relative=False, disallow_ports=True)",
            "path, error = validate_url(line, only_relative=None, disallow_ports=True)",
        ),
        (
            'warn(str(exc)[0].upper() + str(exc)[1:] + ".", hr.line, None)',
            'warn(str(exc)[0].upper() + str(exc)[1:] + ".", hr.line, )',
        ),
    ),
    *_eq(
        "resolve",
        "r is only tested for truth, and '' is as false as None",
        ("r: _Intent | None = None", 'r: _Intent | None = ""'),
    ),
    *_eq(
        "resolve",
        "skip=None acts as skip=False: the outer lookup passes False anyway, and in the nested "
        "lookup of a redirect target (skip=True) the target's own asset is found before this call "
        "could matter (checked exhaustively on small sites, see above)",
        (
            'r = safe(p, p[: -len("index.html")], skip) or safe(',
            'r = safe(p, p[: -len("index.html")], None) or safe(',
        ),
        ('r = safe(p[:-1] + ".html", p[:-1], skip)', 'r = safe(p[:-1] + ".html", p[:-1], None)'),
        (
            'r = safe(p, stem, skip) or safe(stem + "/index.html", stem + "/", skip)',
            'r = safe(p, stem, None) or safe(stem + "/index.html", stem + "/", skip)',
        ),
        (
            'r = safe(p, stem, skip) or safe(stem + "/index.html", stem + "/", skip)',
            'r = safe(p, stem, skip) or safe(stem + "/index.html", stem + "/", None)',
        ),
        (
            'r = safe(p + ".html", folder, skip) or safe(p[: -len("/index")] + ".html", folder, skip)',
            'r = safe(p + ".html", folder, None) or safe(p[: -len("/index")] + ".html", folder, skip)',
        ),
        (
            'r = safe(p + ".html", folder, skip) or safe(p[: -len("/index")] + ".html", folder, skip)',
            'r = safe(p + ".html", folder, skip) or safe(p[: -len("/index")] + ".html", folder, None)',
        ),
        (
            'r = safe(p, folder, skip) or safe(p[: -len("/index.html")] + ".html", folder, skip)',
            'r = safe(p, folder, None) or safe(p[: -len("/index.html")] + ".html", folder, skip)',
        ),
        (
            'r = safe(p, folder, skip) or safe(p[: -len("/index.html")] + ".html", folder, skip)',
            'r = safe(p, folder, skip) or safe(p[: -len("/index.html")] + ".html", folder, None)',
        ),
        ('r = safe(p, stem + "/", skip)', 'r = safe(p, stem + "/", None)'),
        (
            'r = safe(stem + "/index.html", stem + "/", skip)',
            'r = safe(stem + "/index.html", stem + "/", None)',
        ),
        ('r = safe("/index.html", "/", skip)', 'r = safe("/index.html", "/", None)'),
        ("r = safe(p, stem, skip)", "r = safe(p, stem, None)"),
        (
            'r = safe(stem + ".html", stem, skip) or safe(stem + "/index.html", stem, skip)',
            'r = safe(stem + ".html", stem, None) or safe(stem + "/index.html", stem, skip)',
        ),
        (
            'r = safe(stem + ".html", stem, skip) or safe(stem + "/index.html", stem, skip)',
            'r = safe(stem + ".html", stem, skip) or safe(stem + "/index.html", stem, None)',
        ),
        (
            'r = safe(p, stem, skip) or safe(stem + "/index.html", stem, skip)',
            'r = safe(p, stem, None) or safe(stem + "/index.html", stem, skip)',
        ),
        (
            'r = safe(p, stem, skip) or safe(stem + "/index.html", stem, skip)',
            'r = safe(p, stem, skip) or safe(stem + "/index.html", stem, None)',
        ),
    ),
    *_eq(
        "resolve",
        "the walk from 'XX/XX' tries 'XX/404.html', 'X/404.html', then '/404.html', like the walk "
        "from '/'; asset keys start with '/'",
        (
            'intent = self._not_found("/") if unsafe else self._intent(decoded, False)',
            'intent = self._not_found("XX/XX") if unsafe else self._intent(decoded, False)',
        ),
    ),
    *_eq(
        "resolve",
        "the top-level lookup passes skip=False, and None is as false",
        (
            'intent = self._not_found("/") if unsafe else self._intent(decoded, False)',
            'intent = self._not_found("/") if unsafe else self._intent(decoded, None)',
        ),
    ),
    *_eq(
        "resolve",
        "unreachable: an intent without an asset is a redirect, which is answered above (an unsafe "
        "path's intent comes from not_found_handling, which always names an asset)",
        ("return 500, None, None", "return 501, None, None"),
    ),
)
