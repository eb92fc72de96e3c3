"""The projects swap the criterion in by configuration: they use only the plugin's public names,
their configs build on the top-level config pieces, and nothing outside projects/ knows them."""

import ast
import importlib
import re
from pathlib import Path

import pytest

from tests.helpers.train_net import PROJECTS, REPO

PROJECT_FILES = sorted(PROJECTS.rglob("*.py"))
PROJECT_NAMES = re.compile(
    r"\bprojects/|\bimport projects\b|ResNetMatte|resnet_matte|TrimapViTMatte"
)


def plugin_imports(path: Path):
    """(module, imported name or None, line) of every absolute import of alphafree_matting."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "alphafree_matting":
                    yield alias.name, None, node.lineno
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and (node.module.split(".")[0] == "alphafree_matting")
        ):
            for alias in node.names:
                yield node.module, alias.name, node.lineno


def relative_import_targets(path: Path):
    """Files that the relative imports of a LazyConfig file load (detectron2's resolution)."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            target = path.parent
            for _ in range(node.level - 1):
                target = target.parent
            yield target.joinpath(*node.module.split(".")).with_suffix(".py"), node.lineno


def test_both_projects_have_python_files_to_check():
    assert {"ResNetMatte", "TrimapViTMatte"} <= {
        path.relative_to(PROJECTS).parts[0] for path in PROJECT_FILES
    }


@pytest.mark.parametrize("path", PROJECT_FILES, ids=lambda p: str(p.relative_to(PROJECTS)))
def test_projects_import_only_public_plugin_names(path):
    for module_name, name, line in plugin_imports(path):
        where = f"{path.relative_to(REPO)}:{line}"
        assert not any(part.startswith("_") for part in module_name.split(".")), where
        if name is None:
            continue
        assert not name.startswith("_"), f"{where} imports the private name {name}"
        module = importlib.import_module(module_name)
        public = getattr(module, "__all__", None)
        assert hasattr(module, name), f"{where}: {module_name} has no {name}"
        assert public is None or name in public, f"{where}: {name} is not in {module_name}.__all__"


@pytest.mark.parametrize(
    "path",
    [p for p in PROJECT_FILES if "configs" in p.parts],
    ids=lambda p: str(p.relative_to(PROJECTS)),
)
def test_project_configs_build_on_top_level_configs_or_their_own(path):
    project_configs = PROJECTS / path.relative_to(PROJECTS).parts[0] / "configs"
    for target, line in relative_import_targets(path):
        assert target.is_file(), f"{path.relative_to(REPO)}:{line} imports missing {target}"
        assert target.resolve().is_relative_to((REPO / "configs").resolve()) or (
            target.resolve().is_relative_to(project_configs.resolve())
        ), f"{path.relative_to(REPO)}:{line} imports {target} outside configs/"


def test_neither_the_plugin_nor_the_stock_script_and_configs_know_the_projects():
    outside = [
        *(REPO / "alphafree_matting").rglob("*.py"),
        *(REPO / "configs").rglob("*.py"),
        REPO / "tools" / "lazyconfig_train_net.py",
    ]
    mentions = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in outside
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if PROJECT_NAMES.search(line)
    ]
    assert mentions == []


def test_the_project_name_pattern_finds_what_it_looks_for():
    # The check above is only as good as its pattern.
    for line in (
        "from projects.ResNetMatte import x",
        "import projects",
        "if 'resnet_matte' in name:",
        "path = 'projects/TrimapViTMatte/configs'",
    ):
        assert PROJECT_NAMES.search(line), line
    assert not PROJECT_NAMES.search("a projection head")
