"""Atomic output files: write to a hidden temporary file in the same folder, then os.replace, so
readers see the old file or the whole new one and an interrupted job never leaves a result that
looks complete. Stdlib only (used by every env). Not for reading anything."""
import os
import tempfile
from pathlib import Path


def write_atomically(path, write, mode: str = "w") -> Path:
    """Call write(file_object) on a temp file next to `path`, then move it into place."""
    text = {"encoding": "utf-8", "newline": ""} if "b" not in mode else {}

    def save(tmp):
        with open(tmp, mode, **text) as f:
            write(f)
    return write_via_path(path, save)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path, text: str) -> Path:
    return write_atomically(path, lambda f: f.write(text))


def write_via_path(path, save, suffix: str = "") -> Path:
    """For libraries that only write to a file name (Keras's save_weights, Gluon's
    save_parameters): call save(temporary path) next to `path`, then move it into place.
    `suffix` ends the temporary name where the library checks the extension."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    try:
        save(tmp)
        # mkstemp creates 0600; results are ordinary files others may read (umask decides).
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
