"""Canonical JSON specs and their fingerprints."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from sqlfeat.errors import DefinitionError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def fingerprint(spec: dict[str, Any]) -> str:
    """A content hash of a spec: equal specs, equal fingerprints, whatever the key order."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def check_name(kind: str, name: object) -> str:
    """Names become SQL identifiers and registry keys: letters, digits and underscores."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise DefinitionError(
            f"{kind} name {name!r} is not valid: use letters, digits and underscores, "
            "starting with a letter or underscore"
        )
    return name
