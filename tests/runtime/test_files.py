import errno

import pytest

from runtime.errors import OutputError
from runtime.files import check_output_path, write_atomically


def test_writes_whole_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "out.json"
    write_atomically(target, lambda p: p.write_text("complete"))
    assert target.read_text() == "complete"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]


@pytest.mark.parametrize("failure", [KeyboardInterrupt(), RuntimeError("boom")])
def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path, failure):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def write(p):
        p.write_text("half")
        raise failure

    with pytest.raises(type(failure)):
        write_atomically(target, write)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_full_disk_is_one_clear_error(tmp_path):
    target = tmp_path / "out.txt"

    def write(p):
        p.write_text("x")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError, match="no space left.*out.txt.*not changed"):
        write_atomically(target, write)
    assert list(tmp_path.iterdir()) == []


def test_refuses_a_directory_or_a_path_under_a_file(tmp_path):
    with pytest.raises(OutputError, match="is a directory"):
        check_output_path(tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="lies under .*file, which is a file"):
        write_atomically(tmp_path / "file" / "out.txt", lambda p: p.write_text(""))
