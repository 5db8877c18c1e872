"""glance_image's main: what it opens and hands to the lifecycle (the lifecycle itself is faked)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.storeops.openstack.plugins.module_utils._image import options
from ansible_collections.storeops.openstack.plugins.modules import glance_image


class FakeConnection:
    """An openstacksdk connection as far as the module reads one."""

    def __init__(self, project: str) -> None:
        self.current_project_id = project
        self.image = SimpleNamespace()


@pytest.fixture(name="opened")
def fixture_opened(monkeypatch):
    """The clouds the module opens, in order; the lifecycle's call is recorded instead of run."""
    opened, calls = [], []

    def open_connection(params):
        opened.append(params.get("cloud"))
        return FakeConnection("p-consumer" if params.get("cloud") == "consumer" else "p-owner")

    def ensure_image(glance, request, source, check_mode, consumer):
        calls.append((request, consumer))
        return SimpleNamespace(execution=SimpleNamespace(warnings=()), as_result=lambda with_diff: {"changed": False})

    monkeypatch.setattr(options, "open_connection", open_connection)
    monkeypatch.setattr("ansible_collections.storeops.openstack.plugins.module_utils._common.base.open_connection",
                        open_connection)
    monkeypatch.setattr(options, "project_id", lambda conn, option, project: project or conn.current_project_id)
    monkeypatch.setattr(options, "reference_properties", lambda glance, given, owner: {})
    monkeypatch.setattr(glance_image, "ensure_image", ensure_image)
    return SimpleNamespace(clouds=opened, calls=calls)


def test_accept_as_opens_the_consumer_cloud_once(opened):
    with patch_module_args({"cloud": "admin", "name": "img", "filename": __file__, "disk_format": "raw",
                            "members": ["p-consumer"], "accept_as": "consumer"}):
        glance_image.GlanceImage().run()
    assert opened.clouds == ["admin", "consumer"]
    (request, consumer), = opened.calls
    assert request.sharing.consumer == "p-consumer" and consumer is not None
