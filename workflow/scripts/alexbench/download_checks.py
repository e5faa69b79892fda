"""What a download is checked against: the sha256 always, the size only where it belongs to it.

config.yaml pairs each official file's sha256 with its size. A user who overrides only the
sha256 (a re-compressed mirror copy, an internal mirror) keeps the official size by merging,
and that size belongs to another file: the check would refuse the copy the user vouched for.
So when the sha256 differs from the workflow's own config.yaml and the size does not, the size
check is dropped for that file, and the download's log says so.

Used by workflow/rules/common.smk at parse time. Stdlib only.
"""
from __future__ import annotations

import shlex


def checksum_args(dataset: str, file_name: str, entry: dict, official: dict | None) -> str:
    """download.py's --sha256 [--bytes N | --size-unchecked REASON] for one file.

    `entry` is the file's merged config entry, `official` the workflow's config.yaml entry
    for it (None when the file is not in config.yaml).
    """
    args = f"--sha256 {entry['sha256']}"
    if "bytes" not in entry:
        return args
    overridden_digest = official is not None and entry["sha256"] != official.get("sha256")
    if overridden_digest and entry["bytes"] == official.get("bytes"):
        reason = (f"datasets.{dataset}.files.{file_name}.sha256 is overridden without bytes; "
                  f"the official size ({entry['bytes']} bytes) belongs to the official file")
        return f"{args} --size-unchecked {shlex.quote(reason)}"
    return f"{args} --bytes {entry['bytes']}"
