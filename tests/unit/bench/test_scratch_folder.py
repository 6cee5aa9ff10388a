"""``bench.common.scratch_folder``: a run's temporary folder is gone when the run ends,
failed runs too, unless the bench was asked to keep it (then it says where it is)."""

from __future__ import annotations

import pytest

from bench.common import scratch_folder


def test_the_folder_and_what_the_run_wrote_go_when_it_ends() -> None:
    with scratch_folder("bench-test-") as folder:
        (folder / "router.db").write_bytes(b"x" * 1024)
        (folder / "state").mkdir()
        assert folder.name.startswith("bench-test-")
    assert not folder.exists()


def test_a_failed_run_leaves_nothing_either() -> None:
    with pytest.raises(RuntimeError, match="phase failed"), scratch_folder("bench-test-") as folder:
        (folder / "router.db").write_bytes(b"x")
        raise RuntimeError("phase failed")
    assert not folder.exists()


def test_kept_on_request_and_its_path_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with scratch_folder("bench-test-", keep=True) as folder:
        (folder / "router.db").write_bytes(b"x")
    try:
        assert (folder / "router.db").read_bytes() == b"x"
        assert str(folder) in capsys.readouterr().out
    finally:
        (folder / "router.db").unlink()
        folder.rmdir()
