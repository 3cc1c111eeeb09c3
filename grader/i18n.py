"""Learner-facing text in the learner's language.

The English text is written in the code as a message id: `_("{path} is newer than {db}", path=...,
db=...)`. It reads as plain English everywhere (a `Msg` is a `str`), and keeps its id and
parameters so that it can be shown in another language. Other languages live in one gettext
catalog each, grader/locale/LANG/LC_MESSAGES/maillab.po, extracted from the grader and the labs'
checks with Babel (see README, "Translating"). A message missing from a catalog stays English.
"""
from __future__ import annotations

import contextvars
import os
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from sandbox.errors import Text

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "maillab"
DEFAULT = "en"

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("maillab_language", default=None)


class Msg(Text):
    """English text that can be shown in another language: its id and its parameters."""

    __slots__ = ()

    def __new__(cls, msgid: str, params: dict[str, Any]) -> "Msg":
        self = str.__new__(cls, _fill(msgid, params))
        self.msgid = msgid
        self.params = params
        return self

    def in_language(self, lang: str) -> str:
        params = {k: translate(v, lang) for k, v in self.params.items()}
        return _fill(catalog(lang).get(self.msgid) or self.msgid, params)

    def __reduce__(self):  # pickles (the workshop service) keep the id and parameters
        return (Msg, (self.msgid, self.params))


class Joined(Msg):
    """Messages joined with a separator (a journey of hops, a list of queued mail), each part
    shown in the language asked for."""

    def __new__(cls, sep: str, parts: Any) -> "Joined":
        parts = list(parts)
        self = str.__new__(cls, sep.join(map(str, parts)))
        self.msgid, self.params = "", {"sep": sep, "parts": parts}
        return self

    def in_language(self, lang: str) -> str:
        return self.params["sep"].join(str(translate(part, lang)) for part in self.params["parts"])

    def __reduce__(self):
        return (Joined, (self.params["sep"], self.params["parts"]))


def joined(sep: str, parts: Any) -> Joined:
    """`sep.join(parts)` that stays translatable: `joined(" -> ", (hop.describe() for hop in hops))`."""
    return Joined(sep, parts)


def _(msgid: str, /, **params: Any) -> Msg:
    """Mark `msgid` (a literal English string, `{name}` placeholders) as learner-facing text."""
    return Msg(msgid, params)


def N_(msgid: str, /) -> str:
    """Mark a literal as learner-facing text to be looked up later with `tr` (tables of labels)."""
    return msgid


def tr(msgid: str, /, lang: str | None = None, **params: Any) -> str:
    """`msgid` (English text, `{name}` placeholders) in `lang` (default: the current language)."""
    return str(translate(Msg(msgid, params), lang))


def _fill(text: str, params: dict[str, Any]) -> str:
    if not params:
        return text
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):  # a translation with a broken placeholder: say it as is
        return text


def translate(value: Any, lang: str | None = None) -> Any:
    """`value` in `lang` (default: the current language) when it is a Msg; other values unchanged."""
    if isinstance(value, Text):  # a Msg, or a sandbox message (the same id and parameters)
        if not isinstance(value, Msg):
            value = Msg(value.msgid, value.params)
        lang = normalize(lang) if lang else language()
        return str(value) if lang == DEFAULT else value.in_language(lang)
    return value


def say(exc: BaseException, lang: str | None = None) -> str:
    """An exception's sentence in `lang`: its message when that is a Msg, else str(exc)."""
    arg = exc.args[0] if len(exc.args) == 1 else None
    return str(translate(arg, lang)) if isinstance(arg, Text) else str(exc)


def language() -> str:
    """The language to speak: set by `speaking()`, else $MAILLAB_LANG, else the locale, else English."""
    chosen = _current.get() or _process or os.environ.get("MAILLAB_LANG") or _saved() or _from_locale()
    return normalize(chosen)


def instructors_language() -> str:
    """The language of whoever runs an instructor's command (`gradebook`): $MAILLAB_LANG, else their
    locale; never the learner's saved choice."""
    return normalize(_process or os.environ.get("MAILLAB_LANG") or _from_locale())


def normalize(lang: str | None) -> str:
    """'zh_CN.UTF-8' -> 'zh'; anything without a catalog -> 'en'."""
    code = (lang or "").split(".")[0].split("_")[0].split("-")[0].lower()
    return code if code in available() else DEFAULT


def chosen(value: str | None) -> str:
    """A language asked for (`--lang`) checked against the editions there are; without one, the
    learner's language."""
    if value is None:
        return language()
    lang = normalize(value)
    if lang == DEFAULT and not value.lower().startswith(DEFAULT):
        from .errors import UsageError

        raise UsageError(_("The course has no {chosen!r} edition. Its languages are: {known}.",
                           chosen=value, known=", ".join(available())))
    return lang


def _saved() -> str | None:
    """The language the learner chose with `maillab up --lang` (kept with their state)."""
    from .state import saved_language

    try:
        return saved_language()
    except Exception:  # an unreadable state file: the locale decides
        return None


def _from_locale() -> str:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            return value
    return DEFAULT


def available() -> tuple[str, ...]:
    """English, and every language with a catalog."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (DEFAULT, *[f for f in found if f != DEFAULT])


_process: str | None = None  # set by a notebook that speaks one language (its kernel is its own)


def use(lang: str | None) -> str:
    """Speak `lang` in this whole process unless `speaking()` says otherwise (a lab notebook's kernel)."""
    global _process
    _process = normalize(lang) if lang else None
    return language()


@contextmanager
def speaking(lang: str | None) -> Iterator[str]:
    """Speak `lang` inside the block (checks run for a learner in their language)."""
    token = _current.set(normalize(lang) if lang else None)
    try:
        yield language()
    finally:
        _current.reset(token)


def catalog(lang: str) -> dict[str, str]:
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return {}
    return _load(path, stamp)


@lru_cache(maxsize=8)
def _load(path: Path, stamp: int) -> dict[str, str]:
    from babel.messages.pofile import read_po  # only when a language other than English is spoken

    with open(path, "rb") as handle:
        entries = read_po(handle)
    return {m.id: m.string for m in entries if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


# -- extraction ------------------------------------------------------------------------------
TOML_KEYS = {"title", "summary", "text"}  # learner-facing values in lab.toml and quiz files
TOML_TABLES = {"options", "mixups"}  # every value of these tables is learner-facing


def extract_toml(fileobj, keywords, comment_tags, options):
    """Babel extractor for lab.toml and quiz files (babel.cfg): titles, summaries, questions,
    options and hints. Yields (line, funcname, message, comments)."""
    import tomllib

    text = fileobj.read().decode("utf-8")
    lines = text.splitlines()

    def line_of(value: str) -> int:
        for number, line in enumerate(lines, 1):
            if value[:40] in line:
                return number
        return 0

    def walk(node: Any, table: str = ""):
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and (key in TOML_KEYS or table in TOML_TABLES):
                    yield value
                else:
                    yield from walk(value, key)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item, table)

    for value in walk(tomllib.loads(text)):
        yield line_of(value), "_", value, []
