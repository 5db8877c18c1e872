# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``checksum: sha256:<URL>``: the expected hash, read from upstream's checksums file.

As ``ansible.builtin.get_url`` takes it: the file (``SHA256SUMS``, ``CHECKSUM``...) holds GNU-style
lines (``<hex>  <name>``, ``<hex> *<name>`` for binary mode) or BSD-style ones
(``SHA256 (<name>) = <hex>``), and the line used is the one for the source's file name, or for
``checksum_name`` when upstream names the file differently. Other lines (comments, a PGP
signature's armour) are skipped. A file holding nothing but one digest is that digest.

Resolving turns the option into the ``(algorithm, hex)`` a literal checksum gives, so content
identity and the verification before publishing work as they do for a literal value; a changed
upstream file is a changed checksum, and ``on_content_change`` decides.

This is a private module_utils file of storeops.openstack; its API may change without notice.
"""

from __future__ import annotations

import posixpath
import re
from typing import Callable
from urllib.parse import unquote, urlsplit

from ansible_collections.storeops.openstack.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.storeops.openstack.plugins.module_utils._common.hashing import parse_checksum
from ansible_collections.storeops.openstack.plugins.module_utils._common.redact import redact_text

HEX_LENGTH = {"sha256": 64, "sha512": 128}
MAX_CHECKSUMS_FILE = 16 << 20  # far above any distribution's; a bigger answer is not one
_UPSTREAM = re.compile(r"^(?P<algo>sha256|sha512):(?P<url>(?:https?|file)://.+)$", re.IGNORECASE)
_GNU = re.compile(r"^(?P<hex>[0-9a-fA-F]+) (?:\*| )?(?P<name>.+)$")
_BSD = re.compile(r"^(?P<algo>[A-Za-z0-9-]+) ?\((?P<name>.+)\) ?= ?(?P<hex>[0-9a-fA-F]+)$")
_BARE = re.compile(r"^[0-9a-fA-F]+$")


def is_upstream(checksum: str) -> bool:
    return bool(_UPSTREAM.match(checksum.strip()))


def source_file_name(filename: str | None, url: str | None) -> str | None:
    """The name upstream's checksums file lists the source under: the file's basename, or the
    URL's last path segment."""
    if filename:
        return posixpath.basename(filename)
    if url:
        return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]) or None
    return None


def digest_for(text: str, algo: str, name: str) -> str | None:
    """The ``algo`` hex digest that checksums-file ``text`` lists for ``name`` (None: not listed).

    A line naming a path (``./images/name``) counts for its last segment when no line names it
    exactly; two different digests for the name are an error, not a guess.
    """
    exact, by_basename = set(), set()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        match = _BSD.match(line) or _GNU.match(line)
        if not match or len(match.group("hex")) != HEX_LENGTH[algo]:
            continue
        if "algo" in match.groupdict() and match.group("algo").replace("-", "").lower() != algo:
            continue
        listed = match.group("name").strip()
        if listed == name or listed == f"./{name}":
            exact.add(match.group("hex").lower())
        elif posixpath.basename(listed) == name:
            by_basename.add(match.group("hex").lower())
    found = exact or by_basename
    if len(found) > 1:
        raise InvalidInputError(f"checksum: the checksums file lists {len(found)} different {algo} "
                                f"digests for {name!r}; give checksum_name as upstream lists it")
    if found:
        return found.pop()
    if len(lines) == 1 and _BARE.match(lines[0]) and len(lines[0]) == HEX_LENGTH[algo]:
        return lines[0].lower()
    return None


def fetch_text(url: str, timeout: int, validate_certs: bool | None = None, ca_cert: str | None = None) -> str:
    """The checksums file at ``url``; a failure is one line naming ``checksum`` (URL redacted).

    TLS as the module's cloud options say: ``validate_certs`` unset verifies, ``ca_cert`` is the CA bundle.
    """
    # imported here: about 0.05 s of every run's start, and only a checksum URL needs it
    # pylint: disable-next=import-outside-toplevel
    from ansible.module_utils.urls import ConnectionError as UrlConnectionError, open_url
    try:
        with open_url(url, timeout=timeout, http_agent="storeops.openstack",
                      validate_certs=validate_certs is not False, ca_path=ca_cert) as answer:
            body = answer.read(MAX_CHECKSUMS_FILE + 1)
    except (OSError, ValueError, UrlConnectionError) as err:
        raise InvalidInputError(f"checksum: cannot fetch the checksums file {redact_text(url)} "
                                f"({redact_text(str(err))}); check the URL") from None
    if len(body) > MAX_CHECKSUMS_FILE:
        raise InvalidInputError(f"checksum: {redact_text(url)} is over {MAX_CHECKSUMS_FILE >> 20} MiB, "
                                "not a checksums file; give the checksums file's URL")
    return body.decode("utf-8", errors="replace")


def resolve_checksum(checksum: str, name: str | None, fetch: Callable[[str], str]) -> tuple[str, str]:
    """``(algorithm, hex)`` of a literal ``checksum`` or of ``algo:URL``'s line for ``name``."""
    upstream = _UPSTREAM.match(checksum.strip())
    if not upstream:
        return parse_checksum(checksum)
    algo, url = upstream.group("algo").lower(), upstream.group("url")
    if not name:
        raise InvalidInputError("checksum_name: a checksums-file checksum needs the name the file "
                                "lists the image under (give checksum_name, filename or url)")
    value = digest_for(fetch(url), algo, name)
    if value is None:
        raise InvalidInputError(f"checksum: {redact_text(url)} lists no {algo} for {name!r}; give "
                                "checksum_name as upstream names the file")
    return algo, value
