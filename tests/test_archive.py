"""Safe tar extraction: members that would land outside the destination are refused by name,
and a refused archive writes nothing."""
import io
import tarfile
from pathlib import Path

import pytest

from alexbench.data.archive import ArchiveError, UnsafeArchiveError, safe_extract


def make_tar(path: Path, members: list[tarfile.TarInfo]) -> Path:
    """A .tar.gz holding a harmless file plus the given members (regular files get 3 bytes)."""
    with tarfile.open(path, "w:gz") as tar:
        ok = tarfile.TarInfo("data/ok.txt")
        ok.size = 3
        tar.addfile(ok, io.BytesIO(b"ok\n"))
        for member in members:
            tar.addfile(member, io.BytesIO(b"bad") if member.isfile() else None)
    return path


def regular(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 3
    return info


def link(name: str, target: str, kind=tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def device(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    return info


def fifo(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.FIFOTYPE
    return info


HOSTILE = {
    "absolute": (regular("/tmp/alexbench-evil.txt"), "absolute path"),
    "dotdot": (regular("../evil.txt"), "'..'"),
    "dotdot-inside": (regular("data/../../evil.txt"), "'..'"),
    "symlink-absolute": (link("data/passwd", "/etc/passwd"), "absolute path '/etc/passwd'"),
    "symlink-outside": (link("data/up", "../../outside"), "points outside"),
    "hardlink-outside": (link("data/hard", "../outside.txt", tarfile.LNKTYPE), "hard link"),
    "device": (device("data/null"), "device file"),
    "fifo": (fifo("data/pipe"), "device file or FIFO"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_member_is_refused_by_name_and_nothing_is_written(tmp_path, case):
    member, why = HOSTILE[case]
    archive = make_tar(tmp_path / "hostile.tar.gz", [member])
    destination = tmp_path / "out" / "inside"
    with pytest.raises(UnsafeArchiveError) as excinfo:
        safe_extract(archive, destination)
    message = str(excinfo.value)
    assert f"member {member.name!r}" in message
    assert why in message
    assert str(archive) in message
    assert not destination.exists(), "a refused archive must not be partly extracted"
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/alexbench-evil.txt").exists()


def test_safe_archive_extracts_files_and_inward_links(tmp_path):
    archive = make_tar(tmp_path / "ok.tar.gz", [regular("data/sub/b.txt"),
                                                link("data/alias", "sub/b.txt")])
    names = safe_extract(archive, tmp_path / "out")
    assert "data/ok.txt" in names
    assert (tmp_path / "out" / "data" / "ok.txt").read_bytes() == b"ok\n"
    assert (tmp_path / "out" / "data" / "alias").read_bytes() == b"bad"


def test_truncated_archive_is_an_error_naming_the_file(tmp_path):
    archive = make_tar(tmp_path / "whole.tar.gz", [regular(f"data/f{i}") for i in range(50)])
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[:len(archive.read_bytes()) // 2])
    with pytest.raises(ArchiveError, match=str(cut)):
        safe_extract(cut, tmp_path / "out")


def test_not_an_archive_is_an_error_naming_the_file(tmp_path):
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(b"this is not a tar file" * 100)
    with pytest.raises(ArchiveError, match="junk.tgz: not a readable tar archive"):
        safe_extract(junk, tmp_path / "out")
