"""sqlfeat.files: writes are atomic (an interrupted write leaves the old file and no temporary
file), and an output folder never loses a file sqlfeat did not write."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqlfeat import files
from sqlfeat.errors import OutputPathError, UsageError
from sqlfeat.files import MARKER, OutputFolder, atomic_path, claim_file, is_output_folder, write_text_atomic

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative POSIX path -> bytes); folders as ``path/``."""
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        found[rel + "/" if path.is_dir() else rel] = b"" if path.is_dir() else path.read_bytes()
    return found


def temp_files(root: Path) -> list[str]:
    return [p.name for p in root.rglob("*") if p.name.endswith(files.TEMP_SUFFIX)]


# Random trees of a user's files: names that are plain, hidden, or look like sqlfeat's own.
_NAME = st.sampled_from(["notes.txt", "index.html", "views", "data", ".git", "keep", "a b.md", "run_results.json",
                         "compiled", "ü.txt", ".hidden", "report.xml"])  # fmt: skip
_PATH = st.lists(_NAME, min_size=1, max_size=3).map("/".join)


@st.composite
def user_trees(draw, min_size: int = 1) -> dict[str, bytes]:
    """{relative path: bytes}, no path both a file and a folder."""
    chosen: dict[str, bytes] = {}
    for path in draw(st.lists(_PATH, min_size=min_size, max_size=6)):
        parts = path.split("/")
        prefixes = {"/".join(parts[:i]) for i in range(1, len(parts))}
        if path in chosen or prefixes & chosen.keys() or any(p.startswith(path + "/") for p in chosen):
            continue
        chosen[path] = draw(st.binary(max_size=20))
    return chosen


def apart(user: dict[str, bytes], taken: set[str]) -> dict[str, bytes]:
    """The user's files that neither are, nor sit under, nor contain a path in ``taken``."""
    return {rel: data for rel, data in user.items()
            if not any(rel == t or rel.startswith(t + "/") or t.startswith(rel + "/") for t in taken)}  # fmt: skip


def plant(root: Path, user: dict[str, bytes]) -> None:
    for rel, data in user.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


# -- atomic writes ---------------------------------------------------------------------------------


def test_write_text_atomic_replaces_and_keeps_the_mode(tmp_path):
    path = tmp_path / "out.txt"
    write_text_atomic(path, "first\n")
    assert path.read_text() == "first\n"
    path.chmod(0o640)
    write_text_atomic(path, "second\n")
    assert path.read_bytes() == b"second\n" and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert temp_files(tmp_path) == []


@SETTINGS
@given(old=st.binary(max_size=200), new=st.binary(min_size=1, max_size=200),
       stage=st.sampled_from(["writer", "fsync", "replace"]))  # fmt: skip
