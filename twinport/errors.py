"""The one exception type for user mistakes: the CLI prints it as one line, exit status 2."""


class UserError(Exception):
    """Bad input or usage: a file, option or value that is wrong, named in the message."""
