from __future__ import annotations

import sys

import pytest

from image_files import write_qcow2
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    MissingDependencyError,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image.formats import Inspection, inspect_file


def test_a_qcow2_with_a_backing_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "bad.qcow2"
    write_qcow2(path, backing_file=b"/etc/passwd")
    with pytest.raises(InvalidInputError, match=r"^filename: .* is an unsafe qcow2 image \(Image has a backing file\)") as err:
        inspect_file(str(path), "qcow2")
    assert "\n" not in str(err.value)


def test_detect_fills_the_format_and_a_mismatch_is_refused(tmp_path):
    path = tmp_path / "disk"
    write_qcow2(path, virtual_size=5 << 20)
    assert inspect_file(str(path), "detect") == Inspection("qcow2", 5 << 20)
    with pytest.raises(InvalidInputError, match="disk_format: .* is a qcow2 image, not raw; set disk_format: qcow2"):
        inspect_file(str(path), "raw")


def test_a_raw_files_virtual_size_is_its_size(tmp_path):
    path = tmp_path / "raw.img"
    path.write_bytes(b"\x01" * 3_000_000)
    assert inspect_file(str(path), "raw") == Inspection("raw", 3_000_000)


def test_without_oslo_utils_the_error_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "oslo_utils.imageutils", None)  # import fails
    with pytest.raises(MissingDependencyError, match=r"needs oslo.utils .*\(pip install oslo.utils\)$"):
        inspect_file(str(tmp_path / "any"), "raw")
