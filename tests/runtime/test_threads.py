"""Dataset segments run on one torch thread by default, whatever executor runs them."""

from pathlib import Path

import torch

from runtime.data import generation
from runtime.data.config import load_config
from runtime.data.dataset import read_header

SMALL = Path(__file__).resolve().parents[2] / "configs" / "small" / "holstein.toml"


def test_segments_run_on_one_thread_without_an_executor_and_restore_the_threads(tmp_path,
                                                                                 monkeypatch):
    original, seen = generation._run_segment, []

    def segment(*args):
        seen.append(torch.get_num_threads())
        return original(*args)

    monkeypatch.setattr(generation, "_run_segment", segment)
    config = load_config(SMALL).with_overrides(output=tmp_path / "data.h5", trajectories=1)
    torch.set_num_threads(2)
    try:
        generation.generate(config, progress=False)  # the default: in this process
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
    assert seen and set(seen) == {generation.SEGMENT_THREADS} == {1}
    assert read_header(tmp_path / "data.h5").runs[-1]["torch_threads"] == [1]


def test_torch_threads_none_leaves_the_count_alone():
    torch.set_num_threads(1)
    with generation.torch_threads(None):
        assert torch.get_num_threads() == 1
    with generation.torch_threads(2):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1
