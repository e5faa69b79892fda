"""The datasets' official file names, layouts and class lists (docs/datasets.md).

One place for the names that the downloads, the synthetic datasets and the preparation must
agree on. Stdlib only. Not for URLs or checksums: those belong to the workflow's config.
"""
import re

FORMATS = ("idx", "cifar10-binary", "imagenette")

IDX_FILES = {  # split -> (images file, labels file), MNIST and Fashion-MNIST alike
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

IDX_CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
}

CIFAR_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR_FOLDER = "cifar-10-batches-bin"
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR_TEST_BATCH = "test_batch.bin"
CIFAR_META = "batches.meta.txt"
CIFAR_CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                     "ship", "truck"]

IMAGENETTE_VARIANTS = (160, 320)
IMAGENETTE_SPLITS = ("train", "val")  # val is the test split
IMAGENETTE_NOISY_CSV = "noisy_imagenette.csv"
# WordNet id -> (ImageNet-1k index, name); sorted wnids give labels 0-9.
IMAGENETTE_CLASSES = {
    "n01440764": (0, "tench"),
    "n02102040": (217, "English springer"),
    "n02979186": (482, "cassette player"),
    "n03000684": (491, "chain saw"),
    "n03028079": (497, "church"),
    "n03394916": (566, "French horn"),
    "n03417042": (569, "garbage truck"),
    "n03425413": (571, "gas pump"),
    "n03445777": (574, "golf ball"),
    "n03888257": (701, "parachute"),
}
IMAGENETTE_WNIDS = sorted(IMAGENETTE_CLASSES)


def imagenette_folder(variant: int) -> str:
    return f"imagenette2-{variant}"


def imagenette_archive(variant: int) -> str:
    return f"imagenette2-{variant}.tgz"


def imagenette_variant(dataset: str, variant: int | None = None) -> int:
    """The shorter-side size (160 or 320): from --variant, or from a name like 'imagenette-320'."""
    match = re.fullmatch(r"imagenette2?-(\d+)", dataset)
    from_name = int(match.group(1)) if match else None
    if variant is not None and from_name is not None and variant != from_name:
        raise ValueError(f"dataset {dataset!r} says variant {from_name}, --variant says {variant}")
    chosen = variant if variant is not None else from_name
    if chosen not in IMAGENETTE_VARIANTS:
        raise ValueError(f"imagenette variant must be one of {IMAGENETTE_VARIANTS} "
                         f"(from --variant or a dataset name like 'imagenette-160'); "
                         f"got {chosen!r} for dataset {dataset!r}")
    return chosen


def official_files(fmt: str, dataset: str = "", variant: int | None = None) -> list[str]:
    """The file names a dataset of this format is downloaded as."""
    if fmt == "idx":
        return [name for pair in IDX_FILES.values() for name in pair]
    if fmt == "cifar10-binary":
        return [CIFAR_ARCHIVE]
    if fmt == "imagenette":
        return [imagenette_archive(imagenette_variant(dataset, variant))]
    raise ValueError(f"unknown dataset format {fmt!r}; expected one of {FORMATS}")
