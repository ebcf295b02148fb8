"""The one exception type for problems the user can fix."""


class UserError(Exception):
    """Bad input or state the user can fix: printed as one paragraph, never as a traceback."""
