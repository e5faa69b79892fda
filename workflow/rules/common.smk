# Parse-time set-up: config validation, the table of runs, wildcard constraints and the get_*
# input functions. No rules here.
import json
import os
import sys
from pathlib import Path

import yaml
from snakemake.settings.types import DeploymentMethod
from snakemake.utils import validate

SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"
sys.path.insert(0, str(SCRIPTS))

from alexbench.common import prepared_contract, registry, run_table
from alexbench.common.hardware import bf16_support_problem, gpu_visible
from alexbench.download_checks import checksum_args
from alexbench.memory_fit import (
    machine_memory_mb,
    shortage_message,
    shortages,
    skip_reasons,
    slurm_mem_mb,
)
from alexbench.precision_plan import PrecisionError, apply as apply_precision_plan
from alexbench.venv_python import venv_python_problem
from alexbench.common.provenance_facts import git_state_environment
from alexbench.workflow_config import (
    ConfigError,
    expand_runs,
    selected_experiments,
    training_settings,
    validate_config,
)

# Fail before any job runs, naming the key. validate_config gives the dotted key path and the
# cross-references JSON Schema cannot express; Snakemake's validate then records the check.
try:
    config = validate_config(config)
except ConfigError as error:
    raise WorkflowError(str(error)) from None
validate(config, "../schemas/config.schema.yaml", set_default=False)

# Every job records the commit it ran from; read here, where git is at hand (a job env may lack
# it), and passed on in the environment, not as a parameter that would rerun every run.
os.environ.update(git_state_environment(Path(workflow.basedir)))

# profiles/default grants 2: a timed CPU run takes both, a data preparation one.
CPU_TIMING_SLOTS = 2
# The workflow's own checksums, to tell a user's sha256 override from the official pairs.
OFFICIAL_DATASETS = yaml.safe_load(
    (Path(workflow.basedir) / "config.yaml").read_text(encoding="utf-8")
)["datasets"]
USE_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
DEMO = config["demo"]
MACHINE_MB = machine_memory_mb(config["machine_memory_mb"])
if DEMO:
    # The demo must finish on a small machine: it leaves out what cannot fit, and says why in
    # the report (results/config.json). A full run stops instead (check_training_memory).
    _short = shortages(config, selected_experiments(config), MACHINE_MB)
    _kept = [n for n in selected_experiments(config) if n not in _short]
    if _short and not _kept:
        raise WorkflowError(shortage_message(config, _short, MACHINE_MB))
    if _short:
        config["experiments_only"] = _kept
        config["skipped_experiments"] = skip_reasons(config, _short, MACHINE_MB)
        for _reason in config["skipped_experiments"].values():
            print(f"demo: {_reason}", file=sys.stderr)
RUNS = expand_runs(config, gpu_visible=gpu_visible())
# A precision this machine cannot train natively, or a refused framework x precision, stops a
# full run here naming it; the demo leaves those runs out and the report says why.
try:
    RUNS, config["skipped_precisions"] = apply_precision_plan(
        RUNS, DEMO, bf16_support_problem
    )
except PrecisionError as error:
    raise WorkflowError(str(error)) from None
for _what, _reason in config["skipped_precisions"].items():
    print(f"demo: {_what} {_reason}", file=sys.stderr)
RUN_BY_KEY = {
    (r.framework, r.dataset, r.model, r.hardware, r.precision, str(r.seed)): r
    for r in RUNS
}


wildcard_constraints:
    framework=registry.alternation(registry.framework_names()),
    hardware=registry.alternation(registry.HARDWARE),
    precision=registry.alternation(registry.precision_names()),
    seed=r"\d+",
    model=registry.alternation(registry.MODELS),
    dataset=registry.alternation(config["datasets"]),
    env=registry.alternation(registry.job_envs()),
    file=r"[^/]+",
    experiment=registry.alternation(config["experiments"]),


# --- environments ------------------------------------------------------------------------------
def get_python(env):
    """The interpreter a job of `env` runs: the conda env's under --use-conda, else the venv's."""
    return "python" if USE_CONDA else f".venvs/{env}/bin/python"


def get_env_inputs(env):
    """Without conda, a job waits for its venv; with conda, Snakemake builds the env itself."""
    return [] if USE_CONDA else [f".venvs/{env}/pip-freeze.txt"]


