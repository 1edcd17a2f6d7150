"""Every file sqlfeat writes goes through here: written atomically, and never over a file sqlfeat
did not write.

Atomic. A file is written to a temporary file in its own folder, flushed to disk and renamed over
its name (``os.replace``): a reader, or a crash, sees the old file or the new one, never half of
one. A write that fails leaves the old file as it was and removes its temporary file.

Nothing lost. sqlfeat replaces or deletes only files it wrote:

* an *output folder* (the catalog, ``target/``) holds a marker, ``.sqlfeat-output.json``, listing
  each file sqlfeat wrote there and the command that wrote it. Creating a folder marks it; an
  existing folder is used only when it is empty or marked; a non-empty folder without the marker
  is refused before any work, with an error naming it. Regenerating deletes only files the marker
  lists for that command (and the folders that leaves empty), never anything a user put there;
* a single file named on a command line (``--out``, ``--junit``) is replaced only when its content
  shows sqlfeat wrote it: each writer gives ``claim_file`` that test.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from sqlfeat.errors import OutputPathError

__all__ = [
    "MARKER",
    "OutputFolder",
    "atomic_path",
    "claim_file",
    "is_output_folder",
    "write_bytes_atomic",
    "write_text_atomic",
]

MARKER = ".sqlfeat-output.json"
MARKER_FORMAT = "sqlfeat-output/1"
TEMP_SUFFIX = ".sqlfeat-tmp"
_RULE = "sqlfeat never overwrites or deletes files it did not write"
_ABOUT = (
    "Written by sqlfeat. The files listed here are sqlfeat's: it replaces them, or deletes them when "
    "the command that wrote them no longer writes them. It never touches anything else in this folder."
)


# -- atomic writes ---------------------------------------------------------------------------------


def _create_temp(path: Path) -> Path:
    """A new, exclusive file next to ``path``: the same folder, so the rename never crosses file
    systems. Mode 0o666 less the umask, as ``open(path, "w")`` gives, or the mode of the file it
    replaces."""
    while True:
        temp = path.with_name(f".{path.name[:100]}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        except OSError as err:
            raise OutputPathError(f"cannot write {path}: {err.strerror or err}") from err
        os.close(fd)
        try:
            os.chmod(temp, stat.S_IMODE(os.stat(path).st_mode))
        except OSError:
            pass  # nothing to replace (or its mode is unreadable): keep the default
        return temp


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """A temporary path next to ``path`` for writers that open the file themselves (pyarrow,
    pandas): renamed over ``path`` when the block succeeds, removed when it raises."""
    path = Path(path)
    temp = _create_temp(path)
    try:
        yield temp
        # Flushed before the rename: after a crash the name holds the old bytes or the new ones.
        fd = os.open(temp, os.O_RDWR | getattr(os, "O_BINARY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.replace(temp, path)
        except OSError as err:
            raise OutputPathError(f"cannot write {path}: {err.strerror or err}") from err
    except BaseException:
        _remove(temp)
        raise


def write_bytes_atomic(path: Path | str, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step (see the module docstring)."""
    with atomic_path(path) as temp, open(temp, "wb") as handle:
        handle.write(data)


def write_text_atomic(path: Path | str, text: str, encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``text`` in one step; ``\\n`` is written as is on every platform."""
    write_bytes_atomic(path, text.encode(encoding))


# -- single files ----------------------------------------------------------------------------------


def claim_file(path: Path | str, is_ours: Callable[[Path], bool], option: str, create_folder: bool = False) -> Path:
    """Check, before any work, that ``path`` (given as ``option``) may be written: it is missing or
    ``is_ours`` says sqlfeat wrote it, and its folder exists (or, with ``create_folder``, can be
    created by the writer). Raises ``OutputPathError`` naming the path otherwise."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{option} {path} is a folder; give the path of a file")
    folder = path.parent
    if create_folder:
        while not os.path.lexists(folder) and folder != folder.parent:
            folder = folder.parent
    if not folder.is_dir():
        why = f"{folder} is not a folder" if os.path.lexists(folder) else f"folder {folder} does not exist"
        raise OutputPathError(f"{option} {path}: {why}; create it first, or write elsewhere")
    if os.path.lexists(path) and (path.is_symlink() or not _test(is_ours, path)):
        raise OutputPathError(
            f"{option} {path} already exists and sqlfeat did not write it; {_RULE}: give another path, "
            f"or delete {path} yourself"
        )
    return path


