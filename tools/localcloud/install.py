"""Install what the local cloud needs on a fresh machine: Debian's Ceph, and a servers virtualenv."""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

from .layout import HERE, Layout
from .procs import CloudError, run

DEBIAN_PACKAGES = ["ceph-mon", "ceph-osd", "ceph-mgr", "radosgw", "ceph-common",
                   "python3-rados", "python3-rbd", "mariadb-server"]
DEBIAN_COMMANDS = ["ceph-mon", "ceph-osd", "ceph-mgr", "radosgw", "radosgw-admin", "ceph", "monmaptool",
                   "mariadbd", "mariadb-install-db", "mariadb"]
DEBIAN_EXTENSIONS = Path("/usr/lib/python3/dist-packages")
# glance_store 5.7.0's swift driver declares every segment's Content-Length as the full chunk
# size; the last, shorter segment then stalls the proxy for 60 s and the upload fails (499).
# Sized uploads, glance-direct imports and copy-image into Swift all hit it. A production Swift
# store works, so the local one must too: size the last segment by the bytes left.
SWIFT_SEGMENT_BUG = """                        chunk_size = self.large_object_chunk_size
                        if image_size == 0:
                            content_length = None
                        else:
                            content_length = chunk_size
"""
SWIFT_SEGMENT_FIX = """                        chunk_size = self.large_object_chunk_size
                        if image_size == 0:
                            content_length = None
                        else:
                            # storeops local cloud: last segment sized by the bytes left
                            chunk_size = min(chunk_size,
                                             image_size - combined_chunks_size)
                            content_length = chunk_size
"""


def install(layout: Layout) -> None:
    ensure_debian_packages()
    ensure_servers_venv(layout)


def ensure_debian_packages() -> None:
    missing = [c for c in DEBIAN_COMMANDS if shutil.which(c) is None]
    if not missing and list(DEBIAN_EXTENSIONS.glob("rbd.cpython-*.so")):
        return
    if os.geteuid() != 0:
        raise CloudError(
            "Debian packages are missing (" + ", ".join(missing or ["python3-rbd"]) + "); run as root "
            "or install them: apt-get install -y " + " ".join(DEBIAN_PACKAGES))
    print("installing Debian packages: " + " ".join(DEBIAN_PACKAGES), flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", *DEBIAN_PACKAGES], env=env)


def _venv_fingerprint() -> str:
    digest = hashlib.sha256(sys.version.encode())
    for name in ("servers-requirements.txt", "servers-constraints.txt", "install.py"):
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()


def ensure_servers_venv(layout: Layout) -> None:
    if sys.version_info[:2] != (3, 11):
        raise CloudError(
            f"the servers virtualenv needs Python 3.11 (Debian's python3-rbd is built for it); "
            f"this is {sys.version.split()[0]}: run the launcher with python3.11")
    stamp = layout.venv / ".storeops-fingerprint"
    fingerprint = _venv_fingerprint()
    if stamp.is_file() and stamp.read_text() == fingerprint:
        return
    print(f"building the servers virtualenv in {layout.venv} (a few minutes)", flush=True)
    if not (layout.venv / "bin" / "python").exists():
        run([sys.executable, "-m", "venv", str(layout.venv)])
    pip = [layout.venv_bin("python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run(pip + ["-r", str(HERE / "servers-requirements.txt"), "-c", str(HERE / "servers-constraints.txt")])
    _patch_glance_store(layout)
    link_ceph_bindings(layout.venv)
    stamp.write_text(fingerprint)


def _site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def _patch_glance_store(layout: Layout) -> None:
    driver = _site_packages(layout.venv) / "glance_store" / "_drivers" / "swift" / "store.py"
    source = driver.read_text()
    if SWIFT_SEGMENT_FIX in source:
        return
    if SWIFT_SEGMENT_BUG not in source:
        raise CloudError(f"{driver} is not the glance_store 5.7.0 the segment fix was written for")
    driver.write_text(source.replace(SWIFT_SEGMENT_BUG, SWIFT_SEGMENT_FIX))


def link_ceph_bindings(venv: Path) -> None:
    # Glance's rbd store and the collection's rbd driver import rados/rbd; Debian builds them
    # for CPython 3.11 only, and a venv does not see them.
    site = _site_packages(venv)
    for module in ("rados", "rbd"):
        for so_file in DEBIAN_EXTENSIONS.glob(f"{module}.cpython-311-*.so"):
            link = site / so_file.name
            if not link.exists():
                link.symlink_to(so_file)
