import numpy as np
import pytest

from bench.audio.io import fit_length


def test_pad_modes_match_their_official_front_ends():
    clip = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    assert fit_length(clip, 8, "zero").tolist() == [1, 2, 3, 0, 0, 0, 0, 0]
    assert fit_length(clip, 8, "repeat").tolist() == [1, 2, 3, 1, 2, 3, 1, 2]
    assert fit_length(clip, 8, "repeatpad").tolist() == [1, 2, 3, 1, 2, 3, 0, 0]  # LAION: whole repeats, then zeros
    assert fit_length(np.arange(10.0), 4, "repeat").tolist() == [0, 1, 2, 3]  # truncation keeps the start
    with pytest.raises(ValueError, match="pad mode"):
        fit_length(clip, 8, "reflect")
