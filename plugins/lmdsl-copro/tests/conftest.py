import pytest

from lmdsl.testing import isolated


@pytest.fixture(autouse=True)
def _isolated(tmp_path):
    with isolated(tmp_path / "cache"):
        yield
