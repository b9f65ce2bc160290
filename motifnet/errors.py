"""The one exception type the command line turns into a one-line message."""


class UserError(Exception):
    """Bad input from the user: a file, a line, a flag.  The CLI prints it and exits 2.

    The message must say which file (and line) and what was expected, in one line.
    """
