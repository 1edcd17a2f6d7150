"""dbt interop: ``sqlfeat dbt export`` writes the repo's compiled SQL as a dbt package
(``export.py``: the project files; ``relations.py``: sources and the spine swapped for dbt's
``{{ source() }}`` / ``{{ ref() }}`` on the sqlglot AST); ``sqlfeat dbt import`` writes dbt models
as feature views (``manifest.py``: dbt's artifacts read; ``import_.py``: the generated file).
"""

from __future__ import annotations

from sqlfeat.dbt.export import TrainingSet, export_package

__all__ = ["TrainingSet", "export_package"]
