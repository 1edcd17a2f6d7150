"""What every check reports: ``CheckResult`` (one named check on one thing), ``CheckOptions``
(what ``sqlfeat check`` was asked) and ``CheckRun`` (all results, the exit status)."""


from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

PASS, WARN, FAIL = "pass", "warn", "fail"
STATUSES = (PASS, WARN, FAIL)


@dataclass
class CheckResult:
    """One named check on one thing (a view, a view on a dialect, the repo)."""

    check: str
    status: str
    message: str
    view: str | None = None
    dialect: str | None = None
    column: str | None = None
    # Longer text for reviewers, e.g. the unified diff of a view's compiled SQL.
    details: str = ""
    # A warn that means "not run" (JUnit <skipped>), e.g. a dialect that cannot read the source.
    skipped: bool = False
    # Facts the catalog shows later (newest event time, row counts...), JSON-serializable.
    data: dict[str, Any] = field(default_factory=dict)
    file: str | None = None
    line: int | None = None
    execution_time: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check {self.check!r}: status must be one of {STATUSES}, got {self.status!r}")

    @property
    def unique_id(self) -> str:
        return ".".join(part for part in (self.check, self.dialect, self.view, self.column) if part)

    def to_json(self) -> dict[str, Any]:
        return {"unique_id": self.unique_id, **asdict(self)}


@dataclass
class CheckOptions:
    """What ``sqlfeat check`` was asked to do."""

    # Extra dialects to compile for ("all" for every one); the offline store's own always runs.
    dialects: tuple[str, ...] = ()
    # A previous target/ (or its compiled/) to diff the compiled SQL against.
    state: Path | None = None
    # Where compiled SQL and run_results.json go; default: <repo>/target.
    target: Path | None = None
    data: bool = True
    allow_breaking: bool = False
    warn_error: bool = False
    # A declared dtype that converts (Int32 over BIGINT...) fails instead of warning; None: the
    # config's strict_dtypes.
    strict: bool | None = None
    # The clock the data checks compare with (tests pin it); default: now, UTC.
    now: datetime | None = None
    leakage_entities: int = 20


@dataclass
class CheckRun:
    project: str
    repo_path: Path
    target: Path
    options: CheckOptions
    results: list[CheckResult]
    generated_at: datetime
    elapsed: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def failed(self) -> bool:
        return self.count(FAIL) > 0 or (self.options.warn_error and self.count(WARN) > 0)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0
