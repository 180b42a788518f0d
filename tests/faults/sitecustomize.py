"""Faults planted in the photo decoder of worker processes started with this folder on PYTHONPATH (Python
imports `sitecustomize` at start-up): a photo whose bytes hold CRASH_MARK makes the decoder crash the process
(a real SIGSEGV, as a decoder bug would); one holding HANG_MARK makes it hang. Nothing else changes."""
import ctypes
import time

CRASH_MARK = b"VEIL-TEST-CRASH-THE-READER"
HANG_MARK = b"VEIL-TEST-HANG-THE-READER"


def _plant() -> None:
    from deid import image

    real_decode = image.decode

    def decode(data, fmt):
        if CRASH_MARK in data:
            ctypes.string_at(0)          # reads address 0: the process dies of SIGSEGV
        if HANG_MARK in data:
            time.sleep(3600)
        return real_decode(data, fmt)

    image.decode = decode


_plant()
