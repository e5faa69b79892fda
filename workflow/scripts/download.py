"""Download one official dataset file from mirrors, verify its digests, move it into place.

    python workflow/scripts/download.py --out resources/downloads/mnist/train-images-idx3-ubyte.gz \
        (--sha256 HEX | --sha256-file SHA256SUMS | --digest sha1:HEX | --digest-file sha1:SHA1SUMS)... \
        [--bytes N] --url URL1 --url URL2 ... [--timeout-s 60] [--retries 4]

Every digest given is checked (a source's published sha1 and a sha256 pinned by the user alike).

URLs are tried in the order given (http, https and file://). Exit status 1, with a message
naming each URL and why it failed, when none yields the expected bytes. Stdlib only.
"""
import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alexbench.data.download import DownloadError, Expected, download  # noqa: E402


def digest_from_list(sums: Path, file_name: str) -> str:
    """The digest that a `sha256sum` output file lists for `file_name`."""
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition(" ")
        if name.strip().lstrip("*") == file_name:
            return digest
    raise ValueError(f"{sums} lists no digest for {file_name}")


def _kind_and_value(text: str, option: str) -> tuple[str, str]:
    kind, sep, value = text.partition(":")
    if not sep or not kind or not value:
        raise ValueError(f"{option} wants KIND:VALUE (e.g. sha1:...), got {text!r}")
    return kind.lower(), value


def expected_digests(args) -> dict:
    """{kind: hex} from --sha256, --sha256-file, --digest and --digest-file; at least one."""
    digests = {}
    if args.sha256:
        digests["sha256"] = args.sha256
    if args.sha256_file:
        digests["sha256"] = digest_from_list(args.sha256_file, args.out.name)
    for text in args.digest:
        kind, value = _kind_and_value(text, "--digest")
        digests[kind] = value
    for text in args.digest_file:
        kind, path = _kind_and_value(text, "--digest-file")
        digests[kind] = digest_from_list(Path(path), args.out.name)
    if not digests:
        raise ValueError("give an expected digest: --sha256, --sha256-file, --digest or --digest-file")
    return digests


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="final path of the file")
    parser.add_argument("--sha256", help="expected sha256 of the whole file (hex)")
    parser.add_argument("--sha256-file", type=Path,
                        help="a sha256sum-format list to take the digest of --out's file name from "
                             "(the demo's synthetic archives carry their own)")
    parser.add_argument("--digest", action="append", default=[], metavar="KIND:HEX",
                        help="an expected digest of the kind its source publishes, e.g. "
                             "sha1:9116...; repeat to check several")
    parser.add_argument("--digest-file", action="append", default=[], metavar="KIND:PATH",
                        help="like --sha256-file for another kind, e.g. sha1:SHA1SUMS")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--bytes", type=int, default=None, dest="size_bytes",
                      help="expected size in bytes (optional extra check)")
    size.add_argument("--size-unchecked", metavar="REASON",
                      help="check no size, and log why (a sha256 overridden without its size)")
    parser.add_argument("--url", action="append", required=True, dest="urls",
                        help="full URL of the file; repeat for mirrors, tried in order")
    parser.add_argument("--timeout-s", type=float, default=60.0,
                        help="socket timeout per connection attempt, in seconds")
    parser.add_argument("--retries", type=int, default=4,
                        help="retries per URL after connection errors or 5xx answers")
    parser.add_argument("--backoff-s", type=float, default=1.0,
                        help="first retry delay in seconds; doubles with each retry")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    if args.size_unchecked:
        logging.getLogger("download").warning("size not checked, only the sha256: %s",
                                              args.size_unchecked)
    try:
        expected = Expected(size_bytes=args.size_bytes, digests=expected_digests(args))
        download(args.out, args.urls, expected, timeout_s=args.timeout_s, retries=args.retries,
                 backoff_s=args.backoff_s)
    except (DownloadError, ValueError) as exc:
        logging.getLogger("download").error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
