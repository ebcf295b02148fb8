"""The one exception type for problems the user can fix, and warnings for those the run works around."""


import sys


def warn(message):
    """A problem the run works around: one line on stderr, and the run goes on."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


class UserError(Exception):
    """Bad input or state the user can fix: printed as one paragraph, never as a traceback."""
