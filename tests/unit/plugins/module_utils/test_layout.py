"""The layout's import rules, read from the code: a feature never reaches into another."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

MODULE_UTILS = Path(__file__).resolve().parents[4] / "plugins" / "module_utils"
PREFIX = "ansible_collections.storeops.openstack.plugins.module_utils."
SHARED = {"_common": set(), "_glance": {"_common"}, "_storage": {"_common"}}
FEATURES = ("_image", "_backfill", "_store_migration", "_object_migration")


def packages_imported(path: Path, root: Path = MODULE_UTILS) -> set[str]:
    """The module_utils packages ``path`` (a file under ``root``) imports, absolutely or relatively.

    A relative import that climbs out of ``root`` shows as ``..``.
    """
    where = path.relative_to(root).parent.parts  # the file's package, from root
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:  # relative: from where, ``level - 1`` up
            kept = len(where) - (node.level - 1)
            base = list(where[:kept]) + (node.module.split(".") if node.module else [])
            imported.update((base + [alias.name])[0] if kept >= 0 else ".." for alias in node.names)
            continue
        if isinstance(node, ast.ImportFrom):  # ``from module_utils import _image`` names a package too
            dotted = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            dotted = [alias.name for alias in node.names]
        else:
            continue
        imported.update(name[len(PREFIX):].split(".")[0] for name in dotted if name.startswith(PREFIX))
    return imported


def forbidden_imports(root: Path) -> dict[str, set[str]]:
    """Each file under ``root``'s packages (sub-folders too) with the packages it may not import."""
    found = {}
    for package in sorted(set(SHARED) | set(FEATURES)):
        allowed = SHARED.get(package, set(SHARED)) | {package}
        for path in sorted((root / package).rglob("*.py")):
            forbidden = packages_imported(path, root) - allowed
            if forbidden:
                found[str(path.relative_to(root))] = forbidden
    return found


def test_module_utils_holds_only_packages():
    assert sorted(p.name for p in MODULE_UTILS.iterdir() if p.suffix == ".py") == []
    assert {p.name for p in MODULE_UTILS.iterdir() if p.is_dir() and p.name != "__pycache__"} == \
        set(SHARED) | set(FEATURES)


def test_a_package_imports_only_what_it_may():
    assert forbidden_imports(MODULE_UTILS) == {}


@pytest.mark.parametrize("where, source", [
    ("_backfill/plan.py", "from ansible_collections.storeops.openstack.plugins.module_utils import _image\n"),
    ("_backfill/plan.py", "from .._image.catalogue import Catalogue\n"),
    ("_backfill/plan.py", "from .. import _image\n"),
    ("_backfill/sub/deep.py", "import ansible_collections.storeops.openstack.plugins.module_utils._image.x\n"),
    ("_backfill/sub/deep.py", "from ..._image import x\n"),
])
def test_every_way_to_reach_another_feature_is_caught(tmp_path, where, source):
    (tmp_path / where).parent.mkdir(parents=True)
    (tmp_path / where).write_text(source)
    assert forbidden_imports(tmp_path) == {where: {"_image"}}


def test_own_and_shared_packages_pass_however_imported(tmp_path):
    (tmp_path / "_backfill/sub").mkdir(parents=True)
    (tmp_path / "_backfill/sub/deep.py").write_text(
        "from . import sibling\nfrom .. import plan\nfrom ..._common.errors import StoreOpsError\n"
        "from ansible_collections.storeops.openstack.plugins.module_utils import _glance\n")
    assert forbidden_imports(tmp_path) == {}
    assert packages_imported(tmp_path / "_backfill/sub/deep.py", tmp_path) == {"_backfill", "_common", "_glance"}


@pytest.mark.parametrize("package", sorted(set(SHARED) | set(FEATURES)))
def test_package_faces_are_empty(package):
    assert (MODULE_UTILS / package / "__init__.py").read_text() == ""
