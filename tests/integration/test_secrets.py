"""No secret reaches a task's output at -vvv, Ansible's log, a Glance property or a journal.

Every case runs the real ansible-playbook at -vvv, where a task's result is printed whole
(``invocation`` too), with ANSIBLE_LOG_PATH set: the secrets are the local cloud's own.
"""
from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import openstack
import pytest
import yaml

from cloud_secrets import cloud_secrets, leaked

MODULES = ["glance_store_info", "glance_image", "glance_location_backfill", "glance_store_migrate",
           "swift_object_migrate"]


@pytest.fixture(scope="module")
def secrets(cloud) -> dict[str, str]:
    return cloud_secrets(cloud)


@pytest.fixture(scope="module")
def admin_auth(cloud) -> dict:
    """The admin's auth settings as clouds.yaml has them (with the password)."""
    return yaml.safe_load(Path(cloud["clouds_yaml"]).read_text())["clouds"][cloud["admin_cloud"]]["auth"]


@pytest.fixture
def run_task(playbook_command, tmp_path):
    """Run one task at -vvv; its registered result, and everything Ansible printed and logged."""

    def run(module: str, **args):
        out, log = tmp_path / f"result-{uuid.uuid4().hex[:6]}.json", tmp_path / "ansible.log"
        playbook = tmp_path / "task.yml"
        playbook.write_text(yaml.safe_dump([{
            "name": "One task", "hosts": "localhost", "gather_facts": False, "tasks": [
                {"name": "The task", f"storeops.openstack.{module}": args, "register": "result",
                 "ignore_errors": True},
                {"name": "Save the result", "ansible.builtin.copy": {
                    "content": "{{ result | to_json }}", "dest": str(out), "mode": "0600"}}]}]))
        argv, env = playbook_command(str(playbook))
        argv.insert(1, "-vvv")
        env["ANSIBLE_LOG_PATH"] = str(log)
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
        printed = proc.stdout + proc.stderr + (log.read_text() if log.exists() else "")
        assert out.exists(), printed[-3000:]
        return json.loads(out.read_text()), printed

    return run


def required_args(module: str, cloud: dict) -> dict:
    return {
        "glance_image": {"name": f"sec-{uuid.uuid4().hex[:8]}"},
        "glance_store_migrate": {"source_store": "swift", "target_store": "ceph"},
        "swift_object_migrate": {"s3_endpoint_url": cloud["ceph"]["rgw"]["endpoint"],
                                 "s3_access_key": cloud["ceph"]["rgw"]["s3_access_key"],
                                 "s3_secret_key": cloud["ceph"]["rgw"]["s3_secret_key"]},
        "glance_location_backfill": {"backend": "database",
                                     "database_connection": cloud["glance"]["database_url"]},
    }.get(module, {})


@pytest.mark.parametrize("module", MODULES)
def test_an_invalid_option_echoes_no_secret_of_a_cloud_dict(run_task, module, cloud, admin_auth, secrets):
    """Seen: cloud: {auth: {password: ...}} and timeout: two printed the password at -vvv."""
    result, printed = run_task(module, cloud={"auth": admin_auth, "region_name": cloud["region"]},
                               timeout="two", **required_args(module, cloud))
    assert result["failed"] is True and "timeout" in result["msg"]
    assert leaked(secrets, printed) == []
    assert '"module_args": {' in printed  # -vvv did print the invocation


def test_numeric_passwords_are_hidden_too(run_task):
    """Seen: concurrency: two printed a numeric password of a cloud dict."""
    auth = {"auth_url": "http://127.0.0.1:5000/v3", "username": "admin", "password": 73019284615}
    result, printed = run_task("glance_location_backfill", cloud={"auth": auth}, concurrency="two")
    assert result["failed"] is True and "concurrency" in result["msg"]
    assert "73019284615" not in printed


