"""The layers of docs/design.md hold: training code never imports report libraries, report
code never imports a framework, and common/ uses nothing of ours above it."""
import ast
from pathlib import Path

import pytest

from conftest import FRAMEWORKS as REGISTERED, SCRIPTS

from alexbench.common import registry

PACKAGE = SCRIPTS / "alexbench"
FRAMEWORKS = {"tensorflow", "keras", "torch", "mxnet"}
REPORT_LIBS = {"pandas", "seaborn", "matplotlib", "jinja2"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def files(*parts):
    return sorted(PACKAGE.joinpath(*parts).rglob("*.py"))


def top_level(names):
    return {n.split(".")[0] for n in names}


TRAINING = files("common") + files("fw_keras") + files("fw_gluon") + files("fw_pytorch") + \
    files("harness") + files("pretrained") + [SCRIPTS / "train.py", SCRIPTS / "evaluate_pretrained.py"]


@pytest.mark.parametrize("path", TRAINING, ids=lambda p: str(p.relative_to(SCRIPTS)))
def test_training_code_never_imports_report_libraries(path):
    assert not top_level(imported_modules(path)) & REPORT_LIBS


REPORTING = files("reporting") + files("data") + files("pretrained") + files("export") + [
    SCRIPTS / f"{name}.py" for name in ("convert_caffemodel", "synthesize_caffemodel",
                                         "agree_pretrained", "evaluate_pretrained")] + [
    SCRIPTS / f"{name}.py" for name in ("aggregate", "plot_run", "plot_comparisons", "make_report",
                                         "download", "prepare", "synthesize", "experiment_report",
                                         "export_mlflow")]


@pytest.mark.parametrize("path", REPORTING, ids=lambda p: str(p.relative_to(SCRIPTS)))
def test_report_and_data_code_never_imports_a_framework(path):
    assert not top_level(imported_modules(path)) & FRAMEWORKS


@pytest.mark.parametrize("path", files("common"), ids=lambda p: p.name)
def test_common_uses_nothing_of_ours_above_it(path):
    ours = {n for n in imported_modules(path) if n.startswith("alexbench")}
    assert all(n.startswith("alexbench.common") for n in ours), ours


def test_each_framework_package_has_the_same_modules():
    backends = {registry.framework(fw).backend for fw in REGISTERED}
    modules = {b: sorted(p.name for p in files(*b.split(".")[1:])) for b in backends}
    assert len({tuple(m) for m in modules.values()}) == 1, modules


def test_the_harness_imports_no_framework_and_stays_stdlib_at_import():
    """Threads are set before numpy or a framework loads, so importing the harness must not load
    them: only function bodies may import numpy."""
    for path in files("harness"):
        tree = ast.parse(path.read_text(), filename=str(path))
        top = set()
        for node in tree.body:
            if isinstance(node, ast.Import):
                top |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                top.add(node.module.split(".")[0])
        assert not top & (FRAMEWORKS | {"numpy"}), (path.name, top)
