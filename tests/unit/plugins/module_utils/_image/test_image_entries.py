"""glance_image_catalog's entries: planned from one listing, acted on only where needed, isolated."""
from __future__ import annotations

import hashlib
import http.server
import threading

import pytest
from openstack import exceptions as sdk_exceptions

from test_image_exec import FakeGlance  # pylint: disable=import-error
from ansible_collections.storeops.openstack.plugins.module_utils._image import executor as _image_exec
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._image.catalogue import collect
from ansible_collections.storeops.openstack.plugins.module_utils._image.entries import (
    Exclusive,
    ensure_entries,
    run_params,
)
from ansible_collections.storeops.openstack.plugins.module_utils._image.lifecycle import (
    CATALOGUE_KEY,
    RETIRED_KEY,
    Lifecycle,
)
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


def run(glance, entries, check_mode=False, catalogue=CATALOGUE, exclusive=None, conn=FakeConn):
    return ensure_entries(glance, ImageOptions(conn), check_entries(entries, DEFAULTS), catalogue,
                          RUN_OPTIONS, check_mode, exclusive)


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


def test_an_exclusive_catalogue_retires_what_no_entry_lists_from_its_one_listing_check_mode_first(files):
    glance = CountingGlance()
    entries = [{"name": f"img-{index}", "filename": path} for index, path in enumerate(files)]
    run(glance, entries)
    dropped = next(i for i, image in glance.images.items() if image["name"] == "img-2")
    glance.reads.clear()
    glance.patches.clear()
    planned = run(glance, entries[:2], check_mode=True, exclusive=Exclusive(Lifecycle(), {}))
    result = planned.as_result(with_diff=True)
    assert glance.images[dropped]["name"] == "img-2" and glance.patches == []
    assert result["changed"] is True and result["gc"] == {
        "changed": True, "failures": [], "retired": [dropped],
        "actions": [{"name": "img-2", "action": "retire", "image_id": dropped, "policy": "hide"}]}
    (diff,) = result["diff"]
    assert diff["before"]["name"] == "img-2" and diff["after"]["name"].startswith("img-2.retired-")
    assert diff["before"]["os_hidden"] is not True and diff["after"]["os_hidden"] is True
    # the entries' listing is the collection's: the catalogue's images listed once, no other read
    assert sorted(glance.reads) == ["images_named", f"iter_images ['{CATALOGUE_KEY}']", "stores"]

    done = run(glance, entries[:2], exclusive=Exclusive(Lifecycle(), {})).as_result(with_diff=False)
    assert done["gc"] == result["gc"] and planned.failure is None
    assert glance.images[dropped][RETIRED_KEY] == "img-2" and glance.images[dropped]["os_hidden"] is True
    glance.reads.clear()
    again = run(glance, entries[:2], exclusive=Exclusive(Lifecycle(), {})).as_result(with_diff=True)
    assert again["changed"] is False and again["gc"]["retired"] == [] and "diff" not in again
    assert sorted(glance.reads) == ["images_named", f"iter_images ['{CATALOGUE_KEY}']", "stores"]


def test_an_exclusive_catalogue_deletes_only_after_a_fresh_read_and_keeps_its_failed_entries(files):
    glance = CountingGlance()
    run(glance, [{"name": "kept", "filename": files[0]}, {"name": "dropped", "filename": files[1]}])
    dropped = next(i for i, image in glance.images.items() if image["name"] == "dropped")
    kept = next(i for i, image in glance.images.items() if image["name"] == "kept")
    glance.reads.clear()
    # the entry fails (its file is gone) but still names its image: the collection keeps it
    result = run(glance, [{"name": "kept", "filename": "/nonexistent/kept.img"}],
                 exclusive=Exclusive(Lifecycle(retire="delete"), {}))
    assert [action["action"] for action in result.as_result(False)["gc"]["actions"]] == [
        "retire", "delete_old_version"]
    assert dropped not in glance.images and kept in glance.images
    assert "image" in glance.reads  # the candidate re-read before its DELETE
    assert result.failure.startswith("1 of 1 catalogue entries failed: kept")


@pytest.mark.parametrize("catalogue, images, refusal", [
    (CATALOGUE, [], "^images: empty with catalogue_exclusive"),
    (None, [{"name": "a", "filename": "/a"}], "^catalogue_name: catalogue_exclusive retires the images marked"),
    ("", [{"name": "a", "filename": "/a"}], "^catalogue_name: catalogue_exclusive retires the images marked"),
])
def test_an_exclusive_catalogue_without_images_or_a_name_is_refused_before_any_request(catalogue, images, refusal):
    glance = CountingGlance()
    with pytest.raises(InvalidInputError, match=refusal):
        run(glance, images, catalogue=catalogue, exclusive=Exclusive(Lifecycle(retire="delete"), {}))
    assert glance.reads == []


def test_a_collection_failure_fails_the_run_naming_it_after_the_others(files, monkeypatch):
    glance = CountingGlance()
    for name, path in (("kept", files[0]), ("first", files[1]), ("second", files[2])):
        run(glance, [{"name": name, "filename": path}])
    first = next(i for i, image in glance.images.items() if image["name"] == "first")
    real_patch = glance.patch

    def failing(image_id, operations):
        if image_id == first:
            raise InvalidInputError("Glance said no")
        return real_patch(image_id, operations)

    monkeypatch.setattr(glance, "patch", failing)
    result = run(glance, [{"name": "kept", "filename": files[0]}], exclusive=Exclusive(Lifecycle(), {}))
    gc = result.as_result(False)["gc"]
    assert gc["failures"] == [{"name": "first", "image_id": first, "msg": "Glance said no"}]
    assert len(gc["retired"]) == 1 and first not in gc["retired"]
    assert result.failure == "1 of 2 images the catalogue no longer lists could not be retired (see gc.failures)"


