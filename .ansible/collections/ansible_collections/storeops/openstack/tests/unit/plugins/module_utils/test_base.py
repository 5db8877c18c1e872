from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.storeops.openstack.plugins.module_utils._base import StoreOpsModule
from ansible_collections.storeops.openstack.plugins.module_utils._errors import InvalidInputError


class Echo(StoreOpsModule):
    argument_spec = {"outcome": {"type": "str", "default": "ok"}}
    module_kwargs = {"supports_check_mode": True}

    def run(self):
        if self.params["outcome"] == "invalid":
            raise InvalidInputError("outcome: invalid because s3://ak:sk@rgw/b is wrong; use ok")
        if self.params["outcome"] == "bug":
            raise KeyError("a real bug keeps its traceback")
        return {"changed": False, "url": "swift+https://svc:key@ks/v3/c/o", "cloud": self.params["cloud"]}


def run_module(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit) as stop:
        Echo()()
    return stop.value.code, json.loads(capsys.readouterr().out)


def test_results_are_redacted(capsys):
    code, result = run_module(capsys, cloud="prod")
    assert code == 0
    assert result["url"] == "swift+https://***@ks/v3/c/o"


def test_expected_errors_fail_with_one_redacted_line(capsys):
    code, result = run_module(capsys, cloud="prod", outcome="invalid")
    assert code == 1
    assert result["failed"] is True
    assert result["msg"] == "outcome: invalid because s3://***@rgw/b is wrong; use ok"
    assert "exception" not in result


def test_unexpected_errors_are_not_swallowed(capsys):
    with patch_module_args({"outcome": "bug"}), pytest.raises(KeyError):
        Echo()()


def test_secrets_inside_a_cloud_dict_do_not_echo_back(capsys):
    cloud = {"auth": {"auth_url": "http://k/v3", "username": "u", "password": "pa55-word"}}
    code, result = run_module(capsys, cloud=cloud)
    assert code == 0
    assert "pa55-word" not in json.dumps(result)
    assert result["cloud"]["auth"]["username"] == "u"


def test_connection_options_are_shared_with_openstack_cloud_names(capsys):
    code, result = run_module(capsys, cloud="prod", verify=False, endpoint_type="internal")
    assert code == 0
    assert result["invocation"]["module_args"]["validate_certs"] is False
    assert result["invocation"]["module_args"]["interface"] == "internal"
