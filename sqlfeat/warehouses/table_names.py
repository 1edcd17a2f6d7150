"""Table names as users write them: ``table``, ``schema.table``, ``db.schema.table``, parts bare or
quoted, split into parts the dialects quote again (``Dialect.table``)."""

from __future__ import annotations

import re

from sqlfeat.errors import UsageError

_QUOTES = {'"': '"', "`": "`"}


def split_table_name(name: str, extra_chars: str = "$") -> list[tuple[str, bool]]:
    """``a.b."c d"`` as ``[("a", False), ("b", False), ("c d", True)]``: one to three parts, each
    a bare name (letters, digits, ``_`` and ``extra_chars``, not starting with a digit) or quoted
    with ``"`` or `` ` `` (a quote doubled inside stands for itself). A backquoted part
    holding dots (BigQuery's `` `project.dataset.table` ``) is split at them."""
    if not isinstance(name, str):
        raise UsageError(f"a table name must be text, got {type(name).__name__}")
    hint = (
        f"{name!r} is not a table name: write table, schema.table or db.schema.table, each part a name "
        f"(letters, digits, _) or \"quoted\"; to pass SQL, start it with SELECT or WITH"
    )
    name = name.strip()
    parts: list[tuple[str, bool]] = []
    position, bare_start = 0, re.compile(rf"[A-Za-z_][A-Za-z0-9_{re.escape(extra_chars)}]*")
    while True:
        opening = name[position : position + 1]
        if opening in _QUOTES:
            closing, end, text = _QUOTES[opening], position + 1, []
            while True:
                found = name.find(closing, end)
                if found < 0:
                    raise UsageError(hint)
                text.append(name[end:found])
                if name[found + 1 : found + 2] == closing:
                    text.append(closing)
                    end = found + 2
                    continue
                position = found + 1
                break
            value = "".join(text)
            if not value:
                raise UsageError(hint)
            pieces = value.split(".") if opening == "`" and "." in value else [value]
            parts.extend((piece, True) for piece in pieces)
        else:
            match = bare_start.match(name, position)
            if not match:
                raise UsageError(hint)
            parts.append((match.group(), False))
            position = match.end()
        if position == len(name):
            break
        if name[position] != ".":
            raise UsageError(hint)
        position += 1
    if not 1 <= len(parts) <= 3 or any(not text for text, _ in parts):
        raise UsageError(hint)
    return parts
