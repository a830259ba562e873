"""Bounded load test of `facetell serve` on loopback, against the CLI on the same photos, in one run.

    cargo build --release
    python3 benches/load.py [--bin target/release/facetell] [--photos 60] [--requests 120]

Starts the server on a free port, then for concurrency 1, 8 and 64 sends `--requests` POST
/v1/scan requests (600x600 dev portraits, raw body) and reports requests/s, p50/p99 latency, the
status codes seen, and the server's peak RSS; then times `facetell scan` on the same photos.
Standard library only (threads and http.client); figures go to benches/README.md.
"""
import argparse
import http.client
import json
import pathlib
import statistics
import subprocess
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def start(binary):
    proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0"],
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "listening on http://" in line:
            host, port = line.strip().rsplit("http://", 1)[1].split(":")
            break
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    while True:
        try:
            c = http.client.HTTPConnection(host, int(port), timeout=5)
            c.request("GET", "/readyz")
            if c.getresponse().status == 200:
                return proc, host, int(port)
        except OSError:
            pass
        time.sleep(0.1)


def peak_rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_level(host, port, photos, requests, concurrency):
    latencies, statuses, lock = [], {}, threading.Lock()
    todo = iter(range(requests))

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=600)
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            body = photos[i % len(photos)]
            t0 = time.perf_counter()
            conn.request("POST", "/v1/scan", body=body,
                         headers={"Content-Type": "application/octet-stream"})
            resp = conn.getresponse()
            resp.read()
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
            if resp.getheader("Connection", "").lower() == "close":
                conn = http.client.HTTPConnection(host, port, timeout=600)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = sorted(latencies)
    ok = statuses.get(200, 0)
    return {
        "concurrency": concurrency,
        "requests": requests,
        "wall_s": round(wall, 2),
        "ok_per_s": round(ok / wall, 2),
        "p50_ms": round(1000 * statistics.median(lat), 1),
        "p99_ms": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1),
        "statuses": statuses,
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default=str(ROOT / "target/release/facetell"))
    p.add_argument("--photos", type=int, default=60)
    p.add_argument("--requests", type=int, default=120)
    a = p.parse_args()
    files = sorted((DATA / "dev/yonsei/real").glob("*.jpg"))[: a.photos]
    photos = [f.read_bytes() for f in files]

    proc, host, port = start(a.bin)
    try:
        results = [run_level(host, port, photos, a.requests, c) for c in (1, 8, 64)]
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait()
    # The CLI on as many images as one level's requests (the photos repeated), model loading
    # included, as a user would run it.
    paths = [str(files[i % len(files)]) for i in range(a.requests)]
    t0 = time.perf_counter()
    subprocess.run([a.bin, "scan", "--format", "jsonl", *paths], stdout=subprocess.DEVNULL,
                   check=False)
    cli = len(paths) / (time.perf_counter() - t0)
    for r in results:
        print(json.dumps(r))
    best = max(r["ok_per_s"] for r in results)
    print(json.dumps({"server_peak_rss_mb": round(rss), "cli_images_per_s": round(cli, 2),
                      "best_server_images_per_s": best,
                      "server_vs_cli": round(best / cli, 3)}))


if __name__ == "__main__":
    main()