def get_venv_python():
    return config["venv_python"] or sys.executable


def check_venv_python():
    """Before any job: a venv still to build needs a Python 3.11, named with the fix."""
    if USE_CONDA:
        return
    envs = sorted(
        p.name.removesuffix(".lock.txt") for p in Path("envs").glob("*.lock.txt")
    )
    if all(
        Path(f".venvs/{env}/pip-freeze.txt").exists() for env in envs if env != "dev"
    ):
        return
    problem = venv_python_problem(get_venv_python())
    if problem:
        raise WorkflowError(problem)


check_venv_python()


def get_train_env(wildcards):
    return registry.framework(wildcards.framework).env_name(wildcards.hardware)


def get_train_conda_file(wildcards):
    return f"../../envs/{get_train_env(wildcards)}.yaml"


def get_train_python(wildcards):
    return get_python(get_train_env(wildcards))


# --- data ------------------------------------------------------------------------------------
def get_dataset_format(wildcards):
    return config["datasets"][wildcards.dataset]["format"]


def get_dataset_spec_args(wildcards):
    """What config declares the dataset to be; prepare.py refuses files holding anything else."""
    dataset = config["datasets"][wildcards.dataset]
    shape = " ".join(map(str, dataset["image_shape"]))
    return (
        f"--image-shape {shape} --classes {dataset['classes']}"
        f" --max-inflated-mb {config['max_inflated_mb']}"
    )


def get_dataset_files(wildcards):
    return get_download_paths(wildcards.dataset)


def get_download_paths(dataset):
    return [
        f"resources/downloads/{dataset}/{name}"
        for name in config["datasets"][dataset]["files"]
    ]


def get_download_urls(wildcards):
    """URLs in the order tried: demo's local synthetic copy alone, else mirror then official."""
    dataset, name = wildcards.dataset, wildcards.file
    if DEMO:
        return [Path(f"resources/synthetic/{dataset}/{name}").resolve().as_uri()]
    urls = []
    mirror = config["mirror"]
    if mirror:
        base = mirror.rstrip("/")
        # A mirror may hold one folder per dataset (MNIST and Fashion-MNIST share file names)
        # or the files at its root; a 404 moves on at once.
        urls += [f"{base}/{dataset}/{name}", f"{base}/{name}"]
    urls += [f"{base_url}{name}" for base_url in config["datasets"][dataset]["urls"]]
    return urls


def get_download_url_args(wildcards):
    return " ".join(f"--url {url}" for url in get_download_urls(wildcards))


def get_download_inputs(wildcards):
    return (
        {"sums": f"resources/synthetic/{wildcards.dataset}/SHA256SUMS"} if DEMO else {}
    )


def get_expected_checksum_args(wildcards):
    """--sha256 (and --bytes) from config; in demo mode the synthesiser's own list of sums."""
    if DEMO:
        return f"--sha256-file resources/synthetic/{wildcards.dataset}/SHA256SUMS"
    dataset, name = wildcards.dataset, wildcards.file
    official = OFFICIAL_DATASETS.get(dataset, {}).get("files", {}).get(name)
    entry = config["datasets"][dataset]["files"][name]
    return checksum_args(dataset, name, entry, official)


def get_prepared_files(dataset):
    return [f"resources/prepared/{dataset}/{name}" for name in prepared_contract.FILES]


# --- training --------------------------------------------------------------------------------
def get_run(wildcards):
    key = (
        wildcards.framework,
        wildcards.dataset,
        wildcards.model,
        wildcards.hardware,
        wildcards.precision,
        wildcards.seed,
    )
    try:
        return RUN_BY_KEY[key]
    except KeyError:
        raise WorkflowError(
            f"no experiment in config.yaml trains {wildcards.model} on {wildcards.dataset} with "
            f"{wildcards.framework} on {wildcards.hardware} in {wildcards.precision}, "
            f"seed {wildcards.seed}"
        ) from None


def get_training_code(wildcards):
    """The code a run depends on, so that editing it reruns the run (Snakemake tracks only inputs)."""
    package = SCRIPTS / "alexbench"
    files = [SCRIPTS / "train.py"]
    files += sorted((package / "harness").glob("*.py"))
    files += sorted((package / "common").glob("*.py"))
    backend = registry.framework(wildcards.framework).package_path
    files += sorted((SCRIPTS / backend).glob("*.py"))
    return [os.path.relpath(f, workflow.basedir) for f in files]


