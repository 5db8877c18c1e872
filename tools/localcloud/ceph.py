"""Single-node Ceph from Debian's packages: mon, mgr, one memstore OSD, radosgw, pool ``images``."""
from __future__ import annotations

import json
import os
import re
import uuid
from string import Template

from .layout import PORTS, RGW_URL, TEMPLATES, Layout
from .procs import CloudError, http_status, run, start, wait_for

DAEMONS = ["ceph-mon", "ceph-mgr", "ceph-osd", "radosgw"]
RBD_POOL = "images"


def conf_path(layout: Layout):
    return layout.service_dir("ceph") / "ceph.conf"


def up(layout: Layout, secrets: dict) -> dict:
    cdir = layout.service_dir("ceph")
    for sub in ("run", "log", "crash", "mon/ceph-a", "osd/ceph-0", "mgr/ceph-a", "rgw/ceph-rgw.a"):
        (cdir / sub).mkdir(parents=True, exist_ok=True)
    fsid = str(uuid.uuid4())
    memstore_gib = float(os.environ.get("STOREOPS_CEPH_MEMSTORE_GIB", "6"))
    conf = conf_path(layout)
    conf.write_text(Template((TEMPLATES / "ceph.conf").read_text()).substitute(
        fsid=fsid, dir=cdir, mon_port=PORTS["ceph-mon"], mon_port_v1=PORTS["ceph-mon-v1"],
        rgw_port=PORTS["radosgw"], memstore_bytes=int(memstore_gib * 2**30)))
    log = layout.log / "ceph-setup.log"
    ceph = ["ceph", "-c", str(conf), "--connect-timeout", "10"]

    run(["monmaptool", "--create", "--fsid", fsid, "--addv", "a",
         f"[v2:127.0.0.1:{PORTS['ceph-mon']},v1:127.0.0.1:{PORTS['ceph-mon-v1']}]",
         str(cdir / "monmap")], log)
    run(["ceph-mon", "-c", str(conf), "--mkfs", "-i", "a", "--monmap", str(cdir / "monmap")], log)
    start(layout, "ceph-mon", ["ceph-mon", "-c", str(conf), "-i", "a", "-f"])
    wait_for(lambda: _ok(ceph + ["mon", "stat"]), "ceph-mon", layout.log / "ceph-mon.log")
    start(layout, "ceph-mgr", ["ceph-mgr", "-c", str(conf), "-i", "a", "-f"])

    osd_uuid = str(uuid.uuid4())
    osd_id = run(ceph + ["osd", "new", osd_uuid], log).strip()
    run(["ceph-osd", "-c", str(conf), "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid], log)
    start(layout, "ceph-osd", ["ceph-osd", "-c", str(conf), "-i", osd_id, "-f"])
    wait_for(lambda: re.search(rf"^osd\.{osd_id} up", run(ceph + ["osd", "dump"]), re.M) is not None,
             "ceph-osd", layout.log / "ceph-osd.log")

    run(ceph + ["osd", "pool", "create", RBD_POOL, "8", "8", "replicated", "--size", "1"], log)
    run(ceph + ["osd", "pool", "application", "enable", RBD_POOL, "rbd"], log)

    start(layout, "radosgw", ["radosgw", "-c", str(conf), "-n", "client.rgw.a", "-f"])
    wait_for(lambda: http_status(RGW_URL + "/") == 200, "radosgw", layout.log / "radosgw.log",
             timeout=120)
    admin = ["radosgw-admin", "-c", str(conf)]
    run(admin + ["user", "create", "--uid=storeops", "--display-name=storeops",
                 f"--access-key={secrets['s3_access_key']}",
                 f"--secret-key={secrets['s3_secret_key']}"], log)
    run(admin + ["subuser", "create", "--uid=storeops", "--subuser=storeops:swift",
                 "--access=full", "--key-type=swift", f"--secret-key={secrets['rgw_swift_key']}"], log)
    # HEALTH_OK can be reported while PGs still peer: wait for every PG active+clean too.
    try:
        wait_for(lambda: _healthy(ceph), "ceph", layout.log / "ceph-mon.log", timeout=120)
    except CloudError as err:
        detail = " ".join(run(ceph + ["health", "detail"]).split())
        raise CloudError(f"{err} (health: {detail[:300]})") from None
    return {
        "fsid": fsid,
        "conf": str(conf),
        "rbd_pool": RBD_POOL,
        "rgw": {"endpoint": RGW_URL, "s3_access_key": secrets["s3_access_key"],
                "s3_secret_key": secrets["s3_secret_key"],
                "swift_auth_url": RGW_URL + "/auth/1.0", "swift_user": "storeops:swift",
                "swift_key": secrets["rgw_swift_key"]},
    }


def _ok(argv: list[str]) -> bool:
    try:
        run(argv)
        return True
    except Exception:  # noqa: BLE001 - "not yet" is any failure while polling
        return False


def _healthy(ceph: list[str]) -> bool:
    try:
        status = json.loads(run(ceph + ["status", "--format", "json"]))
    except Exception:  # noqa: BLE001
        return False
    pgs = status["pgmap"]
    clean = sum(s["count"] for s in pgs.get("pgs_by_state", []) if s["state_name"] == "active+clean")
    return status["health"]["status"] == "HEALTH_OK" and clean == pgs["num_pgs"] > 0
