"""The first code a dispatcher process runs: it dies with its parent before anything heavy is
imported, so a parent killed while its children start leaves none behind."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """SIGKILL (not a graceful stop) when the parent dies: nothing may be sent once it is gone;
    a claim left `sending` is taken back after its lease, with the same Message-ID."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the line above took effect
        os._exit(1)


def dispatcher_child(settings: Any, shared_stop: Any, index: int, parent: int) -> None:
    die_with_parent(parent)
    from incident.entrypoints.processes import _dispatcher_main

    _dispatcher_main(settings, shared_stop, index, parent)
