"""The schema base of every ``offline_store`` / ``online_store`` section of feature_store.yaml.

Each warehouse and online store module declares ``OPTIONS``, a subclass listing the keys it reads
with their types; ``config.py`` validates a section against it. An unknown key is an error (with
a "did you mean"); a key Feast defines for that store but sqlfeat does not use (``FEAST_KEYS``) is
accepted with a one-line notice.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class StoreOptions(BaseModel):
    """One store section: ``type`` plus the keys its module reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    # Keys Feast documents for this store that sqlfeat accepts and ignores.
    FEAST_KEYS: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def keys(cls) -> list[str]:
        """The keys this section takes, as written in feature_store.yaml."""
        return [info.alias or name for name, info in cls.model_fields.items()]
