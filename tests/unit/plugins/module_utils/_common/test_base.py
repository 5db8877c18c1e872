from __future__ import annotations

import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.storeops.openstack.plugins.module_utils._common.base import StoreOpsModule
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError


class Echo(StoreOpsModule):
    argument_spec = {"outcome": {"type": "str", "default": "ok"}, "concurrency": {"type": "int", "default": 1},
                     "url": {"type": "str"}}
    module_kwargs = {"supports_check_mode": True}

    def run(self):
        if self.params["outcome"] == "warn":
            self.ansible.warn(f"could not fetch {self.params['url']}")
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


SECRET_CLOUDS = [
    {"auth": {"auth_url": "http://k/v3", "username": "u", "password": "pa55-word"}},
    {"auth": {"auth_url": "http://k/v3", "username": "u", "password": 31415926535}},
    {"auth": {"auth_url": "http://k/v3", "application_credential_id": "i",
              "application_credential_secret": "ap-secret"}, "auth_type": "v3applicationcredential"},
]


@pytest.mark.parametrize("cloud", SECRET_CLOUDS)
def test_cloud_dict_secrets_stay_hidden_when_validation_fails(capsys, cloud):
    # AnsibleModule fails inside its constructor, echoing the arguments as invocation
    code, result = run_module(capsys, cloud=cloud, concurrency="two")
    assert code == 1 and "concurrency" in result["msg"]
    secret = str(cloud["auth"].get("password") or cloud["auth"].get("application_credential_secret"))
    assert secret not in json.dumps(result)
    assert result["invocation"]["module_args"]["cloud"]["auth"]["auth_url"] == "http://k/v3"


def test_auth_dict_secrets_stay_hidden_when_validation_fails(capsys):
    code, result = run_module(capsys, auth={"auth_url": "http://k/v3", "password": 27182818},
                              concurrency="two")
    assert code == 1
    assert "27182818" not in json.dumps(result)


def test_url_credentials_never_echo_back_in_invocation(capsys):
    url = "https://alice:p@ss-w0rd@mirror/x.img?X-Amz-Signature=f00ba4"
    for args in ({"url": url}, {"url": url, "concurrency": "two"}):
        _code, result = run_module(capsys, cloud="prod", **args)
        text = json.dumps(result)
        assert "p@ss-w0rd" not in text and "f00ba4" not in text
        assert result["invocation"]["module_args"]["url"] == \
            "https://***@mirror/x.img?X-Amz-Signature=***"


def test_warnings_are_redacted(capsys):
    _code, result = run_module(capsys, cloud="prod", outcome="warn", url="s3://ak:sk-value@rgw/b/o")
    assert "sk-value" not in json.dumps(result)
    assert any("s3://***@rgw/b/o" in str(warning) for warning in result["warnings"])


def test_the_logged_invocation_holds_no_secret(capsys, monkeypatch):
    logged = []
    monkeypatch.setattr(AnsibleModule, "log", lambda self, msg, log_args=None: logged.append(msg))
    run_module(capsys, cloud={"auth": {"password": 31415926535}},
               url="https://alice:p@ss-w0rd@mirror/x.img?temp_url_sig=f00ba4")
    assert logged and not any(s in "".join(logged) for s in ("31415926535", "p@ss-w0rd", "f00ba4"))
