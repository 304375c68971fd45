"""The one exception type for mistakes a user can fix (bad path, bad value, corrupt file).

Its message is a single line; the CLI prints it and exits with code 2. Programming errors are
left as ordinary exceptions so that their tracebacks reach the developer.
"""


class GigaGANError(Exception):
    """A user-facing error carrying a one-line message."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
