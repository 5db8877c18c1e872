# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A catalogue's entries checked, all of them, before any is acted on.

Each entry (over the catalogue's ``defaults``) is checked against glance_image's own argument
spec with Ansible's ``ArgumentSpecValidator`` (types, choices, sub-options, mutually exclusive
options), plus the catalogue's rules: no unknown option, no ``catalogue_name`` (the run's), and
a source (``filename`` or ``url``) for every entry that is present, and no two entries of one
name and owner (they would fight over one image). Optionally the entry's
metadata (``properties`` and the ``min_disk``/``min_ram`` fields) must carry a metadata
standard's mandatory keys in its formats; a standard is data (``METADATA_STANDARDS``).

Pure: no connection, no file read. glance_image_catalog calls it before its first request and
the image_catalog role's ``validate`` entry point through the ``catalogue_problems`` filter.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text
from ansible_collections.storeops.openstack.plugins.module_utils._image.options import (
    IMAGE_ARGUMENT_SPEC,
    IMAGE_MUTUALLY_EXCLUSIVE,
    option_problems,
)

# The catalogue's own option: the listing is the catalogue's, so no entry may name another.
CATALOGUE_ONLY = ("catalogue_name",)
# glance_image may manage an existing image without a source; a catalogue entry says where its
# content comes from, so that a lost image can be made again.
_VALIDATOR = ArgumentSpecValidator(IMAGE_ARGUMENT_SPEC, mutually_exclusive=IMAGE_MUTUALLY_EXCLUSIVE,
                                   required_if=[("state", "present", ("filename", "url"), True)])
# The entry's fields a metadata standard may ask for besides its properties.
METADATA_FIELDS = ("min_disk", "min_ram")


@dataclass(frozen=True)
class MetadataKey:
    """One key a standard asks for; an optional one (not ``mandatory``) is checked when given."""

    key: str
    pattern: str  # what the whole value, as text, must match
    expected: str  # the pattern in words, for the fix
    mandatory: bool = True


_DATE = r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_TEXT = r"\S.*"
_POSITIVE = r"[1-9]\d*"

# SCS-0102 v1 (https://docs.scs.community/standards/scs-0102-v1-image-metadata): the mandatory
# technical properties, image handling (updating, origin, build info), and the optional
# hotfix_hours, whose format it fixes too.
SCS_0102 = (
    MetadataKey("architecture", _TEXT, "the CPU architecture as OpenStack names it, e.g. x86_64"),
    MetadataKey("min_disk", _POSITIVE, "the disk size in GiB the image needs (an integer, 1 or more)"),
    MetadataKey("min_ram", _POSITIVE, "the RAM in MiB the image needs to boot (an integer, 1 or more)"),
    MetadataKey("os_distro", _TEXT, "the distribution as OpenStack names it, e.g. ubuntu"),
    MetadataKey("os_version", _TEXT, "the distribution's version, e.g. 24.04"),
    MetadataKey("hw_disk_bus", _TEXT, "the disk bus, e.g. scsi or virtio"),
    MetadataKey("replace_frequency", "yearly|quarterly|monthly|weekly|daily|critical_bug|never",
                "one of yearly, quarterly, monthly, weekly, daily, critical_bug, never"),
    MetadataKey("provided_until", f"{_DATE}|none|notice", "a date YYYY-MM-DD, none or notice"),
    MetadataKey("uuid_validity", rf"{_DATE}|none|notice|forever|last-{_POSITIVE}",
                "a date YYYY-MM-DD, last-N, none, notice or forever"),
    MetadataKey("image_source", _TEXT, "the URL the image can be downloaded from, or private"),
    MetadataKey("image_description", _TEXT, "a URL or text with the image's release notes"),
    MetadataKey("image_build_date", rf"{_DATE}(?: (?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d)?)?",
                "YYYY-MM-DD or YYYY-MM-DD hh:mm[:ss] (UTC)"),
    MetadataKey("image_original_user", _TEXT, "the default login user, or none"),
    MetadataKey("hotfix_hours", r"\d+", "the hours to a critical fix, an integer 0 or more", mandatory=False),
)
METADATA_STANDARDS: dict[str, tuple[MetadataKey, ...]] = {"none": (), "scs-0102": SCS_0102}