def _test(is_ours: Callable[[Path], bool], path: Path) -> bool:
    try:
        return bool(is_ours(path))
    except Exception:  # an unreadable or malformed file is not one sqlfeat recognises
        return False


# -- output folders --------------------------------------------------------------------------------


def _relative(rel: object) -> str | None:
    """``rel`` as a clean relative POSIX path inside a folder, or None (absolute, ``..``, the marker)."""
    if not isinstance(rel, str) or not rel or "\\" in rel:
        return None
    parts = PurePosixPath(rel).parts
    if PurePosixPath(rel).is_absolute() or any(p in ("..", ".") for p in parts) or rel.split("/") != list(parts):
        return None
    return None if parts[-1] == MARKER else rel


def _read_marker(root: Path, option: str) -> dict[str, str] | None:
    """The files the marker lists (path -> command), or None when ``root`` has no marker."""
    marker = root / MARKER
    if not os.path.lexists(marker):
        return None
    try:
        loaded: Any = json.loads(marker.read_text(encoding="utf-8"))
        ok = isinstance(loaded, dict) and loaded.get("format") == MARKER_FORMAT and isinstance(loaded.get("files"), dict)
    except (OSError, UnicodeDecodeError, ValueError):
        ok = False
    if not ok or marker.is_symlink():
        raise OutputPathError(
            f"{marker} is not a marker sqlfeat can read, so it cannot tell which files in {root} are its own; "
            f"pick a new or empty folder with {option}, or delete {root} yourself"
        )
    # Entries that are not clean paths inside the folder are ignored: never written, never deleted.
    return {rel: str(owner) for rel, owner in loaded["files"].items() if _relative(rel) == rel}


def is_output_folder(path: Path | str) -> bool:
    """Whether ``path`` is a folder sqlfeat marked as its output."""
    try:
        return Path(path).is_dir() and _read_marker(Path(path), "") is not None
    except OutputPathError:
        return False