def test_an_unknown_auth_key_is_one_line_naming_it(run_task, cloud, admin_auth, secrets):
    auth = {("usernme" if key == "username" else key): value for key, value in admin_auth.items()}
    result, printed = run_task("glance_store_info", auth=auth)
    assert result["failed"] is True
    assert result["msg"].startswith("auth: usernme is not a setting of auth_type password "
                                    "(did you mean username?); it takes ")
    assert "\n" not in result["msg"]
    # ansible-core >= 2.19 adds "exception": "(traceback unavailable)" to every failure
    assert result.get("exception", "(traceback unavailable)") == "(traceback unavailable)"
    assert 'File "' not in printed, printed[printed.find("Traceback") - 500:][:3000]
    assert leaked(secrets, printed) == []


def credentialed(url: str, password: str, signature: str) -> str:
    """``url`` with user info and query-string credentials (a presigned URL's)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(
        netloc=f"mirror-user:{password}@{parts.netloc}",
        query=f"X-Amz-Credential=AKIDEXAMPLE%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature={signature}"))


@dataclass
class WebImage:
    """A glance_image run from a credentialed web-download URL, its image removed afterwards."""

    plain: str
    url: str
    password: str
    signature: str
    glance: Any
    upload: Callable[[], tuple[dict, str]]


@pytest.fixture
def web_image(run_task, served_file, cloud):
    plain, _path = served_file
    password, signature = f"pw@{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    url = credentialed(plain, password, signature)
    name = f"sec-web-{uuid.uuid4().hex[:8]}"
    glance = openstack.connect(cloud=cloud["admin_cloud"]).image

    def upload() -> tuple[dict, str]:
        return run_task("glance_image", cloud=cloud["admin_cloud"], name=name, url=url,
                        stores=["fast"], disk_format="raw")

    yield WebImage(plain, url, password, signature, glance, upload)
    for found in glance.get("/images", params={"name": name}).json()["images"]:
        glance.delete(f"/images/{found['id']}")


def test_a_credentialed_url_survives_nowhere(web_image, secrets):
    """glance_image's url: not in the result, its invocation, the log, or the image's properties."""
    first, printed = web_image.upload()
    assert first["changed"] is True and not first.get("failed"), first.get("msg")
    again, printed_again = web_image.upload()
    assert again["changed"] is False  # the redacted URL still identifies the image
    image = web_image.glance.get(f"/images/{first['image']['id']}").json()
    for text in (printed, printed_again, json.dumps(first), json.dumps(image)):
        assert web_image.password not in text and web_image.signature not in text
        assert "AKIDEXAMPLE" not in text and leaked(secrets, text) == []
    plain = urlsplit(web_image.plain)
    redacted = urlunsplit(plain._replace(
        netloc=f"***@{plain.netloc}", query="X-Amz-Credential=***&X-Amz-Signature=***"))
    assert image["storeops.openstack.source_url"] == redacted
    assert f'"url": "{redacted}"' in printed  # the invocation at -vvv


def test_an_invalid_option_echoes_no_credentialed_url(run_task, cloud):
    password = f"pw@{uuid.uuid4().hex[:10]}"
    result, printed = run_task("glance_image", cloud=cloud["admin_cloud"], name="never-made",
                               url=f"https://user:{password}@mirror.example/x.img", keep_versions="two")
    assert result["failed"] is True and "keep_versions" in result["msg"]
    assert password not in printed


def test_an_image_that_recorded_its_url_whole_is_recognised_and_rewritten_redacted(web_image):
    """Images made by earlier versions hold the credentialed URL in a property anyone who can
    read the image sees: the next run knows the image and rewrites the property."""
    first, _printed = web_image.upload()
    assert first["changed"] is True and not first.get("failed"), first.get("msg")
    image_id = first["image"]["id"]
    web_image.glance.patch(f"/images/{image_id}", data=json.dumps([
        {"op": "replace", "path": "/storeops.openstack.source_url", "value": web_image.url}]),
        headers={"Content-Type": "application/openstack-images-v2.1-json-patch"}).raise_for_status()
    again, printed = web_image.upload()
    assert again["changed"] is True and [a["action"] for a in again["actions"]] == ["update_metadata"]
    assert again["image"]["id"] == image_id and web_image.password not in printed
    assert web_image.password not in json.dumps(web_image.glance.get(f"/images/{image_id}").json())
