#!/usr/bin/env python
"""The load generator of benchmarks/server.py, run in its own process: a small asyncio HTTP/1.1
client on raw sockets (keep-alive, one request in flight per connection, uvloop when installed).

    python benchmarks/server_load.py URL BODIES.json --rate 500 --requests 5000 --connections 16
    python benchmarks/server_load.py URL BODIES.json --requests 20000 --duration 5 --connections 8   # saturation

With ``--rate``: open loop. Request i is due at start + i/rate and sent then (or as soon as a
connection is free); its latency runs from sending to the last byte of the answer, and how late
it was sent after its due time is reported apart (``lag_p99_ms``): the event loop's timers wake
up to ~1 ms late, which is the client's error, not the server's, while a server that falls
behind shows as lag (every connection busy) and as throughput under the rate. Without: closed loop, each connection sends its next request as soon as the
previous answer is read (the server's saturation throughput). Either way the run is bounded: at
most ``--requests`` requests and ``--duration`` seconds. Prints one JSON line: latency percentiles
(ms), the count of non-200 answers, the elapsed time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


def request_bytes(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n")  # fmt: skip
    return head.encode() + body


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes) -> int:
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
            break
    await reader.readexactly(length)
    return status


async def run(url: str, bodies: list[bytes], rate: float | None, requests: int, duration: float, connections: int,
              headers: dict[str, str]) -> dict:  # fmt: skip
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port
    payloads = [request_bytes(host, port, "/get-online-features", b, headers) for b in bodies]
    streams = [await asyncio.open_connection(host, port) for _ in range(connections)]
    for reader, writer in streams:  # warm every connection (and the server's plan cache)
        for payload in payloads[:20]:
            await exchange(reader, writer, payload)
    latencies: list[float] = []
    lags: list[float] = []  # how late each request was sent after its due time
    errors = 0
    start = time.perf_counter()
    stop_at = start + duration
    counter = iter(range(requests))
    loop_time = time.perf_counter

    async def worker(reader, writer) -> None:
        nonlocal errors
        for i in counter:
            due = start + i / rate if rate else loop_time()
            if due > stop_at:
                return
            wait = due - loop_time()
            if wait > 0:
                await asyncio.sleep(wait)
            sent = loop_time()
            status = await exchange(reader, writer, payloads[i % len(payloads)])
            latencies.append((loop_time() - sent) * 1000)
            lags.append((sent - due) * 1000)
            if status != 200:
                errors += 1

    await asyncio.gather(*(worker(r, w) for r, w in streams))
    elapsed = time.perf_counter() - start
    for _, writer in streams:
        writer.close()
    latencies.sort()
    lags.sort()

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")

    return {"n": len(latencies), "p50": pct(latencies, 0.5), "p99": pct(latencies, 0.99), "max": pct(latencies, 1.0),
            "lag_p99_ms": pct(lags, 0.99) if rate else 0.0, "errors": errors, "elapsed": elapsed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("bodies", help="a JSON file: a list of request bodies (objects), sent in turn")
    parser.add_argument("--rate", type=float, default=None, help="requests per second (open loop); default: closed loop")
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--header", action="append", default=[], help="NAME:VALUE, sent with every request")
    args = parser.parse_args()
    try:
        import uvloop

        runner = uvloop.run
    except (ImportError, AttributeError):
        runner = asyncio.run
    with open(args.bodies) as handle:
        bodies = [json.dumps(b).encode() for b in json.load(handle)]
    headers = dict(h.split(":", 1) for h in args.header)
    result = runner(run(args.url, bodies, args.rate, args.requests, args.duration, args.connections, headers))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
