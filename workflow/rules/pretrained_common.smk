# Parse-time set-up of the published-weights stage (workflow/rules/pretrained.smk): the weights
# block's cross-checks, the table of pretrained evaluations and their get_* input functions.
# No rules here.
from alexbench.pretrained.runs import (
    WeightsConfigError,
    check_weights,
    pretrained_runs,
    weights_for,
)
from alexbench.workflow_config import SMOKE_IMAGES

try:
    check_weights(config)
except WeightsConfigError as error:
    raise WorkflowError(str(error)) from None

PRETRAINED_RUNS = pretrained_runs(config, gpu_visible=gpu_visible())


wildcard_constraints:
    weights="[a-z0-9_]+",


def get_weights_entry(wildcards):
    return config["weights"][wildcards.weights]


def get_weights_download_urls(wildcards):
    """Demo: the synthetic copy alone; else mirror (<mirror>/weights/<file>, <mirror>/<file>),
    then the official URLs."""
    name = wildcards.file
    if DEMO:
        return [
            Path(f"resources/synthetic/weights/{wildcards.weights}/{name}")
            .resolve()
            .as_uri()
        ]
    urls = []
    if config["mirror"]:
        base = config["mirror"].rstrip("/")
        urls += [f"{base}/weights/{name}", f"{base}/{name}"]
    return urls + [f"{url}{name}" for url in get_weights_entry(wildcards)["urls"]]


def get_weights_download_args(wildcards):
    urls = " ".join(f"--url {url}" for url in get_weights_download_urls(wildcards))
    if DEMO:
        sums = f"resources/synthetic/weights/{wildcards.weights}/SHA1SUMS"
        return f"--digest-file sha1:{sums} {urls}"
    entry = get_weights_entry(wildcards)
    digests = " ".join(
        f"--digest {kind}:{value}" for kind, value in sorted(entry["checksums"].items())
    )
    size = f" --bytes {entry['bytes']}" if "bytes" in entry else ""
    return f"{digests}{size} {urls}"


def get_weights_download_inputs(wildcards):
    if DEMO:
        return {"sums": f"resources/synthetic/weights/{wildcards.weights}/SHA1SUMS"}
    return {}


def get_weights_file(wildcards):
    return get_weights_entry(wildcards)["file"]


def get_caffemodel(wildcards):
    entry = get_weights_entry(wildcards)
    return f"resources/downloads/weights/{wildcards.weights}/{entry['file']}"


def get_pretrained_weights_name(wildcards):
    try:
        return weights_for(config, wildcards.model, wildcards.dataset)
    except KeyError as error:
        raise WorkflowError(str(error)) from None


def get_pretrained_code(wildcards):
    """The code an evaluation depends on, so that editing it reruns the evaluation."""
    package = SCRIPTS / "alexbench"
    files = [SCRIPTS / "evaluate_pretrained.py"]
    for folder in ("common", "harness", "pretrained", f"fw_{wildcards.framework}"):
        files += sorted((package / folder).glob("*.py"))
    return [os.path.relpath(f, workflow.basedir) for f in files]


def get_pretrained_inputs(wildcards):
    name = get_pretrained_weights_name(wildcards)
    return {
        "weights": f"resources/prepared/weights/{name}.npz",
        "data": get_prepared_files(wildcards.dataset),
        "code": get_pretrained_code(wildcards),
        "env": get_env_inputs(get_train_env(wildcards)),
    }


def get_pretrained_batch_size(wildcards):
    return config["weights"][get_pretrained_weights_name(wildcards)].get(
        "batch_size", 50
    )


def get_pretrained_max_images_arg():
    smoke = config["smoke"] or config["demo"]
    return f"--max-images {SMOKE_IMAGES}" if smoke else ""


def get_agreement_logits(wildcards):
    return [
        f"{run.path}/logits.npy"
        for run in PRETRAINED_RUNS
        if (run.dataset, run.model, run.hardware)
        == (wildcards.dataset, wildcards.model, wildcards.hardware)
    ]


def get_agreement_paths():
    keys = sorted({(r.dataset, r.model, r.hardware) for r in PRETRAINED_RUNS})
    return [f"results/pretrained/agreement/{d}/{m}/{h}.json" for d, m, h in keys]


def get_pretrained_metrics():
    return [f"{run.path}/metrics.json" for run in PRETRAINED_RUNS]


def get_pretrained_outputs():
    return get_pretrained_metrics() + get_agreement_paths()


def get_pretrained_report_inputs():
    """What the report waits for: all evaluations, or with report_allow_missing (after
    --keep-going) those that finished; the others are listed as missing."""
    if config["report_allow_missing"]:
        return [path for path in get_pretrained_outputs() if Path(path).exists()]
    return get_pretrained_outputs()


def get_pretrained_report_args():
    runs = " ".join(f"--pretrained-run-dir {run.path}" for run in PRETRAINED_RUNS)
    agreements = " ".join(f"--agreement {path}" for path in get_agreement_paths())
    return f"{runs} {agreements}".strip()
