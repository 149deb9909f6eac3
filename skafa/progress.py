"""When to draw progress bars: only where a person is watching (a terminal or a notebook).

A bar redraws itself with carriage returns; written into a log file or a pipe it becomes thousands
of lines of noise, so training and scoring draw one only when :func:`interactive` says so.
"""

import sys


def interactive(stream=None):
    """Whether ``stream`` (default: stderr) is a terminal, or the code runs in a Jupyter kernel."""
    if "ipykernel" in sys.modules:
        return True
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
