"""Two network namespaces joined by an emulated link, for timing 2-party protocols.

These kernels have no ``netem`` qdisc, so delay cannot come from ``tc``. Instead each namespace
gets a TUN device and this process is the wire between them: it reads every IP packet one side
sends, serialises it at the link's rate (a FIFO: a packet leaves when the one before it has),
holds it for half the round-trip time, and writes it into the other side. Every connection
between the namespaces (any port, any number, set up by any rendezvous) crosses the link, and
each direction has its own rate, as on a full-duplex wire. Both namespaces and devices are
removed on exit, also on an exception or Ctrl-C.

Needs root (``ip netns add``); ``netns_unavailable()`` says why not where it is refused.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import queue
import select
import struct
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
DEVICE = "hxlink"
# Large packets keep the wire's per-packet Python work small: at 1 Gbit/s, about 2,000 a second.
MTU = 65000
ADDRESSES = ("10.253.0.1", "10.253.0.2")


@dataclass(frozen=True)
class Link:
    """An emulated link: round-trip time added to every exchange and per-direction rate
    (``None``: no pacing, only the wire's own forwarding time)."""

    name: str
    rtt_s: float
    rate_bytes_s: float | None


class Pacer:
    """When each packet of one direction reaches the far end: serialised at ``rate`` after the
    packets before it, then ``delay_s`` in flight."""

    def __init__(self, delay_s: float, rate_bytes_s: float | None) -> None:
        self.delay_s = delay_s
        self.rate = rate_bytes_s
        self._free = 0.0

    def due(self, now: float, size: int) -> float:
        start = max(now, self._free)
        self._free = start + size / self.rate if self.rate else start
        return self._free + self.delay_s


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


def netns_unavailable() -> str | None:
    """Why this process cannot create network namespaces, or None if it can."""
    name = f"hetnas-probe-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, text=True)
    except FileNotFoundError:
        return "the `ip` command (iproute2) is not installed"
    except subprocess.CalledProcessError as e:
        return f"`ip netns add` was refused: {e.stderr.strip() or e.returncode} (needs root)"
    subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (no TUN support)"
    return None


def remove_stale_namespaces() -> list[str]:
    """Removes the namespaces of EmulatedLinks whose process is gone (killed before its finally
    block could run); returns their names. Those of live processes are left alone."""
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    stale = []
    for name in (line.split()[0] for line in listing.splitlines() if line.strip()):
        parts = name.split("-")
        if len(parts) == 4 and parts[0] == "hetnas" and parts[1].isdigit():
            try:
                os.kill(int(parts[1]), 0)
            except ProcessLookupError:
                subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
                stale.append(name)
            except PermissionError:
                pass
    return stale


_libc = ctypes.CDLL(None, use_errno=True)


def _tun_in(namespace: str) -> int:
    """A TUN device created inside ``namespace``: the device lives where the creating thread's
    network namespace is, so enter it for the ioctl and come back."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/var/run/netns/{namespace}", os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), f"setns into {namespace} failed")
        try:
            fd = os.open("/dev/net/tun", os.O_RDWR)
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", DEVICE.encode(), IFF_TUN | IFF_NO_PI))
        finally:
            if _libc.setns(own, CLONE_NEWNET):
                raise OSError(ctypes.get_errno(), "setns back to the own namespace failed")
    finally:
        os.close(own)
        os.close(target)
    return fd


class EmulatedLink:
    """``with EmulatedLink(Link(...)) as net:`` two namespaces, ``net.namespaces``, whose
    addresses ``ADDRESSES`` reach each other only through the emulated link; ``net.command(i,
    argv)`` runs ``argv`` inside namespace ``i``. ``net.bytes`` counts IP bytes per direction."""

    def __init__(self, link: Link) -> None:
        self.link = link
        tag = f"hetnas-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.namespaces = (f"{tag}-a", f"{tag}-b")
        self.bytes = [0, 0]
        self._created: list[str] = []
        self._fds: list[int] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def command(self, side: int, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.namespaces[side], *argv]

    def __enter__(self) -> EmulatedLink:
        remove_stale_namespaces()
        try:
            for ns, address in zip(self.namespaces, ADDRESSES, strict=True):
                _run("ip", "netns", "add", ns)
                self._created.append(ns)
                self._fds.append(_tun_in(ns))
                _run("ip", "-n", ns, "link", "set", "lo", "up")
                _run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", DEVICE)
                _run("ip", "-n", ns, "link", "set", DEVICE, "mtu", str(MTU), "up")
            for src in (0, 1):
                self._start_direction(src)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start_direction(self, src: int) -> None:
        fd_in, fd_out = self._fds[src], self._fds[1 - src]
        pacer = Pacer(self.link.rtt_s / 2, self.link.rate_bytes_s)
        packets: queue.SimpleQueue = queue.SimpleQueue()

        def read() -> None:
            while not self._stop.is_set():
                if not select.select([fd_in], [], [], 0.1)[0]:
                    continue
                try:
                    packet = os.read(fd_in, MTU + 64)
                except OSError:
                    return
                self.bytes[src] += len(packet)
                packets.put((pacer.due(time.perf_counter(), len(packet)), packet))

        def write() -> None:
            while not self._stop.is_set():
                try:
                    due, packet = packets.get(timeout=0.1)
                except queue.Empty:
                    continue
                # Due times only grow (FIFO), so waiting for the head never delays a later one.
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                try:
                    os.write(fd_out, packet)
                except OSError:
                    return

        for target in (read, write):
            thread = threading.Thread(target=target, daemon=True, name=f"wire-{src}")
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """Stops the wire and removes both namespaces; safe to call more than once."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=1.0)
        self._threads.clear()
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()
        while self._created:
            subprocess.run(["ip", "netns", "del", self._created.pop()], check=False,
                           capture_output=True)
