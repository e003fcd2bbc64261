"""The ``tenantry`` command that ``pip install`` puts on the PATH.

It is the operator's C++ tool (``tenantry inspect|verify|dump --json FILE``,
``tenantry journal check|repair DIR``; snapshots/tool/tenantry_tool.cc),
shipped in the package as ``bin/tenantry`` beside the engine library it
uses. This entry point replaces itself with the tool (``os.execv``), so the
arguments, the standard streams, signals and the exit status are the tool's
own: there is no Python process left in between.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional


def tool_path() -> str:
    """Where the package keeps the tool."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "tenantry")


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the tool with ``argv`` (default: this process's arguments).
    Returns only when the tool cannot be started (status 127, as a shell)."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    tool = tool_path()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(tool, ["tenantry", *arguments])
    except OSError as error:
        print(f"tenantry: cannot run {tool}: {error.strerror}", file=sys.stderr)
    return 127
