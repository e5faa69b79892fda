"""Unpack tar archives (.tar, .tar.gz, .tgz) without letting any member land outside the target.

Every member is checked before anything is written, so a hostile archive is refused whole and
the error names the offending member. Refused: absolute names, `..` components, symbolic links
that are absolute or climb with `..`, hard links to names outside the archive, device files and
FIFOs. Extraction then also runs through tarfile's own `data` filter as a second line of
defence. Stdlib only.

Not for: reading dataset formats (`readers.py`) or zip archives (no dataset in use needs them).
"""
import logging
import tarfile
from pathlib import Path

log = logging.getLogger("alexbench.data.archive")


class ArchiveError(ValueError):
    """The archive cannot be read (not a tar file, truncated, corrupt)."""


class UnsafeArchiveError(ArchiveError):
    """An archive member would escape the destination or is not a plain file/folder/link."""


def _climbs(path: str) -> bool:
    return ".." in path.replace("\\", "/").split("/")


def _is_absolute(path: str) -> bool:
    # A drive letter or UNC prefix is as absolute as a leading slash for our purposes.
    return path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":")


def check_member(archive: Path, member: tarfile.TarInfo) -> None:
    """Raise UnsafeArchiveError naming the member if extracting it could escape the target."""
    name = member.name

    def refuse(why: str):
        raise UnsafeArchiveError(f"{archive}: refusing member {name!r}: {why}")

    if _is_absolute(name):
        refuse("absolute path")
    if _climbs(name):
        refuse("path contains a '..' component")
    if member.isdev():
        refuse("device file or FIFO")
    if member.issym():
        target = member.linkname
        # Links may only point down into the archive: a link that climbs can be chained
        # through other links into an escape that no lexical check of one link would see.
        if _is_absolute(target):
            refuse(f"symbolic link to absolute path {target!r}")
        if _climbs(target):
            refuse(f"symbolic link {target!r} points outside its folder ('..')")
    elif member.islnk():
        target = member.linkname
        if _is_absolute(target) or _climbs(target):
            refuse(f"hard link to {target!r} outside the archive")
    elif not (member.isfile() or member.isdir()):
        refuse(f"unsupported member type {member.type!r}")


def check_archive(archive: Path) -> list[tarfile.TarInfo]:
    """Check every member of `archive`; return the members when all are safe."""
    archive = Path(archive)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(f"{archive}: not a readable tar archive: {exc}") from exc
    for member in members:
        check_member(archive, member)
    return members


def safe_extract(archive: Path, destination: Path) -> list[str]:
    """Extract `archive` into `destination` after checking every member; return member names.

    Nothing is written when any member is refused.
    """
    archive, destination = Path(archive), Path(destination)
    members = check_archive(archive)
    destination.mkdir(parents=True, exist_ok=True)
    log.info("extracting %d members of %s into %s", len(members), archive, destination)
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(destination, members=members, filter="data")
    except tarfile.FilterError as exc:
        # Our checks should have caught it first; the filter's message names the member too.
        raise UnsafeArchiveError(f"{archive}: {exc}") from exc
    except (tarfile.TarError, EOFError) as exc:
        raise ArchiveError(f"{archive}: extraction failed: {exc}") from exc
    return [m.name for m in members]
