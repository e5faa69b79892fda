"""Unpack tar archives (.tar, .tar.gz, .tgz) without letting any member land outside the target.

Every member is checked before anything is written, so a hostile archive is refused whole and
the error names the archive and the offending member. Refused: absolute names, `..` components,
symbolic links that are absolute or climb with `..`, hard links to names outside the archive,
device files and FIFOs, and a name that occurs twice (extraction would silently keep the last
copy). Extraction then also runs through tarfile's own `data` filter as a second line of
defence. Stdlib only.

Sizes are bounded before a byte is inflated to disk: given a `MemberPolicy`, each member's size
as its tar header declares it is checked against the ceiling the dataset format allows, and the
sum against a total (`max_inflated_mb` in config). Members the policy does not know are skipped,
each named in the log. The headers are read one at a time, so a bomb is refused as soon as its
header is seen, without inflating what follows it.

Not for: reading dataset formats (`readers.py`) or zip archives (no dataset in use needs them).
"""
import logging
import posixpath
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("alexbench.data.archive")


class ArchiveError(ValueError):
    """The archive cannot be read (not a tar file, truncated, corrupt)."""


class UnsafeArchiveError(ArchiveError):
    """An archive member would escape the destination or is not a plain file/folder/link."""


class ArchiveLimitError(ArchiveError):
    """An archive holds more than its format allows: a member or the total too large, a name
    twice, too many members."""


# Imagenette-320, the largest archive in use, holds about 13,400 files and 20 folders.
DEFAULT_MAX_MEMBERS = 100_000


@dataclass(frozen=True)
class MemberPolicy:
    """What an archive may hold. `limit(name)` gives (largest size in bytes, what the member
    is) for a member the dataset needs, or None for one it does not (skipped and logged)."""
    limit: Callable[[str], tuple[int, str] | None]
    max_total_bytes: int
    max_members: int = DEFAULT_MAX_MEMBERS


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


def _checked_members(archive: Path, tar: tarfile.TarFile, policy: MemberPolicy | None):
    """Check each member as its header is read; return (members to extract, skipped names)."""
    kept, skipped, seen = [], [], set()
    total_bytes = 0
    for count, member in enumerate(tar, start=1):
        check_member(archive, member)
        name = member.name

        def refuse(why: str):
            raise ArchiveLimitError(f"{archive}: refusing member {name!r}: {why}")

        if policy and count > policy.max_members:
            refuse(f"more than {policy.max_members} members")
        if member.isdir():
            kept.append(member)
            continue
        key = posixpath.normpath(name)
        if key in seen:
            refuse("the name occurs twice in the archive (extraction would keep only the last)")
        seen.add(key)
        if policy is None:
            kept.append(member)
            continue
        allowed = policy.limit(name)
        if allowed is None:
            skipped.append(name)
            continue
        max_bytes, what = allowed
        if member.size > max_bytes:
            refuse(f"declares {member.size:,} bytes, more than the {max_bytes:,} bytes {what} "
                   f"can be")
        total_bytes += member.size
        if total_bytes > policy.max_total_bytes:
            refuse(f"the archive's members would inflate to more than "
                   f"{policy.max_total_bytes / 2**20:,.0f} MB (max_inflated_mb in config)")
        kept.append(member)
    return kept, skipped


def check_archive(archive: Path, policy: MemberPolicy | None = None) -> list[tarfile.TarInfo]:
    """Check every member of `archive`; return the members to extract when all are safe.

    Without a policy every member is kept; with one, only those the policy knows, within its
    size limits (the others are logged by name and left out).
    """
    archive = Path(archive)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members, skipped = _checked_members(archive, tar, policy)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(f"{archive}: not a readable tar archive: {exc}") from exc
    for name in skipped:
        log.warning("%s: ignoring unexpected member %r", archive, name)
    return members


def safe_extract(archive: Path, destination: Path, policy: MemberPolicy | None = None) -> list[str]:
    """Extract `archive` into `destination` after checking every member; return member names.

    Nothing is written when any member is refused.
    """
    archive, destination = Path(archive), Path(destination)
    members = check_archive(archive, policy)
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
