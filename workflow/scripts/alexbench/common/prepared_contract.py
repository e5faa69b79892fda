"""The prepared-data contract, defined once: the file names of resources/prepared/<dataset>/ and
the meta.json schema (workflow/schemas/prepared-meta.schema.json). The prepare job writes by it,
training jobs read by it and the workflow lists its files as rule outputs. Standard library only.
"""
from alexbench.common import run_contract

SPLITS = ("train", "test")
META_FILE = "meta.json"
META_SCHEMA = run_contract.SCHEMA_DIR / "prepared-meta.schema.json"


def images_file(split: str) -> str:
    return f"{split}-images.npy"   # uint8 (N, H, W, C)


def labels_file(split: str) -> str:
    return f"{split}-labels.npy"   # int64 (N,)


# meta.json last: it is written last, and marks the folder complete.
FILES = tuple(name for split in SPLITS for name in (images_file(split), labels_file(split))) + (META_FILE,)


def meta_problems(meta) -> list:
    """Every way `meta` breaks the schema, as '$.key: problem' strings (empty: it conforms)."""
    return run_contract.validation_errors(meta, run_contract.load_schema(META_SCHEMA))
