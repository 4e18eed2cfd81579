"""What the embedded server's account can reach, decided from permission bits, and salesbot's
copy of an installation it cannot read. Runs as any user: the account is made up, and only
permission bits (no real account) decide."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from salesbot_postgres.embedded_access import (
    ServerAccount,
    can_read_tree,
    first_unreachable,
    mirrored_trees,
)

STRANGER_UID = 54_321  # an account that owns nothing here and is in none of its groups


def _stranger(gid: int = 54_321) -> ServerAccount:
    return ServerAccount(name="stranger", uid=STRANGER_UID, gid=gid)


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder of ours directly in the temp dir (whose parents everyone may search)."""
    made = Path(tempfile.mkdtemp(prefix="salesbot-access-"))
    yield made
    made.chmod(0o700)
    shutil.rmtree(made)


def test_search_is_decided_by_the_owner_then_the_group_then_the_others_bits(
    folder: Path,
) -> None:
    owner = ServerAccount(name="owner", uid=folder.stat().st_uid, gid=STRANGER_UID)
    in_group = _stranger(gid=folder.stat().st_gid)
    other = _stranger()
    inside = folder / "data"
    inside.mkdir(mode=0o755)

    assert first_unreachable(inside, other) == folder  # mkdtemp's 0700
    folder.chmod(0o070)  # the group may search; its owner may not, even though in the group
    assert first_unreachable(inside, owner) == folder
    assert first_unreachable(inside, in_group) is None
    assert first_unreachable(inside, other) == folder
    folder.chmod(0o701)  # the others may search; the group may not
    assert first_unreachable(inside, in_group) == folder
    assert first_unreachable(inside, other) is None


def test_a_symlink_is_followed_to_where_it_leads(folder: Path) -> None:
    private = folder / "private"
    private.mkdir(mode=0o700)
    (private / "data").mkdir(mode=0o755)
    (folder / "way-in").symlink_to(private)
    folder.chmod(0o711)

    # Through the link, the account meets the private folder it leads to.
    assert first_unreachable(folder / "way-in" / "data", _stranger()) == folder / "way-in"
    private.chmod(0o711)
    assert first_unreachable(folder / "way-in" / "data", _stranger()) is None


def test_a_tree_is_readable_only_if_every_folder_and_file_in_it_is(folder: Path) -> None:
    account = _stranger()
    tree = folder / "pginstall"
    (tree / "bin").mkdir(parents=True)
    program = tree / "bin" / "initdb"
    program.write_text("#!/bin/sh\n")
    library = tree / "libpq.so"
    library.write_text("elf")
    for path, mode in ((folder, 0o711), (tree, 0o755), (tree / "bin", 0o755)):
        path.chmod(mode)
    program.chmod(0o755)
    library.chmod(0o644)
    assert can_read_tree(tree, account)

    library.chmod(0o600)
    assert not can_read_tree(tree, account)
    library.chmod(0o644)
    program.chmod(0o744)  # readable, but only its owner may run it
    assert not can_read_tree(tree, account)
    program.chmod(0o755)
    (tree / "bin").chmod(0o711)  # enterable, not listable
    assert not can_read_tree(tree, account)


def test_an_installation_is_mirrored_once_by_hard_links_and_reused(tmp_path: Path) -> None:
    # The account shares our group, so the mirror's group ownership needs no privilege.
    account = _stranger(gid=os.getgid())
    base = tmp_path / "site-packages"
    programs = base / "pkg" / "pginstall" / "bin"
    programs.mkdir(parents=True)
    (programs / "postgres").write_text("#!/bin/sh\n")
    (programs / "postgres").chmod(0o755)
    (base / "pkg" / "pginstall" / "secret.conf").write_text("mine")
    (base / "pkg" / "pginstall" / "secret.conf").chmod(0o600)  # the account may not read it
    (base / "pkg.libs").mkdir()
    (base / "pkg.libs" / "libpq.so").write_text("elf")
    (base / "pkg.libs" / "libpq.so").chmod(0o644)
    home = tmp_path / "home"
    home.mkdir()
    trees = [Path("pkg/pginstall"), Path("pkg.libs")]

    mirror = mirrored_trees(base, trees, home, account, name="pginstall")
    again = mirrored_trees(base, trees, home, account, name="pginstall")

    assert again == mirror
    assert [p.name for p in home.iterdir()] == [mirror.name]  # no staging left behind
    linked = mirror / "pkg" / "pginstall" / "bin" / "postgres"
    assert linked.stat().st_ino == (programs / "postgres").stat().st_ino
    assert (mirror / "pkg.libs" / "libpq.so").stat().st_ino == (
        base / "pkg.libs" / "libpq.so"
    ).stat().st_ino
    copied = (mirror / "pkg" / "pginstall" / "secret.conf").stat()
    assert copied.st_ino != (base / "pkg" / "pginstall" / "secret.conf").stat().st_ino
    assert (stat.S_IMODE(copied.st_mode), copied.st_gid) == (0o640, account.gid)
    for directory in [mirror, *(p for p in mirror.rglob("*") if p.is_dir())]:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o750
        assert directory.stat().st_gid == account.gid
    # A changed program (an upgraded wheel) gets a copy of its own.
    (programs / "postgres").write_text("#!/bin/sh\nexit 0\n")
    assert mirrored_trees(base, trees, home, account, name="pginstall") != mirror
