"""What the book's pages print: every page imports companion.notebook, which sets the display up."""

import matplotlib
import pytest

matplotlib.use("agg")


@pytest.fixture(scope="module")
def shell():
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    # the module's set-up runs when a page imports it; reloaded, as another test may have
    # imported it outside IPython first
    assert shell.run_cell("import importlib, numpy as np, matplotlib.pyplot as plt\n"
                          "import companion.notebook\n"
                          "importlib.reload(companion.notebook)").success
    return shell


def shown(shell, code: str) -> str:
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        assert shell.run_cell(code).success
    return captured.stdout


def test_numpy_scalars_show_as_rounded_numbers(shell):
    assert shown(shell, "np.float64(0.123456789)").strip().endswith(" 0.123457")
    assert "np." not in shown(shell, "(np.float32(1.5), np.int64(3), np.bool_(True))")


def test_plotting_calls_show_no_artist_reprs(shell):
    assert shown(shell, "fig, ax = plt.subplots()\nax.plot([1, 2])") == ""
    assert shown(shell, "ax.legend(['a'])") == ""
    assert shown(shell, "ax.set_title('t')") == ""
    assert "7" in shown(shell, "7")  # everything else still shows
