"""The error a reader raises when its dataset is absent (as opposed to present but malformed)."""

from __future__ import annotations

from snnsec.errors import InputError


class DatasetNotFound(InputError):
    """No file of the dataset where it was expected; the message names the expected path."""
