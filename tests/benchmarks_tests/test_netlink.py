"""The emulated link of benchmarks/_netlink.py: pacing arithmetic, and (as root) the delay and rate
that real TCP traffic between its two namespaces sees."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "_netlink.py"
_spec = importlib.util.spec_from_file_location("hetnas_bench_netlink", _PATH)
netlink = importlib.util.module_from_spec(_spec)
# dataclasses look their module up in sys.modules while the class is made.
sys.modules[_spec.name] = netlink
_spec.loader.exec_module(netlink)

_SERVER = r"""
import socket, sys
srv = socket.create_server((sys.argv[1], 45000))
conn, _ = srv.accept()
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while True:
    head = conn.recv(1)
    if not head or head == b"q":
        break
    if head == b"p":
        conn.sendall(b"p")
    else:  # b"b": a bulk transfer of N bytes, acknowledged by one byte
        n, got = int(conn.recv(16).decode()), 0
        while got < n:
            got += len(conn.recv(1 << 20))
        conn.sendall(b"k")
"""

_CLIENT = r"""
import socket, sys, time
for _ in range(100):
    try:
        c = socket.create_connection((sys.argv[1], 45000), timeout=5)
        break
    except OSError:
        time.sleep(0.05)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
rtts = []
for _ in range(8):
    t = time.perf_counter(); c.sendall(b"p"); c.recv(1); rtts.append(time.perf_counter() - t)
n = int(sys.argv[2])
t = time.perf_counter()
c.sendall(b"b" + str(n).encode().rjust(16)); c.sendall(bytes(n)); c.recv(1)
bulk = time.perf_counter() - t
c.sendall(b"q")
print(sorted(rtts)[len(rtts) // 2], bulk)
"""

_REASON = netlink.netns_unavailable()
needs_netns = pytest.mark.skipif(_REASON is not None, reason=f"no network namespaces: {_REASON}")


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def test_pacer_serialises_then_delays() -> None:
    pacer = netlink.Pacer(0.010, 1000.0)
    assert pacer.due(0.0, 100) == pytest.approx(0.110)
    # A packet arriving while the link is busy waits for the one before it.
    assert pacer.due(0.05, 100) == pytest.approx(0.210)
    # One arriving after the link went idle starts at once.
    assert pacer.due(1.0, 500) == pytest.approx(1.510)
    unpaced = netlink.Pacer(0.002, None)
    assert unpaced.due(3.0, 10**6) == pytest.approx(3.002)


@needs_netns
def test_link_adds_its_rtt_and_paces_at_its_rate() -> None:
    link = netlink.Link("test", rtt_s=0.030, rate_bytes_s=2e6)
    with netlink.EmulatedLink(link) as net:
        names = net.namespaces
        assert all(ns in _namespaces() for ns in names)
        server = subprocess.Popen(net.command(1, [sys.executable, "-c", _SERVER,
                                                  netlink.ADDRESSES[1]]))
        try:
            out = subprocess.run(net.command(0, [sys.executable, "-c", _CLIENT,
                                                 netlink.ADDRESSES[1], str(10**6)]),
                                 capture_output=True, text=True, timeout=60, check=True)
        finally:
            server.wait(timeout=10)
        rtt, bulk = map(float, out.stdout.split())
        assert net.bytes[0] > 10**6 > net.bytes[1]
    assert rtt == pytest.approx(0.030, abs=0.006)
    # 1 MB at 2 MB/s (plus IP/TCP headers, slow start and the final acknowledgement's RTT).
    assert bulk == pytest.approx(0.5 + 0.030, rel=0.2)
    assert not any(ns in _namespaces() for ns in names)


@needs_netns
def test_namespaces_are_removed_when_the_body_raises() -> None:
    link = netlink.Link("test", rtt_s=0.0, rate_bytes_s=None)
    with pytest.raises(KeyboardInterrupt):
        with netlink.EmulatedLink(link) as net:
            names = net.namespaces
            time.sleep(0.05)
            raise KeyboardInterrupt
    assert not any(ns in _namespaces() for ns in names)


@needs_netns
def test_namespaces_of_dead_processes_are_removed_and_live_ones_kept() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale, live = f"hetnas-{dead.pid}-abcdef-a", f"hetnas-{os.getpid()}-abcdef-a"
    for name in (stale, live):
        subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        removed = netlink.remove_stale_namespaces()
        assert stale in removed and live not in removed
        assert live in _namespaces() and stale not in _namespaces()
    finally:
        for name in (stale, live):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
