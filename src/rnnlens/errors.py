"""The one exception type whose message is shown to the user as is."""


class RnnlensError(Exception):
    """A problem the user can fix: the message says what is wrong and what to do.

    The command line prints it as one line and exits with status 1; any other
    exception is a bug and shows a traceback only with ``--debug``.
    """
