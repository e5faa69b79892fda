"""The layers of docs/design.md hold: training code never imports report libraries, report
code never imports a framework, and common/ uses nothing of ours above it."""
import ast
from pathlib import Path

import pytest

from conftest import SCRIPTS

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
    files("pretrained") + [PACKAGE / "harness.py", SCRIPTS / "train.py", SCRIPTS / "evaluate_pretrained.py"]


@pytest.mark.parametrize("path", TRAINING, ids=lambda p: str(p.relative_to(SCRIPTS)))
def test_training_code_never_imports_report_libraries(path):
    assert not top_level(imported_modules(path)) & REPORT_LIBS


REPORTING = files("reporting") + files("data") + files("pretrained") + [
    SCRIPTS / f"{name}.py" for name in ("convert_caffemodel", "synthesize_caffemodel",
                                         "agree_pretrained", "evaluate_pretrained")] + [
    SCRIPTS / f"{name}.py" for name in ("aggregate", "plot_run", "plot_comparisons", "make_report",
                                         "download", "prepare", "synthesize")]


@pytest.mark.parametrize("path", REPORTING, ids=lambda p: str(p.relative_to(SCRIPTS)))
def test_report_and_data_code_never_imports_a_framework(path):
    assert not top_level(imported_modules(path)) & FRAMEWORKS


@pytest.mark.parametrize("path", files("common"), ids=lambda p: p.name)
def test_common_uses_nothing_of_ours_above_it(path):
    ours = {n for n in imported_modules(path) if n.startswith("alexbench")}
    assert all(n.startswith("alexbench.common") for n in ours), ours


def test_each_framework_package_has_the_same_modules():
    modules = {fw: sorted(p.name for p in files(f"fw_{fw}")) for fw in ("keras", "gluon", "pytorch")}
    assert modules["keras"] == modules["gluon"] == modules["pytorch"], modules
