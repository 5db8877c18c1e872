from __future__ import annotations

import datetime
import http.server
import ipaddress
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._image.checksums import (
    digest_for,
    fetch_text,
    is_upstream,
    resolve_checksum,
    source_file_name,
)

A, B, C = "a" * 64, "b" * 64, "c" * 128

SUMS = f"""-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA256

# Fedora-Cloud-41 checksums
SHA256 (Fedora-Cloud-41.qcow2) = {A}
SHA512 (Fedora-Cloud-41.qcow2) = {C}
{B} *noble-server-cloudimg-amd64.img
{A.upper()}  ./jammy.img
{B}  images/focal.img
{"d" * 64}  not-this-jammy.img
-----BEGIN PGP SIGNATURE-----
"""


@pytest.mark.parametrize("algo, name, expected", [
    ("sha256", "Fedora-Cloud-41.qcow2", A),         # BSD style
    ("sha512", "Fedora-Cloud-41.qcow2", C),         # the algorithm's own line
    ("sha256", "noble-server-cloudimg-amd64.img", B),  # GNU binary mode
    ("sha256", "jammy.img", A),                     # ./ prefix, upper-case hex
    ("sha256", "focal.img", B),                     # a path's last segment
    ("sha512", "jammy.img", None),                  # a sha256 line is no sha512
    ("sha256", "missing.img", None),
])
def test_digest_for_picks_the_line_of_the_name(algo, name, expected):
    assert digest_for(SUMS, algo, name) == expected


def test_a_lone_digest_is_the_digest_and_two_digests_for_a_name_are_an_error():
    assert digest_for(f"{A}\n", "sha256", "any.img") == A
    with pytest.raises(InvalidInputError, match="2 different sha256 digests for 'x.img'; give checksum_name"):
        digest_for(f"{A}  a/x.img\n{B}  b/x.img\n", "sha256", "x.img")
    assert digest_for(f"{A}  a/x.img\n{B}  x.img\n", "sha256", "x.img") == B  # the exact name wins


def test_source_file_name():
    assert source_file_name("/srv/images/cirros.img", None) == "cirros.img"
    assert source_file_name(None, "https://cloud-images.example/noble/current/noble%20x.img?sig=1") == "noble x.img"
    assert source_file_name(None, None) is None


def test_resolve_fetches_upstream_and_passes_literals_through():
    fetched = []

    def fetch(url):
        fetched.append(url)
        return SUMS

    assert resolve_checksum("sha256:https://u:pw@example.test/SHA256SUMS", "jammy.img", fetch) == ("sha256", A)
    assert fetched == ["https://u:pw@example.test/SHA256SUMS"]
    assert resolve_checksum("sha256:" + B.upper(), None, fetch) == ("sha256", B) and len(fetched) == 1
    assert is_upstream("SHA512:http://x/SUMS") and not is_upstream("sha256:" + A)


def test_resolve_errors_are_one_line_naming_the_option_without_credentials():
    with pytest.raises(InvalidInputError, match=r"^checksum: https://\S*@example.test/S lists no sha256 for "
                                                r"'gone.img'; give checksum_name") as err:
        resolve_checksum("sha256:https://u:secretpw@example.test/S", "gone.img", lambda url: SUMS)
    assert "secretpw" not in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InvalidInputError, match="^checksum_name: "):
        resolve_checksum("sha256:https://example.test/S", None, lambda url: SUMS)


def test_fetch_text_reads_a_file_url_and_reports_a_missing_one(tmp_path):
    (tmp_path / "SHA256SUMS").write_text(SUMS)
    assert fetch_text((tmp_path / "SHA256SUMS").as_uri(), 5) == SUMS
    with pytest.raises(InvalidInputError, match="^checksum: cannot fetch the checksums file file:.*; check the URL$"):
        fetch_text((tmp_path / "nothing").as_uri(), 5)


@pytest.fixture(name="https_sums")
def fixture_https_sums(tmp_path):
    """SUMS served over HTTPS by a certificate no system CA signed; yields (url, its certificate's path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "ca.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))

    class Sums(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = SUMS.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sums)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/SHA256SUMS", str(cert_path)
    server.shutdown()
    server.server_close()
    thread.join()


def test_fetch_text_honours_ca_cert_and_validate_certs(https_sums):
    url, ca_cert = https_sums
    with pytest.raises(InvalidInputError, match="^checksum: cannot fetch the checksums file https:.*CERTIFICATE_VERIFY"):
        fetch_text(url, 5)  # verified by default: an unknown CA is refused
    assert fetch_text(url, 5, ca_cert=ca_cert) == SUMS
    assert fetch_text(url, 5, validate_certs=False) == SUMS
