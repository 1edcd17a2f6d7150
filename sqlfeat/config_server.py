"""``feature_server:`` in feature_store.yaml: the schema of ``sqlfeat serve``'s settings.

Checked like every other section (``config.py``): an unknown key is an error with a "did you
mean", a value of the wrong type names the key. Command-line flags (``--host``, ``--port``,
``--workers``) override these.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_PORT = 6566  # Feast's


class ServerAuth(BaseModel):
    """``feature_server.auth``: requests must carry one of ``api_keys`` in ``header`` (or as
    ``Authorization: Bearer KEY``). No keys: no authentication. Write keys as ``${ENV_VAR}``."""

    model_config = ConfigDict(extra="forbid")

    api_keys: list[str] = Field(default_factory=list, description="accepted keys; empty: no authentication")
    header: str = Field("X-API-Key", description="the request header carrying the key")

    @field_validator("api_keys")
    @classmethod
    def _long_enough(cls, keys: list[str]) -> list[str]:
        for index, key in enumerate(keys):
            if len(key) < 16:
                # the key itself is never quoted back
                raise ValueError(f"key {index} is {len(key)} characters; use at least 16 (e.g. `openssl rand -hex 24`)")
        return keys


class ServerLimits(BaseModel):
    """``feature_server.limits``: what one request may ask for."""

    model_config = ConfigDict(extra="forbid")

    max_body_bytes: int = Field(1_048_576, gt=0, description="a larger request body is refused with 413")
    max_entities: int = Field(10_000, gt=0, description="more entity rows in one request are refused with 413")
    max_features: int = Field(1_000, gt=0, description="more feature references in one request are refused with 413")


class FeatureServerOptions(BaseModel):
    """``feature_server:``: where ``sqlfeat serve`` listens and what it accepts."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="address to bind; 0.0.0.0 listens on every interface")
    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="TCP port (Feast's default)")
    workers: int = Field(1, gt=0, description="worker processes, each with its own FeatureStore and connections")
    auth: ServerAuth = Field(default_factory=ServerAuth, description="API keys")
    limits: ServerLimits = Field(default_factory=ServerLimits, description="per-request limits")
    # Feast's feature_server keys sqlfeat accepts and ignores.
    FEAST_KEYS: ClassVar[frozenset[str]] = frozenset({"type", "enabled", "feature_logging", "transformation_service_endpoint"})
