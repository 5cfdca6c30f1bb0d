"""Exit statuses and the exception hierarchy whose messages the CLI prints as one line."""

from enum import IntEnum


class ExitCode(IntEnum):
    """What a run tells its caller (a person, cron, a systemd timer)."""

    OK = 0  # every file has a result: recognized, no_digit or review
    FILES_FAILED = 1  # the run finished, but at least one file failed in this run
    USAGE = 2  # the command line was wrong
    FATAL = 3  # input folder missing or unreadable, model unusable, output not writable
    LOCKED = 75  # another run holds the lock on the output folder (EX_TEMPFAIL)


class BatchDigitsError(Exception):
    """Base class: an error the CLI reports as one line, with an exit code."""

    exit_code = ExitCode.FATAL


class InputFolderError(BatchDigitsError):
    """The input folder is missing, not a folder, or unreadable."""


class OutputFolderError(BatchDigitsError):
    """The output folder cannot be created or written."""


class ModelError(BatchDigitsError):
    """The model file is missing, tampered with, or from an incompatible scikit-learn."""


class LockedError(BatchDigitsError):
    """Another run holds the lock on the output folder."""

    exit_code = ExitCode.LOCKED


class DatasetError(BatchDigitsError):
    """A labelled folder or MNIST file given for training or evaluation is unusable."""


class DecodeError(Exception):
    """An image file cannot be decoded; the message is the reason shown in results."""
