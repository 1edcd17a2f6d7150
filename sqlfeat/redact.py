"""The one redaction function every message, log, report, registry field and page goes through.

Two layers, so that a secret is hidden whatever text carries it:

- secrets registered when configuration is read (``register_secret``): every value under a key
  such as ``password`` or ``private_key``, and the password part of a URL or a connection string,
  are replaced wherever they appear, verbatim;
- patterns for what was never registered: the user-info part of a URL
  (``scheme://user:pass@host`` -> ``scheme://user:***@host``) and ``password=...`` /
  ``password: ...`` / ``password='...'`` pairs (libpq conninfo, Feast's Redis connection string).

Redacting twice changes nothing more: the mask contains no secret.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["MASK", "SECRET_KEYS", "redact", "register_secret", "register_secrets_in", "secrets_in_text"]

MASK = "***"
# Configuration keys whose values are secrets wherever they appear.
SECRET_KEYS = frozenset({
    "password", "passwd", "pwd", "private_key", "private_key_passphrase", "token", "access_token", "api_key",
    "secret", "secret_key", "aws_secret_access_key", "client_secret", "passphrase", "credentials_json",
})  # fmt: skip
# Values shorter than this are not registered (a two-character "password" would mask that pair of
# letters in every message); the patterns below still hide them where they stand as a password.
_MIN_LENGTH = 4

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None

_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s'\"]*):(?P<password>[^@\s'\"]*)@")
# In free text, only names that mean a credential wherever they appear ("token" does not: a
# parser's "unexpected token: ')'" is not a secret).
_TEXT_KEYS = ("private_key_passphrase", "aws_secret_access_key", "client_secret", "private_key", "secret_key",
              "access_token", "api_key", "password", "passwd", "pwd")  # fmt: skip
_KEY_VALUE = re.compile(
    r"(?P<key>\b(?:%s)\b\s*[=:]\s*)(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s,;&'\"]+)"
    % "|".join(_TEXT_KEYS),
    re.IGNORECASE,
)


def register_secret(value: Any) -> None:
    """Hide ``value`` (and its URL-decoded form) in every message from now on."""
    if not isinstance(value, str):
        value = "" if value is None else str(value)
    candidates = {value, unquote(value)}
    global _pattern
    with _lock:
        added = {c for c in candidates if len(c) >= _MIN_LENGTH and c != MASK} - _secrets
        if added:
            _secrets.update(added)
            # Longest first, so a secret containing another is masked whole; a secret is masked where
            # it stands on its own, not inside a longer word ("snow" leaves "snowflake" alone).
            _pattern = re.compile("|".join(_bounded(s) for s in sorted(_secrets, key=len, reverse=True)))


def _bounded(secret: str) -> str:
    head = r"(?<![A-Za-z0-9])" if secret[0].isalnum() else ""
    tail = r"(?![A-Za-z0-9])" if secret[-1].isalnum() else ""
    return f"{head}{re.escape(secret)}{tail}"


def secrets_in_text(text: str) -> list[str]:
    """Passwords carried inside a URL or a connection string (``host:port,password=...``).

    A configuration value holding ``scheme://`` is one URL: its user-info runs to the last ``@``
    (a host never holds one), so a password with spaces, commas or slashes is found whole, even
    when the URL is malformed and the driver would quote it back."""
    found = []
    if "://" in text:
        authority = text.split("://", 1)[1]
        if "@" in authority:
            userinfo = authority.rsplit("@", 1)[0]
            user, sep, password = userinfo.partition(":")
            if sep and password:
                found += [password, userinfo]
        try:
            password = urlsplit(text.strip()).password
        except ValueError:
            password = None
        if password:
            found.append(password)
    found += [m.group("password") for m in _URL_USERINFO.finditer(text)]
    found += [_unquote_value(m.group("value")) for m in _KEY_VALUE.finditer(text)]
    return [s for s in found if s]


def register_secrets_in(config: Any, key: str = "") -> None:
    """Register every secret of a configuration tree: values under ``SECRET_KEYS``, and
    passwords inside URLs and connection strings anywhere in it."""
    if isinstance(config, Mapping):
        for name, value in config.items():
            if str(name).lower() in SECRET_KEYS and not isinstance(value, (Mapping, list, tuple)):
                register_secret(value)
            register_secrets_in(value, str(name))
    elif isinstance(config, (list, tuple)):
        for value in config:
            register_secrets_in(value, key)
    elif isinstance(config, str):
        for secret in secrets_in_text(config):
            register_secret(secret)


def _unquote_value(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def redact(text: Any) -> str:
    """``text`` with every known secret and every password-shaped part masked."""
    text = text if isinstance(text, str) else str(text)
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return _KEY_VALUE.sub(lambda m: f"{m['key']}{MASK}", text)


def redact_all(texts: Iterable[Any]) -> list[str]:
    return [redact(t) for t in texts]
