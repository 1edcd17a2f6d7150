"""``feature_store.yaml``: found, read, ``${VAR}``-expanded, and checked against its schema.

The schema is Feast's keys. The top level is checked here; each ``offline_store`` /
``online_store`` section against the ``OPTIONS`` model of the module its ``type`` names (one per
warehouse and online store). An unknown key is an error naming it, with a "did you mean"; a value
of the wrong type is an error naming the key and the type expected; a key Feast defines that
sqlfeat does not use is accepted with a one-line notice (a ``ConfigNotice`` warning). Every
secret in the file is registered for redaction before anything can fail.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from sqlfeat.errors import ConfigError
from sqlfeat.config_server import FeatureServerOptions, ServerAuth, ServerLimits
from sqlfeat.redact import register_secret, register_secrets_in

CONFIG_FILE = "feature_store.yaml"
DEFAULT_REGISTRY = "data/registry.json"
_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PROJECT = re.compile(r"[A-Za-z0-9_]+")
# sqlfeat's own top-level settings: key -> (type, default, what it does); docs/configuration.md lists them.
OPTIONS: dict[str, tuple[type, Any, str]] = {
    "strict_dtypes": (
        bool, False,
        "a declared dtype that is not its source column's but converts to it (Int32 over BIGINT, Float32 over "
        "DOUBLE, a String join key over integers) is an error at `apply` and `check`, not a warning",
    ),
}
_TOP_LEVEL = ("project", "registry", "offline_store", "online_store", "feature_server", *OPTIONS)
# Feast settings sqlfeat accepts and ignores (with a notice).
_FEAST_TOP_LEVEL = frozenset({
    "provider", "batch_engine", "flags", "entity_key_serialization_version", "coerce_tz_aware", "auth",
    "repo_path", "project_description", "materialization", "openlineage",
})  # fmt: skip
_REGISTRY_KEYS = ("path", "registry_type")
_FEAST_REGISTRY = frozenset({"cache_ttl_seconds", "s3_additional_kwargs", "cache_mode", "sqlalchemy_config_kwargs"})


class ConfigNotice(UserWarning):
    """A feature_store.yaml key sqlfeat accepts but does not use (a Feast setting)."""


@dataclass(frozen=True)
class RepoConfig:
    """``feature_store.yaml`` read, checked and defaulted (Feast's keys)."""

    repo_path: Path
    project: str
    registry_path: Path
    offline_store: dict[str, Any] = field(default_factory=lambda: {"type": "duckdb"})
    online_store: dict[str, Any] = field(default_factory=lambda: {"type": "sqlite"})
    # A declared dtype narrower than its column (converting) is an error, not a warning.
    strict_dtypes: bool = False
    # `sqlfeat serve`: where it listens, its API keys, its limits (``FeatureServerOptions``).
    feature_server: FeatureServerOptions = field(default_factory=lambda: FeatureServerOptions())

    @property
    def offline_type(self) -> str:
        return self.offline_store["type"]

    @property
    def online_type(self) -> str:
        return self.online_store["type"]


def find_repo(path: str | os.PathLike | None = None) -> Path:
    """The folder holding feature_store.yaml: ``path`` itself, or its ``feature_repo/``."""
    start = Path(path or os.getcwd()).expanduser().resolve()
    if start.is_file() and start.name == CONFIG_FILE:
        return start.parent
    for candidate in (start, start / "feature_repo"):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise ConfigError(
        f"no {CONFIG_FILE} in {start}: run inside a feature repo, pass repo_path= / --chdir, "
        "or create one with `sqlfeat init NAME`"
    )


def load_config(repo_path: str | os.PathLike | None = None, require_env: bool = True) -> RepoConfig:
    """``require_env=False`` (commands that connect to nothing, such as compile): a ``${VAR}``
    whose variable is unset stays as written instead of failing."""
    import yaml

    root = find_repo(repo_path)
    path = root / CONFIG_FILE
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} cannot be read: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a mapping of keys (project, registry, offline_store, ...)")
    raw = _expand_env(raw, "", require_env)
    register_secrets_in(raw)
    where = f"{CONFIG_FILE}:"
    _check_keys(raw, _TOP_LEVEL, _FEAST_TOP_LEVEL, where, "")
    project = raw.get("project")
    if not isinstance(project, str) or not _PROJECT.fullmatch(project):
        raise ConfigError(f"{where} `project` must be set to letters, digits and underscores, got {project!r}")
    registry_path = Path(_registry_path(raw.get("registry", DEFAULT_REGISTRY), where))
    if not registry_path.is_absolute():
        registry_path = root / registry_path
    offline = _store_section(raw, "offline_store", "duckdb", where)
    online = _store_section(raw, "online_store", "sqlite", where)
    options: dict[str, Any] = {"feature_server": _server_section(raw, where)}
    for key, (kind, default, _) in OPTIONS.items():
        value = raw.get(key, default)
        if not isinstance(value, kind):
            raise ConfigError(f"{where} `{key}` must be {_EXPECTED.get(kind.__name__, kind.__name__)}, got {value!r}")
        options[key] = value
    return RepoConfig(root, project, registry_path, offline, online, **options)