def test_an_interrupted_write_leaves_the_old_file_and_no_temp_file(old, new, stage, tmp_path, monkeypatch):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = folder / "out.bin"
    path.write_bytes(old)

    class Interrupted(Exception):
        pass

    def fail(*args, **kwargs):
        raise Interrupted

    with monkeypatch.context() as patch:
        if stage != "writer":
            patch.setattr(files.os, stage, fail)
        with pytest.raises(Interrupted):
            with atomic_path(path) as temp:
                temp.write_bytes(new[: len(new) // 2])  # half written
                if stage == "writer":
                    fail()
    assert path.read_bytes() == old
    assert sorted(p.name for p in folder.iterdir()) == ["out.bin"]


def test_a_failed_rename_is_an_error_naming_the_path(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "child").write_text("x")
    with pytest.raises(OutputPathError, match="cannot write .*taken"):
        write_text_atomic(tmp_path / "taken", "text")
    assert temp_files(tmp_path) == [] and (tmp_path / "taken" / "child").read_text() == "x"


# -- output folders --------------------------------------------------------------------------------


def test_a_new_folder_and_its_missing_parents_are_created_and_marked(tmp_path):
    root = tmp_path / "a" / "b"
    with OutputFolder.open(root, "cmd", "--output") as out:
        out.write_text("x/y.txt", "y")
    assert is_output_folder(tmp_path / "a") and is_output_folder(root)
    marker = json.loads((root / MARKER).read_text())
    assert marker["files"] == {"x/y.txt": "cmd"} and marker["format"] == "sqlfeat-output/1"


def test_an_empty_folder_is_adopted(tmp_path):
    OutputFolder.open(tmp_path, "cmd", "--output").write_text("a.txt", "a")
    assert is_output_folder(tmp_path) and (tmp_path / "a.txt").read_text() == "a"


@SETTINGS
@given(user=user_trees())
def test_a_non_empty_folder_without_the_marker_is_refused_untouched(user, tmp_path):
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    plant(root, user)
    before = tree(root)
    with pytest.raises(OutputPathError) as refused:
        OutputFolder.open(root, "cmd", "--output")
    message = str(refused.value)
    assert str(root) in message and "--output" in message and "new or empty folder" in message
    assert isinstance(refused.value, UsageError), "exit status 2"
    assert tree(root) == before


@SETTINGS
@given(user=user_trees(), first=st.sets(st.sampled_from(["p/1.html", "p/2.html", "q.css", "r/s/t.txt"]), min_size=1),
       second=st.sets(st.sampled_from(["p/1.html", "p/2.html", "q.css", "r/s/t.txt"])))  # fmt: skip
def test_regenerating_deletes_only_what_sqlfeat_wrote(user, first, second, tmp_path):
    root = Path(tempfile.mkdtemp(dir=tmp_path)) / "out"
    with OutputFolder.open(root, "cmd", "--output") as out:
        for rel in first:
            out.write_text(rel, f"one {rel}")
        out.prune()
    # The user adds files anywhere sqlfeat did not write, including inside its sub-folders.
    user = apart(user, first | second)
    plant(root, user)
    with OutputFolder.open(root, "cmd", "--output") as out:
        for rel in second:
            out.write_text(rel, f"two {rel}")
        removed = out.prune()
    after = tree(root)
    assert {rel: after.get(rel) for rel in user} == user, "every user file survives"
    assert sorted(removed) == sorted(first - second)
    for rel in second:
        assert after[rel] == f"two {rel}".encode()
    for rel in first - second:
        assert rel not in after
    # Folders emptied by the prune are gone; no temporary file is left.
    assert not [rel for rel in after if rel.endswith("/") and not any(k.startswith(rel) for k in after if k != rel)]
    assert temp_files(root) == []
    assert set(json.loads((root / MARKER).read_text())["files"]) == second


def test_writing_over_a_file_sqlfeat_did_not_write_is_refused(tmp_path):
    with OutputFolder.open(tmp_path / "out", "cmd", "--output") as out:
        out.write_text("index.html", "ours")
    (tmp_path / "out" / "notes.html").write_text("mine")
    (tmp_path / "out" / "views").mkdir()
    (tmp_path / "out" / "views" / "a.html").write_text("mine too")
    out = OutputFolder.open(tmp_path / "out", "cmd", "--output")
    with pytest.raises(OutputPathError, match="notes.html, views/a.html"):
        out.claim(["index.html", "notes.html", "views/a.html", "views/b.html"])
    assert (tmp_path / "out" / "notes.html").read_text() == "mine"
    assert set(json.loads((tmp_path / "out" / MARKER).read_text())["files"]) == {"index.html"}, "nothing claimed"


def test_another_commands_files_are_not_pruned(tmp_path):
    with OutputFolder.open(tmp_path, "check", "--target-path") as out:
        out.write_text("compiled/a.sql", "a")
        out.write_text("run_results.json", "{}")
    with OutputFolder.open(tmp_path, "docs", "--output") as out:
        out.write_text("index.html", "i")
        out.prune()
    with OutputFolder.open(tmp_path, "check", "--target-path") as out:
        out.write_text("compiled/b.sql", "b")
        out.prune("compiled")
    assert sorted(tree(tmp_path)) == [MARKER, "compiled/", "compiled/b.sql", "index.html", "run_results.json"]


def test_a_tampered_marker_cannot_reach_outside_the_folder(tmp_path):
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "a.html").write_text("keep too")
    root = tmp_path / "out"
    root.mkdir()
    (root / "views").symlink_to(tmp_path / "elsewhere")
    OutputFolder.open(root / "nested", "docs", "--output")  # a marker of its own, never listed as a file
    listed = {"../precious.txt": "cmd", str(outside): "cmd", "views/a.html": "cmd", f"nested/{MARKER}": "cmd"}
    (root / MARKER).write_text(json.dumps({"format": "sqlfeat-output/1", "files": listed}))
    out = OutputFolder.open(root, "cmd", "--output")
    assert out.prune() == []
    assert outside.read_text() == "keep" and (tmp_path / "elsewhere" / "a.html").read_text() == "keep too"
    assert is_output_folder(root / "nested")
    with pytest.raises(OutputPathError, match="symlink"):
        out.write_text("views/b.html", "no")
    assert not (tmp_path / "elsewhere" / "b.html").exists()


@pytest.mark.parametrize("marker", ["not json", "[]", '{"format": "other", "files": {}}', '{"format": "sqlfeat-output/1"}'])
def test_an_unreadable_marker_is_refused(tmp_path, marker):
    (tmp_path / MARKER).write_text(marker)
    (tmp_path / "mine.txt").write_text("mine")
    with pytest.raises(OutputPathError, match="not a marker sqlfeat can read"):
        OutputFolder.open(tmp_path, "cmd", "--output")
    assert not is_output_folder(tmp_path)


def test_a_run_that_fails_before_writing_removes_the_folders_it_created(tmp_path):
    with pytest.raises(RuntimeError):
        with OutputFolder.open(tmp_path / "new" / "out", "cmd", "--output"):
            raise RuntimeError("definitions do not load")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError):
        with OutputFolder.open(tmp_path / "kept", "cmd", "--output"):
            raise RuntimeError
    assert (tmp_path / "kept").is_dir() and list((tmp_path / "kept").iterdir()) == [], "a folder it did not create stays, empty"


