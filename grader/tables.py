"""Postfix lookup tables as a parameter names them, and whether their indexed files are up to date.

`alias_maps = hash:/etc/aliases` is read from /etc/aliases.db, which `newaliases` (or `postalias`)
builds; `virtual_alias_maps = hash:/etc/postfix/virtual` from virtual.db, built by `postmap`.
Editing the source without rebuilding leaves Postfix reading the old table: the source is then
newer than the indexed file. Tables read straight from their source (regexp:, pcre:, texthash:,
inline:, ...) have nothing to rebuild.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .host import Host

# Indexed table types and the suffix of the file the build command writes.
INDEXED_SUFFIX = {"hash": ".db", "btree": ".db", "lmdb": ".lmdb", "cdb": ".cdb", "dbm": ".pag", "sdbm": ".pag"}
# Table types whose data is one file, and that file's name beside the table's path ("": the table's own file).
FILE_TABLES = {**{kind: INDEXED_SUFFIX[kind] for kind in ("hash", "btree", "cdb", "lmdb")},
               "texthash": "", "regexp": "", "cidr": ""}
_SPLIT = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class Table:
    """One `type:name` of a parameter's value."""
    type: str
    name: str

    def __str__(self) -> str:
        return f"{self.type}:{self.name}"

    @property
    def indexed(self) -> bool:
        return self.type in INDEXED_SUFFIX

    @property
    def built_path(self) -> str | None:
        """The file Postfix really reads (e.g. /etc/aliases.db), None when it reads the source."""
        return self.name + INDEXED_SUFFIX[self.type] if self.indexed else None


def parse_tables(value: str | None) -> list[Table]:
    """The tables in a parameter value like "hash:/etc/aliases, nis:mail.aliases" (plain words skipped)."""
    found = []
    for word in _SPLIT.split(value or ""):
        kind, colon, name = word.partition(":")
        if colon and kind and name and re.fullmatch(r"[a-z0-9_]+", kind):
            found.append(Table(kind, name))
    return found


def names_path(value: str | None, path: str) -> bool:
    """Does the parameter value name the file `path` as a table (any type)?"""
    return any(t.name == path for t in parse_tables(value))


@dataclass(frozen=True)
class Freshness:
    table: Table
    state: str  # "ok", "no-source", "not-built", "stale"
    source_mtime: float | None = None
    built_mtime: float | None = None

    @property
    def ok(self) -> bool:
        return self.state == "ok"


def freshness(host: "Host", table: Table) -> Freshness:
    """Is the indexed file of `table` there and at least as new as its source file?"""
    if not table.name.startswith("/"):
        return Freshness(table, "ok")  # a table that is not a file (proxy:, inline:{...}, ...)
    source = host.file(table.name)
    if not table.indexed:
        return Freshness(table, "ok" if source.exists else "no-source", source.mtime)
    built = host.file(table.built_path or "")
    if not source.exists:
        return Freshness(table, "no-source", None, built.mtime)
    if not built.exists:
        return Freshness(table, "not-built", source.mtime, None)
    if source.newer_than(built):
        return Freshness(table, "stale", source.mtime, built.mtime)
    return Freshness(table, "ok", source.mtime, built.mtime)
