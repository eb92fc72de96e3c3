"""Tools tell a user's mistake (one line) from a bug (its traceback)."""

import numpy as np
import pytest

from alphafree_matting.data import MattingDataError, read_image
from alphafree_matting.utils.errors import describe_error, is_user_error


def raised(function, *args):
    with pytest.raises(Exception) as caught:
        function(*args)
    return caught.value


def test_an_error_the_plugin_raises_for_bad_input_is_one_line(tmp_path):
    error = raised(read_image, str(tmp_path / "missing.png"))
    assert isinstance(error, MattingDataError) and is_user_error(error)
    assert describe_error(error) == f"MattingDataError: {error}"
    assert "Traceback" in describe_error(error, debug=True)


def test_an_error_from_deep_inside_a_library_keeps_its_traceback():
    error = raised(np.reshape, np.zeros(6), (4, 4))  # a ValueError raised by numpy, not by us
    assert isinstance(error, ValueError) and not is_user_error(error)
    text = describe_error(error)
    assert text.startswith("Traceback") and "looks like a bug" in text


def test_errors_of_bug_types_keep_their_traceback_even_from_the_plugin():
    def buggy():
        return [][1]

    error = raised(buggy)
    assert not is_user_error(error) and "IndexError" in describe_error(error)