def check_entries(entries: list[Any], defaults: dict[str, Any], metadata_standard: str = "none") -> list[dict[str, Any]]:
    """Every entry's checked glance_image options, in order; else InvalidInputError listing every
    problem of every entry (``problems``: one line each, naming the entry and the option)."""
    checked, problems = [], []
    for index, entry in enumerate(entries):
        params, found = entry_problems(index, entry, defaults, metadata_standard)
        checked.append(params)
        problems += found
    # unset and empty are both the run's own project; by name or by id, ensure_entries compares ids
    problems += duplicate_problems([(index, str(params["name"]), params.get("owner") or "the run's project")
                                    for index, params in enumerate(checked) if params.get("name")])
    if problems:
        raise InvalidInputError(f"images: {len(problems)} problems in the catalogue, nothing was changed: "
                                f"{'; '.join(problems)}", problems=problems)
    return checked


def entry_problems(index: int, entry: Any, defaults: dict[str, Any],
                   metadata_standard: str) -> tuple[dict[str, Any], list[str]]:
    """The entry's checked options and what is wrong with them, one line each (redacted)."""
    if not isinstance(entry, dict) or not entry.get("name"):
        return {}, [f"images[{index}]: each entry is a dict of glance_image options with a name; add its name"]
    label = f"images[{index}] ({entry['name']})"
    problems = [f"{key} is the catalogue's option; set it beside images, not in the entry or defaults"
                for key in CATALOGUE_ONLY if key in entry or key in defaults]
    # an entry's option replaces the defaults' mutually exclusive partners (all_stores over stores)
    replaced = {key for group in IMAGE_MUTUALLY_EXCLUSIVE if any(key in entry for key in group)
                for key in group if key not in entry}
    given = {**{key: value for key, value in defaults.items() if key not in replaced}, **entry}
    problems += [f"{key} is not a glance_image option (in the entry or defaults); remove it or correct its name"
                 for key in sorted(given) if key not in IMAGE_ARGUMENT_SPEC and key not in CATALOGUE_ONLY]
    result = _VALIDATOR.validate({key: value for key, value in given.items() if key in IMAGE_ARGUMENT_SPEC})
    problems += [f"{message}; correct it in the entry or defaults" for message in result.error_messages]
    params = result.validated_parameters
    if not result.error_messages:
        problems += option_problems(params) + metadata_problems(params, metadata_standard)
    return params, [redact_text(f"{label}: {problem}") for problem in problems]


def duplicate_problems(keys: list[tuple[int, str, str]]) -> list[str]:
    """``keys``: (index, name, owner) of each entry; one line per entry that repeats an earlier one."""
    first: dict[tuple[str, str], int] = {}
    problems = []
    for index, name, owner in keys:
        earlier = first.setdefault((name, owner), index)
        if earlier != index:
            problems.append(redact_text(f"images[{index}] ({name}): same name and owner ({owner}) as images[{earlier}]; "
                                        "two entries would manage one image, remove or rename one"))
    return problems


def metadata_problems(params: dict[str, Any], metadata_standard: str) -> list[str]:
    """The standard's keys the entry's checked options lack or give in another format."""
    problems = []
    for wanted in METADATA_STANDARDS[metadata_standard]:
        # min_disk and min_ram are Glance's fields, the entry's options; the rest are properties
        option = wanted.key if wanted.key in METADATA_FIELDS else f"properties.{wanted.key}"
        value = params[wanted.key] if wanted.key in METADATA_FIELDS else params["properties"].get(wanted.key)
        if value is None or value == "":
            if wanted.mandatory:
                problems.append(f"{option} is missing, which {metadata_standard} requires; set it to {wanted.expected}")
        elif not re.fullmatch(wanted.pattern, str(value)):
            problems.append(f"{option} is {str(value)!r}, which {metadata_standard} does not allow; "
                            f"set it to {wanted.expected}")
    return problems