def get_train_inputs(wildcards):
    get_run(wildcards)  # a run outside the config fails here, with a clear message
    return {
        "data": get_prepared_files(wildcards.dataset),
        "code": get_training_code(wildcards),
        "env": get_env_inputs(get_train_env(wildcards)),
    }


def get_train_settings(wildcards):
    run = get_run(wildcards)
    settings = training_settings(config, run.experiment)
    return json.dumps(dict(settings, precision=run.precision), sort_keys=True)


def get_experiment(wildcards):
    return get_run(wildcards).experiment


def get_source(wildcards):
    return get_run(wildcards).source


def get_train_threads():
    """A timed CPU run owns the cores it uses (see the cpu_timing_slot resource).

    By default all of this machine's cores: Snakemake scales a job's threads down to --cores
    locally. On a cluster set train_threads (it becomes the job's CPU request).
    """
    return config["train_threads"] or os.cpu_count() or 1


def get_train_mem_mb(wildcards):
    """What a scheduler is asked for: the measured peak (config memory_peaks_mb) with a margin."""
    return slurm_mem_mb(config, get_run(wildcards).experiment)


def check_training_memory():
    """Before any job of a local run: stop, naming both figures, if a training job that has to
    run needs more memory than this machine has."""
    if DEMO or not workflow.local_exec:
        return
    pending = {
        get_run(job.wildcards).experiment
        for job in workflow.dag.needrun_jobs()
        if job.rule.name == "train"
    }
    short = shortages(config, sorted(pending), MACHINE_MB)
    if short:
        raise WorkflowError(shortage_message(config, short, MACHINE_MB))


def get_gpu_count(wildcards):
    return 1 if wildcards.hardware == "gpu" else 0


def get_gpu_model(wildcards):
    """Only gpu runs name a model: the SLURM plugin turns it into --gpus=<model>:<count>."""
    return config["gpu_model"] if wildcards.hardware == "gpu" else ""


def get_cpu_timing_slot(wildcards):
    """Both slots of profiles/default: nothing CPU-heavy runs beside a timed CPU run."""
    return CPU_TIMING_SLOTS if wildcards.hardware == "cpu" else 0


# --- results ---------------------------------------------------------------------------------
def get_run_dir_of_output(wildcards, output):
    return os.path.dirname(output.metrics)


def get_run_dir_of_input(wildcards, input):
    return os.path.dirname(input.metrics)


def get_reported_runs():
    """Runs the report waits for: all, or with report_allow_missing (after --keep-going) only
    those that finished; the others are listed as failed or missing."""
    if config["report_allow_missing"]:
        return [run for run in RUNS if Path(f"{run.path}/metrics.json").exists()]
    return RUNS


def get_report_metrics(wildcards):
    return [f"{run.path}/metrics.json" for run in get_reported_runs()]


def get_all_histories():
    return [f"{run.path}/history.csv" for run in get_reported_runs()]


def get_allow_missing_flag():
    return "--allow-missing" if config["report_allow_missing"] else ""


def get_run_table():
    """results/runs.json's document: every run of the config, and whether the report waits for
    it. As a params value it is a rerun trigger: a changed matrix rewrites the table."""
    awaited = {run.run_id for run in get_reported_runs()}
    return json.dumps(run_table.document(RUNS, awaited), sort_keys=True)


def get_experiment_runs(wildcards):
    """Every expected run of one experiment (the target results/experiments/{experiment}.html)."""
    runs = [run for run in RUNS if run.experiment == wildcards.experiment]
    if not runs:
        raise WorkflowError(
            f"experiment {wildcards.experiment} has no runs in this configuration "
            f"(experiments_only: {config['experiments_only']})"
        )
    return runs


def get_experiment_report_inputs(wildcards):
    """The experiment's finished runs (all of them unless report_allow_missing)."""
    expected = {run.path for run in get_experiment_runs(wildcards)}
    reported = [run for run in get_reported_runs() if run.path in expected]
    return {
        "metrics": [f"{run.path}/metrics.json" for run in reported],
        "histories": [f"{run.path}/history.csv" for run in reported],
    }


def get_final_outputs():
    return [
        "results/performance.csv",
        "results/summary.csv",
        "results/performance.md",
        "results/performance.html",
        "results/report.html",
    ]
