"""MariaDB for Glance's database: concurrent image writes and copy-image tasks need a real server
(on sqlite they fail with "database is locked"), and backend=database is tested against it."""
from __future__ import annotations

from .layout import HOST, PORTS, Layout
from .procs import port_in_use, run, start, wait_for

DATABASE = "glance"


def up(layout: Layout, secrets: dict) -> dict:
    mdir = layout.service_dir("mariadb")
    datadir, socket = mdir / "data", mdir / "mysqld.sock"
    log = layout.log / "mariadb-setup.log"
    run(["mariadb-install-db", "--no-defaults", "--user=root", f"--datadir={datadir}",
         "--auth-root-authentication-method=socket", "--skip-test-db"], log)
    start(layout, "mariadb", [
        "mariadbd", "--no-defaults", "--user=root", f"--datadir={datadir}", f"--socket={socket}",
        f"--port={PORTS['mariadb']}", f"--bind-address={HOST}", f"--pid-file={mdir / 'mariadbd.pid'}",
        "--skip-name-resolve", "--innodb-buffer-pool-size=256M", "--max-connections=500",
        "--innodb-flush-log-at-trx-commit=2"])
    wait_for(lambda: port_in_use(PORTS["mariadb"]), "mariadb", layout.log / "mariadb.log")
    password = secrets["glance_db_password"]
    run(["mariadb", f"--socket={socket}", "-e",
         f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4; "
         f"CREATE USER 'glance'@'{HOST}' IDENTIFIED BY '{password}'; "
         f"GRANT ALL ON {DATABASE}.* TO 'glance'@'{HOST}';"], log)
    return {"url": f"mysql+pymysql://glance:{password}@{HOST}:{PORTS['mariadb']}/{DATABASE}?charset=utf8mb4",
            "socket": str(socket)}
