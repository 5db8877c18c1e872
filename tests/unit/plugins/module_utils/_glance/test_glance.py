from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import CloudRequestError
from ansible_collections.storeops.openstack.plugins.module_utils._glance.client import GlanceClient


class FakeImageAdapter:
    def __init__(self, status: int, text: str):
        self.response = SimpleNamespace(status_code=status, text=text)

    def request(self, path, method, **kwargs):
        return self.response


@pytest.mark.parametrize("cut_at", range(150, 200, 7))
def test_error_bodies_are_redacted_before_they_are_cut(cut_at):
    # the 200-character cut falls inside the user info, before its "@"
    url = "swift+https://service:glance:s3cr3t-passw0rd@keystone.example/v3/glance/x"
    body = "x" * (cut_at - len("swift+https://service:glance:s3cr")) + " " + url
    glance = GlanceClient(SimpleNamespace(image=FakeImageAdapter(400, body)))
    with pytest.raises(CloudRequestError) as raised:
        glance.image("abc")
    assert "s3cr" not in str(raised.value) and "glance:" not in str(raised.value)


class RecordingAdapter:
    def __init__(self):
        self.paths = []

    def request(self, path, method, **kwargs):
        self.paths.append(path)
        return SimpleNamespace(status_code=204, text="")


def test_ids_in_paths_are_quoted_as_one_segment():
    adapter = RecordingAdapter()
    glance = GlanceClient(SimpleNamespace(image=adapter))
    glance.delete_image("../stores/x?y")
    glance.remove_member("i1", "p/2")
    glance.delete_from_store("ceph/../fast", "i1")
    assert adapter.paths == ["/images/..%2Fstores%2Fx%3Fy", "/images/i1/members/p%2F2", "/stores/ceph%2F..%2Ffast/i1"]


class ListingAdapter:
    """Records the name filter of every listing request; every image list is empty."""

    def __init__(self):
        self.names = []

    def request(self, path, method, **kwargs):
        assert (method, path) == ("GET", "/images")
        self.names.append((kwargs["params"]["name"], kwargs["params"]["os_hidden"]))
        return SimpleNamespace(status_code=200, json=lambda: {"images": []})


def test_images_named_batches_quoted_names_and_asks_for_a_quote_alone():
    adapter = ListingAdapter()
    names = [f"image-{index:03}-with,comma" for index in range(120)] + ['say "cheese"', "back\\slash"]
    list(GlanceClient(SimpleNamespace(image=adapter)).images_named(names, 1000))
    batches = [name for name, hidden in adapter.names if hidden == "false"]
    assert [name for name in batches if not name.startswith("in:")] == ['say "cheese"', "back\\slash"]
    listed = [item for batch in batches if batch.startswith("in:") for item in batch[3:].split('","')]
    assert [item.strip('"') for item in listed] == names[:120]
    assert 1 < len(batches) - 2 < 120 and all(len(batch) < 1600 for batch in batches)
    assert len(adapter.names) == 2 * len(batches)  # hidden images too
