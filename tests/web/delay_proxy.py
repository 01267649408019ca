#!/usr/bin/env python3
"""Loopback TCP proxy that adds latency, for benchmarks of the web reader.

    python3 tests/web/delay_proxy.py --target PORT [--target-host 127.0.0.1]
        [--listen-port 0] [--delay-ms 50] [--ttl 600]

Listens on 127.0.0.1 (port 0 = a free one, printed as "PORT=N" on the first line of stdout, then
"READY"), forwards every connection to the target on the loopback interface, and delays every
chunk of data by --delay-ms in each direction (so a request/response round trip costs about
2 x delay on top of the server's own time, like a distant server; bandwidth is not limited and
chunks are not reordered). Only loopback targets are accepted. It exits by itself after --ttl
seconds, or on SIGTERM/SIGINT. Standard library only.
"""
import argparse
import asyncio
import ipaddress
import signal
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", type=int, required=True, help="target port on the loopback interface")
    p.add_argument("--target-host", default="127.0.0.1", help="loopback address of the target")
    p.add_argument("--listen-port", type=int, default=0)
    p.add_argument("--delay-ms", type=float, default=50.0, help="one-way delay added to each chunk")
    p.add_argument("--ttl", type=float, default=600.0, help="exit after this many seconds")
    a = p.parse_args()
    try:
        if not ipaddress.ip_address(a.target_host).is_loopback:
            p.error("--target-host must be a loopback address")
    except ValueError:
        if a.target_host != "localhost":
            p.error("--target-host must be a loopback address")
    if not (0 < a.target < 65536) or not (0 <= a.listen_port < 65536):
        p.error("ports must be 1..65535")
    if a.delay_ms < 0 or a.ttl <= 0:
        p.error("--delay-ms must be >= 0 and --ttl > 0")
    return a


async def pump(reader, writer, delay):
    """Copy reader -> writer, each chunk delivered `delay` seconds after it arrived."""
    queue = asyncio.Queue()

    async def receive():
        try:
            while True:
                data = await reader.read(256 * 1024)
                await queue.put((time.monotonic() + delay, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            await queue.put((time.monotonic(), b""))

    async def deliver():
        try:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass

    await asyncio.gather(receive(), deliver())


async def handle(client_reader, client_writer, args, stats):
    stats["connections"] += 1
    try:
        up_reader, up_writer = await asyncio.open_connection(args.target_host, args.target)
    except OSError as e:
        print(f"delay_proxy: cannot connect to target: {e}", file=sys.stderr)
        client_writer.close()
        return
    delay = args.delay_ms / 1000.0
    try:
        await asyncio.gather(pump(client_reader, up_writer, delay), pump(up_reader, client_writer, delay))
    finally:
        for w in (client_writer, up_writer):
            try:
                w.close()
            except Exception:
                pass


async def main():
    args = parse_args()
    stats = {"connections": 0}
    server = await asyncio.start_server(lambda r, w: handle(r, w, args, stats), "127.0.0.1", args.listen_port)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT={port}", flush=True)
    print("READY", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        await asyncio.wait_for(stop.wait(), timeout=args.ttl)
    except asyncio.TimeoutError:
        pass
    server.close()
    print(f"delay_proxy: exiting after {stats['connections']} connections", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
