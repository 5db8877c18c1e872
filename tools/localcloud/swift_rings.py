"""Build one-replica account/container/object rings in one process (run by the servers venv)."""
import sys

from swift.common.ring import RingBuilder

swift_dir = sys.argv[1]
for kind, port in (("account", 6202), ("container", 6201), ("object", 6200)):
    builder = RingBuilder(10, 1, 1)  # part power 10, one replica, min_part_hours 1
    builder.add_dev({"region": 1, "zone": 1, "ip": "127.0.0.1", "port": port,
                     "device": "d1", "weight": 100})
    builder.rebalance()
    builder.save(f"{swift_dir}/{kind}.builder")
    builder.get_ring().save(f"{swift_dir}/{kind}.ring.gz")
