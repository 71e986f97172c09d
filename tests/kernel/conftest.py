from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab import Lab, can_run


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    reason = can_run()
    if reason:
        pytest.skip(f"kernel tests skipped: {reason}")
    built = Lab(tmp_path)
    try:
        yield built
    finally:
        built.close()
