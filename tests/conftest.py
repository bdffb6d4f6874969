"""Shared fixtures: the project's data folder and small helpers."""

import os
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = pathlib.Path(
    os.environ.get("KERAS_DENSE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data")
)


def shared_path(*parts):
    """Path under ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared data folder (../shared/data) is needed")
    return path


@pytest.fixture
def shared_data():
    return shared_path()
