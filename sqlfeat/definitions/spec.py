"""Canonical JSON specs and their fingerprints."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from sqlfeat.errors import DefinitionError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Columns sqlfeat adds inside its queries start with this; no user name may.
RESERVED_PREFIX = "__sqlfeat_"


def fingerprint(spec: dict[str, Any]) -> str:
    """A content hash of a spec: equal specs, equal fingerprints, whatever the key order."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def check_name(kind: str, name: object) -> str:
    """Names become SQL identifiers and registry keys: letters, digits and underscores, the whole
    name (a trailing newline is not a name), and never sqlfeat's reserved prefix."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise DefinitionError(
            f"{kind} name {name!r} is not valid: use letters, digits and underscores, "
            "starting with a letter or underscore"
        )
    if name.lower().startswith(RESERVED_PREFIX):
        raise DefinitionError(f"{kind} name {name!r} starts with {RESERVED_PREFIX!r}, which sqlfeat reserves; rename it")
    return name
