"""Stop a locally started Ray session when its driver dies, even by SIGKILL.

Ray's own processes outlive a driver killed without a chance to call ``ray.shutdown``. A small
process started beside the local Ray polls the driver's pid; once it is gone, it stops every
process of that one session (found by the session's name in their command line, and owned by
this user), never another session's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

POLL_S = 0.5
# SIGTERM first (Ray's processes clean up their files), then SIGKILL what is still there.
GRACE_S = 3.0


def start(session: str) -> subprocess.Popen:
    """Watch this process on behalf of the Ray session named ``session``."""
    return subprocess.Popen(
        # Run as a file, not ``-m nas._watchdog``: importing the package (Ray, torch) would
        # take seconds of CPU from the trials for a process that needs only the stdlib.
        [sys.executable, __file__, str(os.getpid()), session],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        # Its own session: a Ctrl-C meant for the driver's terminal does not reach it.
        start_new_session=True,
    )


def stop(watchdog: subprocess.Popen) -> None:
    """The driver shut Ray down itself: the watchdog has nothing left to do."""
    watchdog.kill()
    watchdog.wait()


def session_pids(session: str) -> list[int]:
    """This user's processes whose command line names the Ray session."""
    found, me, uid = [], os.getpid(), os.getuid()
    needle = session.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            if needle in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            continue


def main(driver: int, session: str) -> None:
    while alive(driver):
        time.sleep(POLL_S)
    _signal_all(session_pids(session), signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while (left := session_pids(session)) and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal_all(left, signal.SIGKILL)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
