"""synth renders through bench.audio.acoustics since its DSP moved there: the bytes must not change
(records and the README's figures were made from them). Digests of the first neutral take of
speaker f1 under each condition, as rendered before the move."""

import hashlib

import pytest

from bench.datasets.synth import CONDITIONS, Synth

BEFORE_THE_MOVE = {
    "studio": "b6707544d67c62318ab3e6442f285e514511732103169e0bd89adb446cefa528",
    "telephone": "8d028bb1bcaa94120ba284db02ee0703acfcb7e27b8299d3479d8c3f05ee0e82",
    "street": "6df5fb43402ef1c9f48311795650ec1e8df89551e43c0d9a3f78c184ae16729a",
    "reverb": "961e9a7e92555549fd0645de6b21a3d93782f737dba0d646d443f2101045b290",
    "babble": "9827301dd174ee6473fb783e666754dda4db718a5caf158d4148d33143902615",
}


@pytest.mark.parametrize("condition", CONDITIONS)
def test_synth_renders_the_same_bytes_as_before_its_dsp_moved(condition):
    synth = Synth()
    synth.scan(None)  # renders once into this session's cache
    clip = synth.default_root() / f"f1_{condition}_neutral_01.wav"
    assert hashlib.sha256(clip.read_bytes()).hexdigest() == BEFORE_THE_MOVE[condition]
