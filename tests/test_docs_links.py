"""Project files cite only documents the repository holds: no path outside it (the authors'
own notes), and every docs/*.md named somewhere exists."""
import re
import subprocess

from conftest import REPO

OUTSIDE = re.compile(r"shared/reference")
DOCS_PAGE = re.compile(r"docs/[A-Za-z0-9_.-]+\.md")


def tracked_text_files():
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, names):
        path = REPO / name
        if path.is_file() and path.suffix in {".md", ".py", ".smk", ".yaml", ".yml", ".txt",
                                              ".rst", ".j2", ".template", ".sh", ""}:
            try:
                yield name, path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue


def test_no_file_cites_a_document_outside_the_repository():
    this = "tests/test_docs_links.py"
    citing = [name for name, text in tracked_text_files()
              if name != this and OUTSIDE.search(text)]
    assert not citing, f"cite docs/ instead of documents outside the repository: {citing}"


def test_every_cited_docs_page_exists():
    missing = {(name, page) for name, text in tracked_text_files()
               for page in DOCS_PAGE.findall(text) if not (REPO / page).is_file()}
    assert not missing, sorted(missing)
