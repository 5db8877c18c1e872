"""glance_image_catalog's entries: planned from one listing, acted on only where needed, isolated."""
from __future__ import annotations

import pytest

from test_image_exec import FakeGlance  # pylint: disable=import-error
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._image import executor as _image_exec
from ansible_collections.storeops.openstack.plugins.module_utils._image.entries import ensure_entries, run_params
from ansible_collections.storeops.openstack.plugins.module_utils._image.lifecycle import CATALOGUE_KEY
from ansible_collections.storeops.openstack.plugins.module_utils._image.listing import ImageListing
from ansible_collections.storeops.openstack.plugins.module_utils._image.plan import LEASE_OF_KEY
from ansible_collections.storeops.openstack.plugins.module_utils._image.options import ImageOptions, image_source
from ansible_collections.storeops.openstack.plugins.module_utils._image.runner import ensure_image
from ansible_collections.storeops.openstack.plugins.module_utils._image.schema import check_entries

CATALOGUE = "cat-1"
RUN_OPTIONS = {"timeout": 5, "validate_certs": None, "ca_cert": None}


class CountingGlance(FakeGlance):
    """The fake Glance, recording every read: what a run costs."""

    def __init__(self):
        super().__init__()
        self.reads = []

    def stores(self):
        self.reads.append("stores")
        return super().stores()

    def images_named(self, names, _page_size):
        self.reads.append("images_named")
        return [dict(i) for i in self.images.values() if i.get("name") in names]

    def iter_images(self, _page_size, **filters):
        self.reads.append(f"iter_images {sorted(filters)}")
        return [dict(i) for i in self.images.values() if all(i.get(k) == v for k, v in filters.items())]

    def images_where(self, **filters):
        self.reads.append(f"images_where {sorted(filters)}")
        return super().images_where(**filters)

    def image(self, image_id):
        self.reads.append("image")
        return super().image(image_id)


class FakeConn:
    current_project_id = "p1"


@pytest.fixture(autouse=True)
def no_settling(monkeypatch):
    monkeypatch.setattr(_image_exec, "SETTLE_SECONDS", 0)


@pytest.fixture(name="files")
def fixture_files(tmp_path):
    made = []
    for index in range(3):
        path = tmp_path / f"{index}.img"
        path.write_bytes(f"image {index} ".encode() * 500)
        made.append(str(path))
    return made


DEFAULTS = {"disk_format": "raw", "stores": ["fast"]}


def run(glance, entries, check_mode=False, catalogue=CATALOGUE):
    return ensure_entries(glance, ImageOptions(FakeConn), check_entries(entries, DEFAULTS), catalogue,
                          RUN_OPTIONS, check_mode)


def test_a_no_op_rerun_plans_every_entry_from_one_listing(files):
    glance = CountingGlance()
    entries = [{"name": f"img-{index}", "filename": path} for index, path in enumerate(files)]
    first = run(glance, entries)
    assert [entry.run.execution.changed for entry in first.entries] == [True, True, True]
    glance.reads.clear()
    again = run(glance, entries).as_result(with_diff=True)
    assert [(image["name"], image["changed"], image["failed"]) for image in again["images"]] == [
        ("img-0", False, False), ("img-1", False, False), ("img-2", False, False)]
    assert again["changed"] is False and "diff" not in again
    # one listing of the names, one of the catalogue's images, the stores once: nothing per entry
    assert sorted(glance.reads) == ["images_named", f"iter_images ['{CATALOGUE_KEY}']", "stores"]


def test_without_a_catalogue_name_the_owners_images_are_listed(files):
    glance = CountingGlance()
    entries = [{"name": "img-0", "filename": files[0]}]
    run(glance, entries, catalogue=None)
    glance.reads.clear()
    again = run(glance, entries, catalogue=None)
    assert not again.entries[0].run.execution.changed
    assert sorted(glance.reads) == ["images_named", "iter_images ['owner']", "stores"]


def test_an_entry_the_listing_finds_changed_is_planned_again_from_glance(files):
    glance = CountingGlance()
    entries = [{"name": "img-0", "filename": files[0], "visibility": "public"}]
    run(glance, entries)
    listing = ImageListing.read(glance, ["img-0"], CATALOGUE, [])
    listing.images_where(name="img-0")[0]["visibility"] = "private"  # as it was when listed
    glance.reads.clear()
    glance.patches.clear()
    params = run_params(check_entries(entries, DEFAULTS)[0], CATALOGUE, RUN_OPTIONS)
    request, _consumer = ImageOptions(FakeConn).request(params, glance)
    done = ensure_image(glance, request, image_source(params), False, None, listing)
    # Glance's state now (another run published it meanwhile) decides: nothing is patched
    assert not done.execution.changed and glance.patches == [] and "images_where ['name']" in glance.reads


def test_one_failing_entry_does_not_stop_the_others(files):
    glance = CountingGlance()
    entries = [{"name": "missing-file", "filename": "/nonexistent/x.img"}, {"name": "good", "filename": files[2]}]
    result = run(glance, entries).as_result(with_diff=False)
    missing, good = result["images"]
    assert good["failed"] is False and good["changed"] is True
    assert missing["failed"] is True and "filename" in missing["msg"] and "\n" not in missing["msg"]
    assert missing["image"] is None


def test_a_bug_in_one_entry_is_reported_as_one_and_the_others_go_on(files, monkeypatch):
    glance = CountingGlance()
    real_patch = glance.patch

    def broken_patch(image_id, operations):
        if glance.images[image_id]["name"] == "img-0":
            raise KeyError("a bug")
        return real_patch(image_id, operations)

    monkeypatch.setattr(glance, "patch", broken_patch)
    result = run(glance, [{"name": "img-0", "filename": files[0]}, {"name": "img-1", "filename": files[1]}])
    first, second = result.as_result(with_diff=False)["images"]
    assert first["failed"] and first["bug"] == "KeyError" and "Traceback" in first["traceback"]
    assert second["failed"] is False and second["image"]["status"] == "active"
    assert result.failed == ["img-0"]


def test_check_mode_diffs_each_changed_entry_and_changes_nothing(files):
    glance = CountingGlance()
    result = run(glance, [{"name": "img-0", "filename": files[0]}], check_mode=True).as_result(with_diff=True)
    assert glance.images == {}
    assert result["changed"] is True and [d["after_header"] for d in result["diff"]] == ["img-0"]
    assert [action["action"] for action in result["images"][0]["actions"]] == ["create"]


def test_a_catalogue_runs_lease_image_carries_the_catalogue_mark_the_listing_finds(files, monkeypatch):
    glance = CountingGlance()
    created, create = [], glance.create_image
    monkeypatch.setattr(glance, "create_image", lambda attributes: created.append(attributes) or create(attributes))
    run(glance, [{"name": "img-0", "filename": files[0]}])
    (lease,) = [attributes for attributes in created if LEASE_OF_KEY in attributes]
    assert lease[CATALOGUE_KEY] == CATALOGUE


def test_two_entries_of_one_name_and_owner_are_refused_naming_both():
    with pytest.raises(InvalidInputError) as raised:
        check_entries([{"name": "a", "filename": "/a"}, {"name": "b", "filename": "/b"},
                       {"name": "a", "url": "https://example.org/a.img", "owner": ""}], {"owner": None})
    assert raised.value.details["problems"] == [
        "images[2] (a): same name and owner (the run's project) as images[0]; two entries would manage one "
        "image, remove or rename one"]
    assert check_entries([{"name": "a", "filename": "/a"}, {"name": "a", "filename": "/a", "owner": "p2"}], {})
