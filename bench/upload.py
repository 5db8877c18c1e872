"""Benchmark: glance_image uploads against curl -T and the openstack CLI, on the same Glance.

For each file size: the module (the module process alone, as Ansible runs it: wall time and peak
RSS), a raw ``curl -T`` PUT of the same bytes, and ``openstack image create --file``; all into the
``fast`` store, interleaved, with each round's ratio. A 1 MiB upload by the module and by curl
first gives what a run costs whatever its size (the module's includes its Python start, its token,
the calls around the upload and the second a new image waits for a rival run; curl is handed an
image and a token), and the "streaming only" ratios take it off. ``--profile`` samples one more
module upload per size with py-spy (every thread) and prints where the time went. Then a no-op re-run over 50 images with ``checksum`` given: Glance API requests
per image (counted in Glance's request log) and wall time.

Run with `make bench-upload` (the local cloud must be up; `make cloud`).
"""
from __future__ import annotations

import argparse
import collections
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openstack

from common import COLLECTIONS, REPO, facts, run_module, timed



def make_file(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size == size:
        return
    block = os.urandom(1 << 20)
    with open(path, "wb") as handle:
        for index in range(size >> 20):
            handle.write(index.to_bytes(8, "big") + block[8:])


def upload_module(options, cloud, image_api, path) -> tuple[float, float]:
    seconds, rss, result = run_module(options.collections, "glance_image", {
        "cloud": cloud["admin_cloud"], "name": f"bench-module-{path.stem}", "filename": str(path),
        "disk_format": "raw", "stores": ["fast"], "upload_method": "direct"})
    image_api.delete(f"/images/{result['image']['id']}")
    return seconds, rss


def fixed_costs(options, cloud, conn, image_api, glance_url) -> dict[str, float]:
    """Each tool's median time for 1 MiB: what a run costs whatever its size.

    The module's includes its Python start, the token and the calls around the upload; curl is
    handed an image and a token, so this part of the ratio says nothing about streaming.
    """
    path = options.workdir / "image-1M.raw"
    make_file(path, 1 << 20)
    fixed = {"module": statistics.median(upload_module(options, cloud, image_api, path)[0]
                                         for _ in range(options.repeats)),
             "curl": statistics.median(upload_curl(conn, image_api, glance_url, path)[0]
                                       for _ in range(options.repeats))}
    print(f"per-run cost (1 MiB upload, median of {options.repeats}): module {fixed['module']:.2f} s, "
          f"curl {fixed['curl']:.2f} s")
    return fixed


def profile_module(options, cloud, image_api, path, top: int = 15) -> None:
    """One module upload under py-spy (every thread, idle ones included: waits show where time goes)."""
    with tempfile.TemporaryDirectory() as workdir:
        args = Path(workdir) / "args.json"
        args.write_text(__import__("json").dumps({"ANSIBLE_MODULE_ARGS": {
            "cloud": cloud["admin_cloud"], "name": f"bench-profile-{path.stem}", "filename": str(path),
            "disk_format": "raw", "stores": ["fast"], "upload_method": "direct"}}))
        raw = Path(workdir) / "profile.txt"
        module = options.collections / "ansible_collections/storeops/openstack/plugins/modules/glance_image.py"
        proc = subprocess.run([str(Path(sys.executable).parent / "py-spy"), "record", "--idle", "--threads",
                               "--format", "raw", "--rate", "200", "-o", str(raw), "--", sys.executable,
                               str(module), str(args)], capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONPATH": str(options.collections)})
        result = __import__("json").JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{"):])[0]
        if result.get("image"):
            image_api.delete(f"/images/{result['image']['id']}")
        by_thread_leaf: collections.Counter = collections.Counter()
        total = 0
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = stack.split(";")
            thread = frames[0].split(": ", 1)[-1]
            leaf = frames[-1].split(" (")[0] if len(frames) > 1 else "?"
            by_thread_leaf[(thread, leaf)] += int(count)
            total += int(count)
    print(f"\nprofile of one {path.stem} module upload ({total} samples over every thread, by leaf function):")
    for (thread, leaf), count in by_thread_leaf.most_common(top):
        print(f"  {count / total:6.1%}  {thread:18} {leaf}")


def upload_curl(conn, image_api, glance_url, path) -> tuple[float, float]:
    created = image_api.post("/images", json={"name": f"bench-curl-{path.stem}", "disk_format": "raw",
                                              "container_format": "bare"}).json()
    seconds, rss, _text = timed([
        # "Expect:": curl -T otherwise waits a second for a 100 Continue that Glance never sends
        "curl", "-sf", "-X", "PUT", "-T", str(path), "-H", "Expect:", "-H", f"X-Auth-Token: {conn.auth_token}",
        "-H", "Content-Type: application/octet-stream", "-H", "X-Image-Meta-Store: fast",
        f"{glance_url}/v2/images/{created['id']}/file"])
    image_api.delete(f"/images/{created['id']}")
    return seconds, rss


def upload_cli(openstack_cli, cloud, image_api, path) -> tuple[float, float]:
    seconds, rss, text = timed([openstack_cli, "--os-cloud", cloud["admin_cloud"], "image", "create",
                                "--disk-format", "raw", "--file", str(path), "-f", "value", "-c", "id",
                                f"bench-cli-{path.stem}"])
    image_api.delete(f"/images/{text.strip()}")
    return seconds, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--noop-images", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp/storeops-bench"))
    parser.add_argument("--collections", type=Path, default=COLLECTIONS)
    parser.add_argument("--profile", action="store_true", help="also profile one module upload per size")
    options = parser.parse_args()
    cloud = facts()
    os.environ["OS_CLIENT_CONFIG_FILE"] = cloud["clouds_yaml"]
    conn = openstack.connect(cloud=cloud["admin_cloud"])
    image_api, glance_url = conn.image, cloud["glance"]["url"]
    options.workdir.mkdir(parents=True, exist_ok=True)
    openstack_cli = str(REPO / ".localcloud" / "venv-servers" / "bin" / "openstack")
    fixed = fixed_costs(options, cloud, conn, image_api, glance_url)
    print(f"{'size':>6} {'tool':28} {'seconds':>8} {'MB/s':>7} {'peak RSS':>9}  vs curl")
    for size_mib in options.sizes_mib:
        path = options.workdir / f"image-{size_mib}M.raw"
        make_file(path, size_mib << 20)
        tools = {
            "glance_image (module)": lambda: upload_module(options, cloud, image_api, path),
            "curl -T": lambda: upload_curl(conn, image_api, glance_url, path),
            "openstack image create": lambda: upload_cli(openstack_cli, cloud, image_api, path),
        }
        runs: dict[str, list] = {tool: [] for tool in tools}
        for _round in range(options.repeats):  # interleaved, so no tool always goes first
            for tool, upload in tools.items():
                runs[tool].append(upload())
        curl_seconds = statistics.median(s for s, _ in runs["curl -T"])
        for tool, results in runs.items():
            seconds = statistics.median(s for s, _ in results)
            rss = max(r for _, r in results)
            print(f"{size_mib:5}M {tool:28} {seconds:8.1f} {size_mib * 1.048576 / seconds:7.1f} "
                  f"{rss:7.0f} MiB  {seconds / curl_seconds:5.2f}x", flush=True)
        module_runs = [seconds for seconds, _ in runs["glance_image (module)"]]
        curl_runs = [seconds for seconds, _ in runs["curl -T"]]
        print("  ratio to curl per round: " + ", ".join(
            f"{module / curl:.2f}x" for module, curl in zip(module_runs, curl_runs)))
        print("  streaming only (each tool's 1 MiB time taken off): " + ", ".join(
            f"{(module - fixed['module']) / (curl - fixed['curl']):.2f}x"
            for module, curl in zip(module_runs, curl_runs)))
        if options.profile:
            profile_module(options, cloud, image_api, path)
    if options.noop_images:
        noop(options, cloud, image_api)


def noop(options, cloud: dict, image_api) -> None:
    """A no-op re-run over N existing images with checksum given: requests per image."""
    path = options.workdir / "small.raw"
    make_file(path, 1 << 20)
    sha256 = __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    names = [f"bench-noop-{n:03}" for n in range(options.noop_images)]
    base = {"cloud": cloud["admin_cloud"], "filename": str(path), "disk_format": "raw",
            "stores": ["fast"], "checksum": f"sha256:{sha256}"}
    for name in names:  # ensure they exist (first run creates, later runs find them)
        run_module(options.collections, "glance_image", {**base, "name": name})
    log = Path(cloud["glance"]["config_dir"]).parent / "log" / "glance.log"
    time.sleep(1)
    requests_before = log.read_text().count("} [")
    started = time.monotonic()
    changed = 0
    for name in names:
        changed += run_module(options.collections, "glance_image", {**base, "name": name})[2]["changed"]
    seconds = time.monotonic() - started
    time.sleep(1)  # uWSGI writes its request log lines asynchronously
    requests = log.read_text().count("} [") - requests_before
    print(f"\nno-op re-run of {len(names)} images with checksum: {changed} changed, "
          f"{requests / len(names):.1f} Glance requests per image, {seconds:.1f}s "
          f"({seconds / len(names) * 1000:.0f} ms per image, one module process each)")


if __name__ == "__main__":
    main()
