from __future__ import annotations

import pytest
from keystoneauth1 import exceptions as ksa_exceptions
from openstack import exceptions as sdk_exceptions

from ansible_collections.storeops.openstack.plugins.module_utils._common.connection import (
    connect_kwargs,
    open_connection,
    service_connection,
    translate_sdk_error,
)
from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import (
    CloudConnectionError,
    CloudRequestError,
    InvalidInputError,
    NotAuthorizedError,
)


def params(**given):
    base = {"cloud": None, "auth_type": None, "auth": None, "region_name": None,
            "validate_certs": None, "ca_cert": None, "client_cert": None, "client_key": None,
            "api_timeout": None, "interface": "public", "wait": True, "timeout": 180}
    base.update(given)
    return base


def test_named_cloud_maps_options_to_sdk_names_and_drops_unset():
    kwargs = connect_kwargs(params(cloud="prod", region_name="r1", validate_certs=False,
                                   ca_cert="/ca.pem", client_key="/k.pem", api_timeout=30))
    assert kwargs == {"cloud": "prod", "region_name": "r1", "verify": False, "cacert": "/ca.pem",
                      "key": "/k.pem", "api_timeout": 30, "interface": "public"}


def test_without_cloud_the_environment_decides():
    assert connect_kwargs(params(auth={"auth_url": "http://k/v3"})) == {
        "auth": {"auth_url": "http://k/v3"}, "interface": "public"}


def test_cloud_dict_is_passed_whole():
    cloud = {"auth": {"auth_url": "http://k/v3", "password": "p"}, "region_name": "r"}
    assert connect_kwargs(params(cloud=cloud)) == cloud


@pytest.mark.parametrize("extra, named", [
    ({"region_name": "r"}, "region_name"),
    ({"auth": {"password": "x"}}, "auth"),
    ({"interface": "internal"}, "interface"),
])
def test_cloud_dict_with_options_beside_it_is_rejected_naming_them(extra, named):
    with pytest.raises(InvalidInputError, match=named):
        connect_kwargs(params(cloud={"auth": {}}, **extra))


def test_cloud_of_another_type_is_rejected():
    with pytest.raises(InvalidInputError, match="cloud must be"):
        connect_kwargs(params(cloud=["prod"]))


@pytest.mark.parametrize("error, kind, text", [
    (ksa_exceptions.Unauthorized(), CloudConnectionError, "HTTP 401"),
    (ksa_exceptions.ConnectFailure("Unable to establish connection to http://k:5000"),
     CloudConnectionError, "cannot reach the cloud: Unable to establish"),
    (ksa_exceptions.EndpointNotFound("image"), CloudConnectionError, "region_name"),
    (sdk_exceptions.ForbiddenException("no\nsecond line"), NotAuthorizedError, "HTTP 403"),
    (sdk_exceptions.HttpException("boom"), CloudRequestError, "boom"),
])
def test_sdk_errors_become_typed_one_line_errors(error, kind, text):
    translated = translate_sdk_error(error)
    assert isinstance(translated, kind)
    assert text in str(translated)
    assert "\n" not in str(translated)


def test_unknown_errors_are_not_translated():
    assert translate_sdk_error(ValueError("bug")) is None


@pytest.mark.parametrize("given, where, key, hint", [
    ({"auth": {"auth_url": "http://127.0.0.1:1/v3", "usernme": "admin", "password": "p"}},
     "auth", "usernme", "did you mean username?"),
    ({"cloud": {"auth": {"auth_url": "http://127.0.0.1:1/v3", "username": "u", "pasword": "p"}}},
     "cloud.auth", "pasword", "did you mean password?"),
    ({"auth_type": "v3applicationcredential",
      "auth": {"auth_url": "http://127.0.0.1:1/v3", "application_credential_id": "i",
               "application_credential_secre": "s"}},
     "auth", "application_credential_secre", "did you mean application_credential_secret?"),
])
def test_an_unknown_auth_key_is_one_line_naming_it_and_the_fix(given, where, key, hint):
    with pytest.raises(InvalidInputError) as raised:
        open_connection(params(**given))
    message = str(raised.value)
    assert message.startswith(f"{where}: {key} is not a setting of auth_type ")
    assert hint in message and "; it takes " in message and "auth_url" in message
    assert "\n" not in message


class _Refused:
    def authorize(self):
        raise ksa_exceptions.Unauthorized("The request you have made requires authentication. (HTTP 401)")


def test_service_credentials_keystone_refuses_fail_in_one_line_naming_their_file(monkeypatch):
    opened = []
    monkeypatch.setattr("openstack.connect", lambda **kwargs: opened.append(kwargs) or _Refused())
    with pytest.raises(InvalidInputError, match=r"^\[ref1\] of /etc/glance/swift.conf: Keystone refused "
                                                r"these credentials \(The request you have made requires"):
        service_connection({"auth_url": "http://ks/v3", "password": "s3cret"}, "[ref1] of /etc/glance/swift.conf",
                           "RegionTwo", "internal")
    assert opened[0]["region_name"] == "RegionTwo" and opened[0]["interface"] == "internal"