def test_a_file_given_as_the_folder_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputPathError, match="is a file"):
        OutputFolder.open(tmp_path / "file", "cmd", "--output")


# -- single files ----------------------------------------------------------------------------------


def test_claim_file(tmp_path):
    def ours(path: Path) -> bool:
        return path.read_text().startswith("sqlfeat")

    assert claim_file(tmp_path / "new.xml", ours, "--junit") == tmp_path / "new.xml"
    (tmp_path / "mine.xml").write_text("pytest's report")
    with pytest.raises(OutputPathError, match=r"--junit .*mine.xml already exists and sqlfeat did not write it"):
        claim_file(tmp_path / "mine.xml", ours, "--junit")
    (tmp_path / "ours.xml").write_text("sqlfeat report")
    claim_file(tmp_path / "ours.xml", ours, "--junit")
    (tmp_path / "link.xml").symlink_to(tmp_path / "ours.xml")
    with pytest.raises(OutputPathError):
        claim_file(tmp_path / "link.xml", ours, "--junit")
    with pytest.raises(OutputPathError, match="folder .*missing does not exist"):
        claim_file(tmp_path / "missing" / "out.parquet", ours, "--out")
    claim_file(tmp_path / "missing" / "deeper" / "out.xml", ours, "--junit", create_folder=True)
    with pytest.raises(OutputPathError, match="mine.xml is not a folder"):
        claim_file(tmp_path / "mine.xml" / "out.xml", ours, "--junit", create_folder=True)
    with pytest.raises(OutputPathError, match="is a folder"):
        claim_file(tmp_path, ours, "--out")

    def broken(path: Path) -> bool:
        raise ValueError("not parquet")

    with pytest.raises(OutputPathError):
        claim_file(tmp_path / "mine.xml", broken, "--out")
    assert (tmp_path / "mine.xml").read_text() == "pytest's report"
    assert not os.path.exists(tmp_path / "missing")
