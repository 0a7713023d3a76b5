"""The C allocator of a long-running daphne process: two arenas, and large blocks always mapped on their own.

glibc gives each thread that allocates an arena of its own (up to eight per core), and after a large block
is freed it raises the size from which it maps a block on its own instead of carving it from an arena. A
daphne process moves frames of up to a few hundred kilobytes between its event loop, its database thread
and its engine reader: the freed blocks stayed scattered in several arenas, and in the five minutes of the
load test (bench/load.py: 500 clients, 50 pages a second) the process grew by 9.7% and 11.3% (two runs)
though it kept nothing. With two arenas and a fixed threshold (a block of 128 KiB or more is mapped, and
unmapped when freed) it grew by 3.3%, 5.3% and 6.9%, and streaming was as fast (interleaved A/B: 1.01x).
Elsewhere than glibc (macOS, musl) nothing changes.
"""
import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
M_ARENA_MAX = -8
ARENAS = 2
MMAP_THRESHOLD = 128 * 1024


def tune():
    """Set this process's allocator (its threads to come share two arenas); whether glibc took the settings."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):  # no C library found, or one without mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_ARENA_MAX, ARENAS) == 1 and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
