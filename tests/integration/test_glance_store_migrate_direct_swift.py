"""glance_store_migrate with method=direct into the swift store: glance_store's own layout, verified, kill-safe."""
from __future__ import annotations

import hashlib
import json
import math
import os
import uuid

import pytest

from cloud_secrets import cloud_secrets, leaked
from conftest import REPO
from process_tree import kill_module_when
from test_glance_store_migrate import glance, in_swift, migrate, swift  # noqa: F401  pylint: disable=unused-import
from test_glance_store_migrate_direct import downloaded, steps_of

SEGMENT = 4 * 1_024_000  # the local swift store's swift_store_large_object_chunk_size = 4, in glance_store's MB
SEGMENTED = 9_000_000  # over its swift_store_large_object_size = 8 (8,192,000 bytes): a DLO of three segments


@pytest.fixture
def prefix():
    return f"dsw-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def images(glance):
    """Upload images into a store; every one is deleted afterwards (with its data, by Glance)."""
    created = []

    def upload(name, store, data):
        created.append(glance.upload(name, store, data))
        return created[-1]
    yield upload
    for image_id in created:
        glance.image.delete(f"/images/{image_id}")


@pytest.fixture
def to_swift(migrate):
    def run(prefix, **options):
        return migrate(prefix, method="direct", source_store="fast", target_store="swift", **options)
    return run


def layout(swift, image_id) -> list[tuple[str, int, str | None]]:
    """Each object of the image in Glance's container: name, stored bytes, X-Object-Manifest."""
    found = []
    for name in in_swift(swift, [image_id]):
        headers = swift.head(f"/glance/{name}").headers
        found.append((name.replace(image_id, "<id>"), int(headers["Content-Length"]) if not
                      headers.get("X-Object-Manifest") else 0, headers.get("X-Object-Manifest", "").replace(
                          image_id, "<id>") or None))
    return found


def expected_layout(size: int) -> list[tuple[str, int, str | None]]:
    if size < 8_192_000:
        return [("<id>", size, None)]
    count = math.ceil(size / SEGMENT)
    return [("<id>", 0, "glance/<id>-"), *((f"<id>-{n:05d}", min(SEGMENT, size - (n - 1) * SEGMENT), None)
                                           for n in range(1, count + 1))]


def test_plain_and_segmented_images_move_from_a_file_store_into_glance_stores_swift_layout(
        to_swift, glance, swift, images, prefix, cloud):
    # what Glance itself writes and records for an image of each kind in its swift store
    made_by_glance = {size: images(f"ref-{prefix}-{size}", "swift", os.urandom(size)) for size in (1_500_000, SEGMENTED)}
    for size, image_id in made_by_glance.items():
        assert layout(swift, image_id) == expected_layout(size)
        assert [loc["url"] for loc in glance.get(image_id)["locations"]] == [f"swift+config://ref1/glance/{image_id}"]

    data = {"plain": os.urandom(1_500_000), "segmented": os.urandom(SEGMENTED)}
    ids = {name: images(f"{prefix}-{name}", "fast", blob) for name, blob in data.items()}
    refused = to_swift(prefix, backend="api", check=True).results["result"]
    assert refused["failed"] is True and "\n" not in refused["msg"]
    assert refused["msg"].startswith("backend: Glance's API refuses swift+config:// locations")
    plan = to_swift(prefix, check=True).results["result"]
    assert plan["counts"]["planned"] == 2 and plan["route"] == (
        "direct: file read from its directory; written to swift container glance; location registered via "
        "database (backend=database: Glance's API re-derives store tags)")
    assert all(in_swift(swift, [i]) == [] for i in ids.values())

    result = to_swift(prefix, verification="download").results["result"]
    assert result["changed"] is True and result["counts"]["migrated"] == 2, result["images"]
    datadir = cloud["glance"]["stores"]["fast"]["data_dir"]
    for name, image_id in ids.items():
        image = glance.get(image_id)
        url = f"swift+config://ref1/glance/{image_id}"
        assert image["stores"] == "swift" and [loc["url"] for loc in image["locations"]] == [url]
        assert glance.rows([image_id]) == {(image_id, url): {"store": "swift"}}
        assert layout(swift, image_id) == expected_layout(len(data[name]))  # no partial, no stray segment
        assert downloaded(glance, image_id) == hashlib.sha512(data[name]).hexdigest()
        assert not os.path.exists(os.path.join(datadir, image_id))
        assert steps_of(result["journal"], image_id) == [
            "write", "register", "verify", "mark", "remove_source", "download", "result"]
    journal = open(result["journal"], encoding="utf-8").read()
    assert leaked(cloud_secrets(cloud), json.dumps(result)) == [] and leaked(cloud_secrets(cloud), journal) == []

    again = to_swift(prefix).results["result"]
    assert again["changed"] is False and again["counts"]["already_done"] == 2


def test_killed_mid_write_then_rerun_converges_with_no_stray_segments(playbook_command, to_swift, glance, swift,
                                                                      images, prefix, cloud, tmp_path):
    blob = os.urandom(100_000_000)  # time to kill it between two segments
    image_id = images(f"{prefix}-kill", "fast", blob)
    argv, env = playbook_command("migrate.yml", name_pattern=f"{prefix}-*", method="direct", source_store="fast",
                                 target_store="swift", journal_dir=str(tmp_path / "first"),
                                 glance_api_conf=cloud["glance"]["api_conf"], out=str(tmp_path / "out.json"))
    kill_module_when(argv, env, REPO, "glance_store_migrate",
                     lambda: f"{image_id}-00002" in in_swift(swift, [image_id]))
    left = in_swift(swift, [image_id])
    assert image_id not in left and left  # segments of a copy never made: nothing at <id>
    assert glance.stores_of(image_id) == ["fast"]  # nothing registered for unverified bytes

    result = to_swift(prefix).results["result"]
    assert not result.get("failed") and result["counts"]["migrated"] == 1, result
    assert glance.stores_of(image_id) == ["swift"]
    assert layout(swift, image_id) == expected_layout(len(blob))  # the killed run's segments replaced, none stray
    assert downloaded(glance, image_id) == hashlib.sha512(blob).hexdigest()


def test_another_writers_segments_are_refused_naming_them_and_kept(to_swift, glance, swift, images, prefix):
    image_id = images(f"{prefix}-foreign", "fast", os.urandom(SEGMENTED))
    swift.upload_object("glance", f"{image_id}-00001", data=b"a Glance upload killed midway")
    try:
        result = to_swift(prefix).results["result"]
        assert result["failed"] is True and result["counts"]["failed"] == 1
        reason = result["images"][0]["reason"]
        assert reason.startswith(f"swift store: {image_id}-00001 in container glance were not written by this "
                                 "collection") and "\n" not in reason
        assert in_swift(swift, [image_id]) == [f"{image_id}-00001"] and glance.stores_of(image_id) == ["fast"]
    finally:
        swift.delete_object(f"{image_id}-00001", container="glance")
