"""The app reads every upload in a process of its own, through the isolation seam (`isolation`), with the
readers' own limits and messages: a crash, a memory blow-up or a hang in a decoder costs one file its
result, never the server and its other users.

The two readers are imported here together so that both register their modules for the fork server
before the app's first isolated run starts it, whichever reader that run is for.
"""
from consent.cli_check import check_isolated as check_in_sandbox
from deid.isolated import redact_isolated as redact_in_sandbox

__all__ = ["check_in_sandbox", "redact_in_sandbox"]
