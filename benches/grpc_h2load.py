#!/usr/bin/env python3
"""gRPC load with h2load (Debian's nghttp2-client): Classify against grpc.health.v1.Health/Check
on one `warta serve`, same tool, same connections and concurrency, in interleaved rounds.

A second view beside `cargo bench --bench grpc_load`: the client is a separate C process, so
the server's own CPU time per call is measured too (from /proc), which is what sizes a
deployment. Every Classify answer is checked through the server's Prometheus counters: the
run fails unless all of them were OK.

Usage: benches/grpc_h2load.py [--requests N] [--rounds R] [--model FILE]
(defaults 100000 per round, 3 rounds, the embedded default model). Each round also compares
Check, a lead and a whole article at lighter loads (1 × 1, 4 × 1 and 4 × 4 connections ×
streams). Needs h2load; installs nghttp2-client with apt-get when run as root and it is missing.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "data" / "seeds" / "000_a5398182eba481b3.txt"
CLIENTS, STREAMS = 4, 16  # 4 HTTP/2 connections × 16 streams: concurrency 64, as grpc_load
# lighter loads, where a call waits on the round trip more than on the CPU: one call at a time,
# one per connection, four per connection
SWEEP = [(1, 1), (4, 1), (4, 4)]


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, data: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(data)) + data


def grpc_frame(message: bytes) -> bytes:
    return b"\0" + struct.pack(">I", len(message)) + message


def classify_request(text: str) -> bytes:
    # warta.v1.ClassifyRequest{article: {id: "1", text, language: "id"}, top_k: 3}
    article = field(1, b"1") + field(3, text.encode()) + field(4, b"id")
    return grpc_frame(field(1, article) + varint(2 << 3) + varint(3))


def batch_request(texts: list) -> bytes:
    # warta.v1.ClassifyBatchRequest{articles: [{id, text, language: "id"}…], top_k: 3}
    articles = b"".join(field(1, field(1, str(i).encode()) + field(3, t.encode()) + field(4, b"id"))
                        for i, t in enumerate(texts))
    return grpc_frame(articles + varint(2 << 3) + varint(3))


# leads per ClassifyBatch call: what a bulk client sends instead of one call per article
BATCH = 16


def lead(text: str, words: int = 45) -> str:
    # the same headline + lead as grpc_load: the first 45 words
    return text[: min(sum(len(w) + 1 for w in text.split()[:words]), len(text))]


def ensure_h2load() -> str:
    found = shutil.which("h2load")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "nghttp2-client"], check=True,
                       stdout=subprocess.DEVNULL)
        found = shutil.which("h2load")
    if not found:
        sys.exit("h2load not found: install nghttp2-client")
    return found


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def h2load(binary: str, body: Path, url: str, requests: int, clients: int = CLIENTS, streams: int = STREAMS) -> dict:
    out = subprocess.run(
        [binary, "-n", str(requests), "-c", str(clients), "-m", str(streams), "-t", "1",
         "-d", str(body), "-H", "content-type: application/grpc", "-H", "te: trailers", url],
        capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"finished in [^,]+, ([0-9.]+) req/s", out).group(1))
    ok = int(re.search(r"(\d+) succeeded", out).group(1))
    mean = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", out)
    return {"rate": rate, "succeeded": ok, "mean": mean.group(1) if mean else "?"}


def scrape(addr: str, sample: str) -> float:
    page = urllib.request.urlopen(f"http://{addr}/metrics", timeout=10).read().decode()
    for line in page.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--model", help="topic model file (default: the embedded model)")
    args = ap.parse_args()

    binary = ensure_h2load()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "warta"], cwd=ROOT, check=True)
    work = ROOT / "target" / "bench-data" / "h2load"
    work.mkdir(parents=True, exist_ok=True)
    text = ARTICLE.read_text(encoding="utf-8")
    bodies = {
        "check": grpc_frame(field(1, b"warta.v1.ArticleService")),
        "lead": classify_request(lead(text)),
        "whole": classify_request(text),
        "batch": batch_request([lead(text)] * BATCH),
    }
    # a batch call is ~BATCH times the work: fewer calls, so each round takes about as long
    calls = {name: args.requests // BATCH if name == "batch" else args.requests for name in bodies}
    for name, body in bodies.items():
        (work / f"{name}.bin").write_bytes(body)

    log = open(work / "serve.log", "w")
    cmd = [str(ROOT / "target" / "release" / "warta"), "--log", "info", "--log-format", "json", "serve",
           "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"]
    if args.model:
        cmd += ["--model", args.model]
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        addr = metrics = None
        ready = False
        deadline = time.time() + 120
        while time.time() < deadline and not (addr and metrics and ready):
            time.sleep(0.2)
            if server.poll() is not None:
                sys.exit("server exited:\n" + (work / "serve.log").read_text())
            for line in (work / "serve.log").read_text().splitlines():
                try:
                    f = json.loads(line).get("fields", {})
                except json.JSONDecodeError:
                    continue
                message = f.get("message", "")
                if message == "listening":
                    addr = f.get("addr")
                elif message == "metrics at /metrics":
                    metrics = f.get("addr")
                elif message.startswith("model ready"):
                    ready = True
        if not (addr and metrics and ready):
            sys.exit("server did not become ready:\n" + (work / "serve.log").read_text())
        urls = {
            "check": f"http://{addr}/grpc.health.v1.Health/Check",
            "lead": f"http://{addr}/warta.v1.ArticleService/Classify",
            "whole": f"http://{addr}/warta.v1.ArticleService/Classify",
            "batch": f"http://{addr}/warta.v1.ArticleService/ClassifyBatch",
        }
        classify_sent = batch_sent = 0
        for name in bodies:  # warm-up
            h2load(binary, work / f"{name}.bin", urls[name], 2000)
            classify_sent += 2000 if name in ("lead", "whole") else 0
            batch_sent += 2000 if name == "batch" else 0
        runs = {name: [] for name in bodies}
        for _ in range(args.rounds):
            for name in bodies:
                before = cpu_seconds(server.pid)
                r = h2load(binary, work / f"{name}.bin", urls[name], calls[name])
                r["cpu_us"] = (cpu_seconds(server.pid) - before) * 1e6 / calls[name]
                if r["succeeded"] != calls[name]:
                    sys.exit(f"{name}: {r['succeeded']} of {calls[name]} requests succeeded")
                runs[name].append(r)
                classify_sent += calls[name] if name in ("lead", "whole") else 0
                batch_sent += calls[name] if name == "batch" else 0
        # the same comparison at lighter loads, fewer calls as fewer are in flight
        sweep = {level: {n: [] for n in ("check", "lead", "whole")} for level in SWEEP}
        for _ in range(args.rounds):
            for level in SWEEP:
                n_calls = max(5000, args.requests * level[0] * level[1] // (CLIENTS * STREAMS))
                for name in sweep[level]:
                    r = h2load(binary, work / f"{name}.bin", urls[name], n_calls, *level)
                    if r["succeeded"] != n_calls:
                        sys.exit(f"{name} at {level[0]}×{level[1]}: {r['succeeded']} of {n_calls} requests succeeded")
                    sweep[level][name].append(r)
                    classify_sent += n_calls if name in ("lead", "whole") else 0
        ok = scrape(metrics, 'warta_requests_total{method="Classify",code="OK"}')
        if ok != classify_sent:
            sys.exit(f"the server answered {ok:.0f} Classify calls OK of {classify_sent} sent")
        ok = scrape(metrics, 'warta_requests_total{method="ClassifyBatch",code="OK"}')
        if ok != batch_sent:
            sys.exit(f"the server answered {ok:.0f} ClassifyBatch calls OK of {batch_sent} sent")
    finally:
        server.terminate()
        server.wait(timeout=30)

    titles = {
        "check": "grpc.health.v1.Health/Check",
        "whole": "Classify, whole article (360 words)",
        "lead": "Classify, headline + lead (45 words)",
        "batch": f"ClassifyBatch, {BATCH} headlines + leads per call",
    }
    best = {n: max(r["rate"] for r in rs) for n, rs in runs.items()}
    cpu = {n: statistics.median(r["cpu_us"] for r in rs) for n, rs in runs.items()}
    print(f"h2load: {args.requests} requests per round, {CLIENTS} connections × {STREAMS} streams, "
          f"one client thread, loopback; best of {args.rounds} interleaved rounds; server CPU is the "
          f"median over rounds (user + system, from /proc); all {classify_sent} Classify calls answered OK")
    print("| call | requests/s | server CPU per call |")
    print("|---|---|---|")
    for n in ("check", "whole", "lead", "batch"):
        print(f"| {titles[n]} | {best[n]:.0f} | {cpu[n]:.1f} µs |")
    print(f"Classify ÷ Health/Check rate: {best['whole'] / best['check']:.2f} (whole article), "
          f"{best['lead'] / best['check']:.2f} (headline + lead); "
          f"by server CPU: {cpu['check'] / cpu['whole']:.2f}, {cpu['check'] / cpu['lead']:.2f}")
    # each round's Classify against the Check run just before it: a slow spell of the machine
    # moves both sides of a pair, where it moves only one side of best ÷ best
    paired = {n: sorted(c["rate"] / k["rate"] for c, k in zip(runs[n], runs["check"])) for n in ("whole", "lead")}
    print("Per round (Classify ÷ the same round's Check): "
          + "; ".join(f"{'whole article' if n == 'whole' else 'headline + lead'} median "
                      f"{statistics.median(r):.2f} (range {r[0]:.2f}–{r[-1]:.2f})" for n, r in paired.items()))
    print("By load (connections × streams in flight; best of the rounds, and each round's Classify ÷ "
          "the same round's Check, median):")
    print("| load | Health/Check/s | lead/s | lead ÷ Check | whole article/s | whole ÷ Check |")
    print("|---|---|---|---|---|---|")
    rows = [(level, sweep[level]) for level in SWEEP] + [((CLIENTS, STREAMS), runs)]
    for (c, m), rs in rows:
        top = {n: max(r["rate"] for r in rs[n]) for n in ("check", "lead", "whole")}
        pair = {n: statistics.median(x["rate"] / k["rate"] for x, k in zip(rs[n], rs["check"])) for n in ("lead", "whole")}
        print(f"| {c} × {m} | {top['check']:.0f} | {top['lead']:.0f} | {pair['lead']:.2f} | {top['whole']:.0f} | "
              f"{pair['whole']:.2f} |")
    print(f"ClassifyBatch: {best['batch'] * BATCH:.0f} leads/s, {best['batch'] * BATCH / best['check']:.2f}× the "
          f"Health/Check call rate; server CPU per lead {cpu['batch'] / BATCH:.1f} µs")


if __name__ == "__main__":
    main()