class OutputFolder:
    """A folder whose files sqlfeat writes whole and regenerates: the catalog, ``target/``.

    ``open`` refuses a non-empty folder without the marker. ``claim`` (or each ``write_*``) lists a
    file in the marker before writing it, so that files of a run that crashed are still known to
    be sqlfeat's; ``prune`` then deletes the listed files of this command that this run did not
    write. Used as a context manager, a run that fails before writing anything leaves no trace: the
    folders it created are removed, an empty folder it adopted is empty again.
    """

    def __init__(
        self, root: Path, owner: str, option: str, listed: dict[str, str], created: list[Path], adopted: bool = False
    ) -> None:
        self.root = root
        self.owner = owner
        self.option = option
        self._listed = listed
        self._written: set[str] = set()
        self._created = created
        self._adopted = adopted  # an existing empty folder this run marked

    @classmethod
    def open(cls, path: Path | str, owner: str, option: str) -> OutputFolder:
        """``path`` as ``owner``'s output folder (``option`` names it in errors), created if missing."""
        root = Path(path)
        if os.path.lexists(root) and not root.is_dir():
            raise OutputPathError(f"{option} {root} is a file, not a folder; pick a folder")
        if not root.exists():
            created = _make_folders(root)
            return cls(root, owner, option, {}, created)
        listed = _read_marker(root, option)
        if listed is None:
            if any(root.iterdir()):
                raise OutputPathError(
                    f"{option} {root} is not empty and sqlfeat did not create it (no {MARKER} in it); {_RULE}. "
                    f"Pick a new or empty folder for {option}, or empty this one yourself"
                )
            _save_marker(root, {})
            return cls(root, owner, option, {}, [], adopted=True)
        return cls(root, owner, option, listed, [])

    def __enter__(self) -> OutputFolder:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        if kind is None or self._written:
            return
        try:
            if self._adopted and [p.name for p in self.root.iterdir()] == [MARKER]:
                _remove(self.root / MARKER)  # back to the empty folder it was
            for folder in reversed(self._created):
                if sorted(p.name for p in folder.iterdir()) in ([MARKER], []):
                    _remove(folder / MARKER)
                    folder.rmdir()
        except OSError:
            pass  # tidying up only: the error being raised is the one to report

    def path(self, rel: str) -> Path:
        """Where ``rel`` lives, after checking it is a clean path that stays inside the folder."""
        clean = _relative(rel)
        if clean is None:
            raise ValueError(f"{rel!r} is not a relative path inside an output folder")
        target = self.root / clean
        inside = self.root.resolve()
        if target.parent.resolve() != inside and inside not in target.parent.resolve().parents:
            raise OutputPathError(f"{target} leads outside {self.root} (through a symlink); {_RULE}: remove the link")
        return target

    def claim(self, rels: Iterable[str]) -> None:
        """List ``rels`` as this command's files before writing them; refuse, naming them all, if any
        exists without being sqlfeat's (not listed, or now a folder or a symlink)."""
        paths = {rel: self.path(rel) for rel in rels}
        foreign = sorted(
            rel for rel, target in paths.items()
            if os.path.lexists(target) and (rel not in self._listed or target.is_dir() or target.is_symlink())
        )  # fmt: skip
        if foreign:
            named = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise OutputPathError(
                f"{self.root} holds files sqlfeat did not write where it would write: {named}; {_RULE}: "
                f"move them away, or pick another folder with {self.option}"
            )
        changed = {rel for rel in paths if self._listed.get(rel) != self.owner}
        if changed:
            self._listed.update(dict.fromkeys(changed, self.owner))
            _save_marker(self.root, self._listed)

    def write_bytes(self, rel: str, data: bytes) -> Path:
        self.claim([rel])
        target = self.path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(target, data)
        self._written.add(rel)
        return target

    def write_text(self, rel: str, text: str) -> Path:
        return self.write_bytes(rel, text.encode("utf-8"))

    def prune(self, under: str = "") -> list[str]:
        """Delete this command's listed files under ``under`` that this run did not write, then the
        folders that leaves empty; return what was deleted."""
        prefix = f"{under.rstrip('/')}/" if under else ""
        stale = sorted(
            rel for rel, owner in self._listed.items()
            if owner == self.owner and rel not in self._written and rel.startswith(prefix)
        )  # fmt: skip
        removed = []
        for rel in stale:
            del self._listed[rel]
            try:
                target = self.path(rel)
            except OutputPathError:
                continue  # now reached through a symlink: not ours to follow
            if target.is_symlink() or target.is_file():
                _remove(target)
                removed.append(rel)
                _remove_empty_folders(target.parent, self.root)
        if stale:
            _save_marker(self.root, self._listed)
        return removed


def _make_folders(root: Path) -> list[Path]:
    """Create ``root`` and its missing parents, each marked (empty): they are sqlfeat's folders, so
    another command may write into them later (``docs generate`` makes ``target/catalog``, then
    ``check`` writes ``target/``)."""
    missing = []
    folder = root
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = folder.parent
    created = []
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except OSError as err:
            raise OutputPathError(f"cannot create folder {folder}: {err.strerror or err}") from err
        created.append(folder)
        _save_marker(folder, {})
    return created


def _save_marker(root: Path, files: dict[str, str]) -> None:
    document = {"format": MARKER_FORMAT, "about": _ABOUT, "files": dict(sorted(files.items()))}
    write_text_atomic(root / MARKER, json.dumps(document, indent=1) + "\n")


def _remove_empty_folders(folder: Path, root: Path) -> None:
    """Remove ``folder`` and its parents up to (not including) ``root`` while they are empty."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (a user's file, or another of ours), or gone
            return
        folder = folder.parent
