"""The layout's import rules, read from the code: a feature never reaches into another."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

MODULE_UTILS = Path(__file__).resolve().parents[4] / "plugins" / "module_utils"
PREFIX = "ansible_collections.storeops.openstack.plugins.module_utils."
SHARED = {"_common": set(), "_glance": {"_common"}, "_storage": {"_common"}}
FEATURES = ("_image", "_backfill", "_store_migration", "_object_migration")


def packages_imported(path: Path) -> set[str]:
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        imported.update(name[len(PREFIX):].split(".")[0] for name in names if name.startswith(PREFIX))
    return imported


def test_module_utils_holds_only_packages():
    assert sorted(p.name for p in MODULE_UTILS.iterdir() if p.suffix == ".py") == []
    assert {p.name for p in MODULE_UTILS.iterdir() if p.is_dir() and p.name != "__pycache__"} == \
        set(SHARED) | set(FEATURES)


@pytest.mark.parametrize("package", sorted(set(SHARED) | set(FEATURES)))
def test_a_package_imports_only_what_it_may(package):
    allowed = SHARED.get(package, set(SHARED)) | {package}
    for path in (MODULE_UTILS / package).glob("*.py"):
        assert packages_imported(path) <= allowed, path.name


@pytest.mark.parametrize("package", sorted(set(SHARED) | set(FEATURES)))
def test_package_faces_are_empty(package):
    assert (MODULE_UTILS / package / "__init__.py").read_text() == ""
