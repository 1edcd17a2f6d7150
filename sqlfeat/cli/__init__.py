"""The ``sqlfeat`` command: thin commands, each one call into ``FeatureStore`` (imports stay lazy).

``app.py`` holds the group and its error handler; ``repo.py`` the repo and offline commands,
``online.py`` the online ones, ``checks.py`` ``check`` and ``docs``, ``serve.py`` the HTTP server,
``dbt.py`` ``dbt export`` / ``dbt import``. Each module lists its
commands in ``COMMANDS``; they are added to the group here.
"""

from __future__ import annotations

from sqlfeat.cli import checks, dbt, online, repo, serve
from sqlfeat.cli.app import cli

for _module in (repo, online, checks, serve, dbt):
    for _command in _module.COMMANDS:
        cli.add_command(_command)

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="sqlfeat")


if __name__ == "__main__":
    main()
