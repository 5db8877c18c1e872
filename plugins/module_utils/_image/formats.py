# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local image file's format, inspected before any byte of it is sent to Glance.

oslo.utils' format inspector (the one Glance itself uses) reads the file's headers: the format
found must be the ``disk_format`` asked for (or becomes it, with ``detect``), and an image that
would make a hypervisor or Glance read other files (a qcow2 backing file or external data file, a
VMDK extent pointing elsewhere: the format CVEs of 2024) is refused, since Glances before 2024.2
do not check this themselves. The inspector's virtual size is compared with Glance's after the
upload.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import logging
import os
import traceback
from dataclasses import dataclass

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    InvalidInputError,
    MissingDependencyError,
)

DETECT = "detect"
# Glance's name for what the inspector calls otherwise: a GPT (or MBR) disk is a raw image.
GLANCE_NAMES = {"gpt": "raw"}
# disk_formats the inspector has no inspector for: only the safety checks apply.
NOT_INSPECTED = ("ami", "ari", "aki", "ploop")
# formats whose virtual size is the file's size (the inspector stops reading before the end)
WHOLE_FILE = ("raw", "iso")
GLANCE_DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")


@dataclass(frozen=True)
class Inspection:
    """What the file is, as Glance names disk formats."""

    disk_format: str
    virtual_size: int


def _format_inspector():
    """oslo.utils' inspector, imported on first use: its import adds about 0.15 s to a module's
    start-up, and only a run that makes an image from a file needs it."""
    try:
        from oslo_utils.imageutils import format_inspector  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise MissingDependencyError("filename: inspecting an image file needs oslo.utils on the host "
                                     "that runs the module (pip install oslo.utils)",
                                     exception=traceback.format_exc()) from None
    # its warnings would reach the module's stderr; the refusal says the same in one line
    logging.getLogger(format_inspector.__name__).addHandler(logging.NullHandler())
    return format_inspector


def inspect_file(filename: str, disk_format: str) -> Inspection:
    """The file's format and virtual size; InvalidInputError when unsafe or not ``disk_format``."""
    format_inspector = _format_inspector()
    try:
        found = format_inspector.detect_file_format(filename)
        found.safety_check()
    except format_inspector.SafetyCheckFailed as err:
        reasons = "; ".join(str(violation) for violation in err.failures.values())
        raise InvalidInputError(f"filename: {filename} is an unsafe {found} image ({reasons}); nothing "
                                "was uploaded: flatten it first (qemu-img convert -O qcow2)") from None
    except format_inspector.ImageFormatError as err:
        raise InvalidInputError(f"filename: {filename} cannot be inspected ({err}); nothing was "
                                "uploaded") from None
    detected = GLANCE_NAMES.get(str(found), str(found))
    if disk_format == DETECT and detected not in GLANCE_DISK_FORMATS:
        raise InvalidInputError(f"filename: {filename} is a {detected} image, which Glance does not "
                                "take; convert it (qemu-img convert -O qcow2)")
    if disk_format not in (DETECT, detected, *NOT_INSPECTED):
        raise InvalidInputError(f"disk_format: {filename} is a {detected} image, not {disk_format}; "
                                f"set disk_format: {detected} (or detect)")
    size = os.path.getsize(filename) if detected in WHOLE_FILE else found.virtual_size
    return Inspection(detected, size)