@pytest.fixture(name="served_sums")
def fixture_served_sums(files):
    """One SHA256SUMS for every file, served from loopback; yields (its URL, the GETs it answered)."""
    sums = "".join(f"{hashlib.sha256(open(path, 'rb').read()).hexdigest()}  {path.rsplit('/', 1)[-1]}\n"
                   for path in files).encode()
    gets = []

    class Sums(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            gets.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(sums)))
            self.end_headers()
            self.wfile.write(sums)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sums)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/SHA256SUMS", gets
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_checksums_file_many_entries_share_is_fetched_once_per_run(files, served_sums):
    url, gets = served_sums
    entries = [{"name": f"img-{index}", "filename": path, "checksum": f"sha256:{url}"}
               for index, path in enumerate(files)]
    result = run(CountingGlance(), entries).as_result(with_diff=False)
    assert [(image["changed"], image["failed"]) for image in result["images"]] == [(True, False)] * 3
    assert [image["verified_by"] for image in result["images"]] == [result["images"][0]["verified_by"]] * 3
    assert gets == ["/SHA256SUMS"]


def test_a_checksums_file_that_cannot_be_fetched_fails_each_entry_naming_it_after_one_try(files):
    gone = "file:///nonexistent/SHA256SUMS"
    entries = [{"name": f"img-{index}", "filename": path, "checksum": f"sha256:{gone}"}
               for index, path in enumerate(files[:2])]
    glance = CountingGlance()
    result = run(glance, entries)
    assert result.failed == ["img-0", "img-1"] and glance.images == {}
    assert all("checksum: cannot fetch the checksums file" in entry.failure["reason"] for entry in result.entries)


class _Identity:
    """Keystone's projects: ``p2`` is also found by its name ``tenant-2``; ``secret`` is refused (403)."""

    @staticmethod
    def find_project(project, ignore_missing=True):  # pylint: disable=unused-argument
        if project == "secret":
            raise sdk_exceptions.ForbiddenException("You are not authorized to perform the requested action")
        return type("Project", (), {"id": "p2"})() if project in ("p2", "tenant-2") else None


class IdentityConn(FakeConn):
    identity = _Identity()


def test_an_owner_keystone_refuses_to_look_up_fails_only_its_entry(files):
    glance = CountingGlance()
    entries = [{"name": "refused", "filename": files[0], "owner": "secret"},
               {"name": "good", "filename": files[1]}]
    for catalogue in (None, CATALOGUE):  # without a catalogue name the owners' images are listed
        result = run(glance, entries, catalogue=catalogue, conn=IdentityConn)
        refused, good = result.as_result(with_diff=False)["images"]
        assert refused["failed"] and refused["msg"].startswith("owner 'secret': the cloud refused the request (HTTP 403)")
        assert good["failed"] is False and good["image"]["status"] == "active"
        assert result.failure.startswith("1 of 2 catalogue entries failed: refused")


def test_two_entries_of_one_name_and_owner_are_refused_naming_both():
    with pytest.raises(InvalidInputError) as raised:
        check_entries([{"name": "a", "filename": "/a"}, {"name": "b", "filename": "/b"},
                       {"name": "a", "url": "https://example.org/a.img", "owner": ""}], {"owner": None})
    assert raised.value.details["problems"] == [
        "images[2] (a): same name and owner (the run's project) as images[0]; two entries would manage one "
        "image, remove or rename one"]
    assert check_entries([{"name": "a", "filename": "/a"}, {"name": "a", "filename": "/a", "owner": "p2"}], {})


def test_one_project_by_name_and_by_id_is_the_same_owner_refused_before_anything(files):
    glance = CountingGlance()
    entries = [{"name": "a", "filename": files[0], "owner": "tenant-2"}, {"name": "a", "filename": files[1], "owner": "p2"}]
    with pytest.raises(InvalidInputError, match=r"^images: images\[1\] \(a\): same name and owner \(project p2\) "
                                                r"as images\[0\]; .*remove or rename one$"):
        run(glance, entries, conn=IdentityConn)
    assert glance.reads == [] and glance.images == {}


@pytest.mark.parametrize("meanwhile", [{RETIRED_KEY: "img-1", "name": "img-1.retired-x"}, {"name": "img-0"}])
def test_a_listed_candidate_changed_since_the_listing_is_read_again_and_left_alone(files, meanwhile):
    glance = CountingGlance()
    run(glance, [{"name": "img-0", "filename": files[0]}, {"name": "img-1", "filename": files[1]}])
    listing = ImageListing.read(glance, ["img-0"], CATALOGUE, [])
    stale = next(i for i, image in glance.images.items() if image["name"] == "img-1")
    glance.images[stale].update(meanwhile)  # another run retired it, or renamed it into the catalogue
    glance.patches.clear()
    collection = collect(glance, CATALOGUE, ["img-0"], ["p1"], Lifecycle(retire="delete"), {}, False, listing)
    assert collection.as_result()["actions"] == [] and glance.patches == [] and stale in glance.images
