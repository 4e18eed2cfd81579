"""What the embedded server's account can reach, and the directories salesbot makes for it.

As root, PostgreSQL runs as an unprivileged account. This module decides, from permission bits,
whether that account can reach a path (it never changes a permission of a directory it did not
make), makes salesbot's own directories for it, and mirrors the PostgreSQL programs into one of
them when the account cannot read the wheel's copy.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

import msgspec

from salesbot_postgres.errors import EmbeddedPostgresError

SEARCH = 0o1
READ = 0o4
# salesbot's own directories: the server's group may pass (and, for the programs, list); nobody
# else may enter.
PASSAGE_MODE = 0o710
PROGRAMS_MODE = 0o750
_PROGRAM_FILE_MODE = 0o750
_DATA_FILE_MODE = 0o640


class ServerAccount(msgspec.Struct, frozen=True):
    """The account PostgreSQL runs as: its uid and primary gid (it gets no other groups)."""

    name: str
    uid: int
    gid: int


def _granted(status: os.stat_result, account: ServerAccount, wanted: int) -> bool:
    """Whether the permission bits give ``account`` every bit of ``wanted`` (rwx as 4/2/1).

    Owner bits apply to the owner, group bits to the group, other bits to the rest, each
    exclusively (as the kernel decides; ACLs are not consulted)."""
    if status.st_uid == account.uid:
        shift = 6
    elif status.st_gid == account.gid:
        shift = 3
    else:
        shift = 0
    return (status.st_mode >> shift) & wanted == wanted


def _directories_on_the_way(path: Path) -> list[Path]:
    """Every directory the kernel enters to reach ``path``, itself included: along the path as
    written (each step followed through symlinks) and along its resolved form."""
    absolute = Path(os.path.abspath(path))
    steps = [*reversed(absolute.parents), absolute]
    resolved = absolute.resolve()
    for step in [*reversed(resolved.parents), resolved]:
        if step not in steps:
            steps.append(step)
    return steps


def first_unreachable(path: Path, account: ServerAccount) -> Path | None:
    """The first directory on the way to (and including) directory ``path`` that ``account``
    cannot search, or None when it can reach ``path``."""
    for directory in _directories_on_the_way(path):
        try:
            status = directory.stat()
        except OSError:
            return directory
        if not _granted(status, account, SEARCH):
            return directory
    return None


def can_read_tree(root: Path, account: ServerAccount) -> bool:
    """Whether ``account`` can reach ``root``, list and enter each directory under it, read each
    file and run each file its owner may run (what PostgreSQL needs of its installation)."""
    if first_unreachable(root, account) is not None:
        return False
    for directory, _, files in os.walk(root):
        if not _granted(os.stat(directory), account, READ | SEARCH):
            return False
        for name in files:
            status = os.stat(Path(directory) / name)
            if not _granted(status, account, _needed_for(status)):
                return False
    return True


def _needed_for(status: os.stat_result) -> int:
    return READ | SEARCH if status.st_mode & stat.S_IXUSR else READ


def make_own_directory(path: Path, account: ServerAccount, mode: int = PASSAGE_MODE) -> None:
    """Create ``path`` and its missing parents as salesbot's own: owned by us with the account's
    group, ``mode``. Directories that already exist are left as they are; if one of them keeps
    the account out, say so."""
    for directory in [*reversed(path.parents), path]:
        try:
            directory.mkdir()
        except FileExistsError:
            continue
        os.chown(directory, os.geteuid(), account.gid)
        directory.chmod(mode)
    blocked = first_unreachable(path, account)
    if blocked is not None:
        raise EmbeddedPostgresError(
            f"the account {account.name!r} that runs PostgreSQL cannot enter {blocked} "
            f"(mode {stat.filemode(blocked.stat().st_mode)}), on the way to {path}; "
            "choose a directory it can reach for the embedded server's files"
        )


def _trees_digest(base: Path, trees: Sequence[Path]) -> str:
    """Names a copy: where the trees are, and the size and time of each file directly in them
    (the programs of a ``bin``), so an upgraded wheel gets a new copy."""
    digest = hashlib.sha256(str(base.resolve()).encode())
    for tree in trees:
        digest.update(f"\0{tree}".encode())
        for directory in (base / tree, base / tree / "bin"):
            for entry in sorted(directory.iterdir()) if directory.is_dir() else []:
                status = entry.stat()
                digest.update(f"\0{entry.name}\0{status.st_size}\0{status.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def mirrored_trees(
    base: Path, trees: Sequence[Path], home: Path, account: ServerAccount, *, name: str
) -> Path:
    """A copy under ``home`` that ``account`` can read of the directory trees ``trees``
    (relative to ``base``, kept at the same relative places, since programs find their
    libraries by relative paths): made once (in a temporary sibling, then renamed into place,
    so a copy that exists is complete) and reused. Files are hard links where the filesystem
    allows and the file's own bits let the account read it, else copies; every directory is
    ours, mode 0750 with the account's group."""
    target = home / f"{name}-{_trees_digest(base, trees)}"
    if target.is_dir():
        return target
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=home))
    try:
        _own(staging, account, PROGRAMS_MODE)
        for tree in trees:
            for parent in reversed(tree.parents[:-1]):  # the directories leading to it
                if not (staging / parent).exists():
                    (staging / parent).mkdir()
                    _own(staging / parent, account, PROGRAMS_MODE)
            _copy_tree(base / tree, staging / tree, account)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():  # not a concurrent start that got there first
                raise
            shutil.rmtree(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _copy_tree(source: Path, destination: Path, account: ServerAccount) -> None:
    destination.mkdir()
    _own(destination, account, PROGRAMS_MODE)
    for directory, subdirectories, files in os.walk(source):
        relative = Path(directory).relative_to(source)
        for name in subdirectories:
            made = destination / relative / name
            if (Path(directory) / name).is_symlink():
                made.symlink_to(os.readlink(Path(directory) / name))
                continue
            made.mkdir()
            _own(made, account, PROGRAMS_MODE)
        for name in files:
            _copy_file(Path(directory) / name, destination / relative / name, account)


def _copy_file(source: Path, destination: Path, account: ServerAccount) -> None:
    if source.is_symlink():
        destination.symlink_to(os.readlink(source))
        return
    status = source.stat()
    if _granted(status, account, _needed_for(status)):
        try:
            os.link(source, destination)
        except OSError as error:
            if error.errno not in {errno.EXDEV, errno.EPERM, errno.EACCES, errno.EMLINK}:
                raise
        else:
            return
    shutil.copyfile(source, destination)
    program = status.st_mode & stat.S_IXUSR
    _own(destination, account, _PROGRAM_FILE_MODE if program else _DATA_FILE_MODE)


def _own(path: Path, account: ServerAccount, mode: int) -> None:
    os.chown(path, os.geteuid(), account.gid)
    path.chmod(mode)
