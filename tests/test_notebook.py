"""The book's glue helper stores NumPy scalars as plain Python numbers."""

from unittest import mock

import numpy as np

from companion.notebook import glue


def test_numpy_scalars_are_glued_as_python_numbers():
    with mock.patch("myst_nb.glue") as myst_glue:
        glue("ratio", np.float64(0.25))
        glue("count", np.int64(3))
        glue("label", "text")
    values = [call.args[1] for call in myst_glue.call_args_list]
    assert values == [0.25, 3, "text"]
    assert [type(v) for v in values] == [float, int, str]