def _expand_env(value: Any, key: str, required: bool = True) -> Any:
    if isinstance(value, dict):
        return {k: _expand_env(v, f"{key}.{k}" if key else str(k), required) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, key, required) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ and not required:
            return match.group(0)
        if name not in os.environ:
            raise ConfigError(f"{CONFIG_FILE}: {key} uses ${{{name}}}, but environment variable {name} is not set")
        return os.environ[name]

    return _ENV_VAR.sub(substitute, value)


def _check_keys(section: dict, known: tuple[str, ...] | list[str], feast: frozenset[str], where: str, prefix: str) -> None:
    """Unknown keys are errors with a suggestion; Feast's unused keys a notice each."""
    for key in list(section):
        name = str(key)
        if name in known:
            continue
        if name in feast:
            warnings.warn(f"{where} {prefix}{name} is a Feast setting sqlfeat does not use; ignored", ConfigNotice, stacklevel=4)
            continue
        close = get_close_matches(name, [*known, *feast], n=1, cutoff=0.6)
        hint = f"; did you mean `{prefix}{close[0]}`?" if close else f"; known keys: {', '.join(known)}"
        raise ConfigError(f"{where} unknown key `{prefix}{name}`{hint}")


def _registry_path(value: Any, where: str) -> str:
    if isinstance(value, (str, os.PathLike)) and str(value):
        return str(value)
    if isinstance(value, dict):
        _check_keys(value, _REGISTRY_KEYS, _FEAST_REGISTRY, where, "registry.")
        kind = value.get("registry_type", "file")
        if kind != "file":
            raise ConfigError(f"{where} registry.registry_type {kind!r} is not supported; sqlfeat's registry is a file")
        return _registry_path(value.get("path", DEFAULT_REGISTRY), where)
    raise ConfigError(f"{where} `registry` must be a path (string) or a mapping with `path`, got {type(value).__name__} {value!r}")


def _store_section(raw: dict, key: str, default: str, where: str) -> dict[str, Any]:
    """One store section, checked against the ``OPTIONS`` model of its type's module."""
    from pydantic import ValidationError

    section = raw.get(key)
    if section is None:
        section = {}
    if isinstance(section, str):
        section = {"type": section}
    if not isinstance(section, dict):
        raise ConfigError(f"{where} `{key}` must be a mapping like {{type: {default}}}, got {type(section).__name__}")
    section = {"type": default, **section}
    kind = section["type"]
    if not isinstance(kind, str):
        raise ConfigError(f"{where} `{key}.type` must be a string like {default!r}, got {type(kind).__name__} {kind!r}")
    model = _options_model(key, kind)
    _check_keys(section, model.keys(), model.FEAST_KEYS, where, f"{key}.")
    given = {k: v for k, v in section.items() if k not in model.FEAST_KEYS}
    try:
        options = model.model_validate(given)
    except ValidationError as err:
        raise ConfigError(_describe(err, f"{where} {key}.")) from None
    return options.model_dump(by_alias=True, exclude_none=True)


def _server_section(raw: dict, where: str) -> FeatureServerOptions:
    """``feature_server``: each nested section's keys checked (did-you-mean), then the model."""
    from pydantic import ValidationError

    section = raw.get("feature_server") or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{where} `feature_server` must be a mapping like {{port: 6566}}, got {type(section).__name__}")
    model = FeatureServerOptions
    _check_keys(section, list(model.model_fields), model.FEAST_KEYS, where, "feature_server.")
    for key, sub in (("auth", ServerAuth), ("limits", ServerLimits)):
        if isinstance(section.get(key), dict):
            _check_keys(section[key], list(sub.model_fields), frozenset(), where, f"feature_server.{key}.")
    keys = (section.get("auth") or {}).get("api_keys") if isinstance(section.get("auth"), dict) else None
    for key in keys if isinstance(keys, list) else []:
        register_secret(key)  # a list is not registered by key name: each key is a secret
    try:
        return model.model_validate({k: v for k, v in section.items() if k not in model.FEAST_KEYS})
    except ValidationError as err:
        raise ConfigError(_describe(err, f"{where} feature_server.")) from None


def _options_model(key: str, kind: str):
    if key == "offline_store":
        from sqlfeat.warehouses import warehouse_module

        return warehouse_module(kind).OPTIONS
    from sqlfeat.online import online_module

    return online_module(kind).OPTIONS


_EXPECTED = {
    "int": "an integer", "float": "a number", "bool": "true or false", "string": "a string", "dict": "a mapping",
    "greater_than": "a positive number", "greater_than_equal": "zero or more", "literal": "one of",
}  # fmt: skip


def _describe(err: Any, prefix: str) -> str:
    """A pydantic ValidationError as one line per wrong key: which key, what it must be."""
    lines = []
    for problem in err.errors():
        key = prefix + ".".join(str(part) for part in problem["loc"])
        kind = problem["type"]
        expected = next((text for name, text in _EXPECTED.items() if kind.startswith(name)), None)
        secret = any(str(part).lower() in ("password", "private_key", "private_key_passphrase", "api_keys") for part in problem["loc"])
        got = type(problem.get("input")).__name__ if secret else repr(problem.get("input"))
        if kind == "literal_error":
            lines.append(f"{key} must be {problem['msg'].removeprefix('Input should be ')}, got {got}")
        elif expected:
            lines.append(f"{key} must be {expected}, got {got}")
        else:
            lines.append(f"{key}: {problem['msg']} (got {got})")
    return "; ".join(lines)
