"""Acoustic conditions: deterministic, at the requested SNR, band-limited on the telephone,
no babble from the evaluated fold, and the user's MUSAN / DEMAND folders found and used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from bench.api import DataError, Utterance
from bench.data import conditions, noise_sources
from bench.protocol import texts

RATE = 16_000


def _speechlike(seed: int, seconds: float = 1.0) -> np.ndarray:
    """Broadband, amplitude-modulated noise: energy at every frequency the tests look at."""
    rng = np.random.default_rng(seed)
    n = int(RATE * seconds)
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * np.arange(n) / RATE) ** 2
    return (0.1 * rng.normal(0, 1, n) * envelope).astype(np.float32)


def _clips(folder: Path, speakers: list[str], per_speaker: int = 1) -> list[Utterance]:
    folder.mkdir(parents=True, exist_ok=True)
    utterances = []
    for s, speaker in enumerate(speakers):
        for take in range(per_speaker):
            path = folder / f"{speaker}_{take}.wav"
            sf.write(path, _speechlike(100 * s + take), RATE, "PCM_16")
            utterances.append(Utterance(path.stem, path, "neutral", speaker))
    return utterances


def _read(utt: Utterance) -> np.ndarray:
    data, rate = sf.read(utt.path, dtype="float64")
    assert rate == RATE
    return data


@pytest.fixture
def no_user_folders(monkeypatch):
    monkeypatch.delenv(noise_sources.NOISE_ENV, raising=False)
    monkeypatch.delenv(noise_sources.RIR_ENV, raising=False)
    monkeypatch.chdir(Path(__file__).parent)  # no bench.toml with [roots] here


def test_names_parse_to_one_canonical_form_and_share_acpt_vocabulary():
    assert conditions.parse("Street@5dB").name == "street@5dB"
    assert conditions.parse("street@5").name == "street@5dB"
    assert conditions.parse("reverb").name == "reverb@0.9s"
    assert conditions.parse("phone-call").name == "telephone"
    assert conditions.parse("reverberant-hall+crowd-babble@0dB").name == "reverb@0.9s+babble@0dB"
    assert conditions.parse("clean").steps == ()
    assert [c.name for c in conditions.parse_list("street@5dB, telephone,street@5dB")] == ["street@5dB", "telephone"]
    assert conditions.parse("reverb+street@5dB").soundscapes == ["reverberant-hall", "street"]
    for kind in conditions.KINDS.values():
        assert kind.soundscape is None or kind.soundscape in texts.SOUNDSCAPES
    for bad, says in (("street@loud", "number in dB"), ("wind", "unknown kind"), ("telephone@8", "no value")):
        with pytest.raises(ValueError, match=says):
            conditions.parse(bad)


@pytest.mark.parametrize("name", ["street@5dB", "babble@0dB", "reverb@0.5s+pink@3dB", "telephone", "far-field"])
def test_same_utterance_condition_and_seed_give_the_same_samples(tmp_path, monkeypatch, no_user_folders, name):
    utterances = _clips(tmp_path / "clips", ["a", "b", "c", "d", "e", "f", "g", "h"])
    condition = conditions.parse(name)
    rendered = []
    for run in ("first", "second"):
        monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / run))
        out, skipped = conditions.apply(condition, utterances[:2], talkers=utterances[2:], seed=7)
        assert not skipped and [u.uid for u in out] == [f"{u.uid}|{condition.name}" for u in utterances[:2]]
        rendered.append([_read(u) for u in out])
    for first, second, clean in zip(*rendered, utterances):
        np.testing.assert_array_equal(first, second)
        assert not np.allclose(first, _read(clean))  # the condition did change the audio
    if name != "telephone":  # the only condition without a random draw
        other_seed, _ = conditions.apply(condition, utterances[:1], talkers=utterances[2:], seed=8)
        assert not np.array_equal(_read(other_seed[0]), rendered[1][0])


def test_rendered_once_then_read_back(tmp_path, monkeypatch, no_user_folders):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    utterances = _clips(tmp_path / "clips", ["a"])
    first, _ = conditions.apply(conditions.parse("street@5dB"), utterances)
    stamps = [u.path.stat().st_mtime_ns for u in first]
    again, _ = conditions.apply(conditions.parse("street@5dB"), utterances)
    assert [u.path for u in again] == [u.path for u in first]
    assert [u.path.stat().st_mtime_ns for u in again] == stamps


@pytest.mark.parametrize(
    "name,snr", [("street@5dB", 5.0), ("pink@0dB", 0.0), ("white@-3dB", -3.0), ("brown@20dB", 20.0)]
)
def test_mix_is_within_a_tenth_of_a_db_of_the_requested_snr(tmp_path, no_user_folders, name, snr):
    utterances = _clips(tmp_path / "clips", ["a"])
    out, _ = conditions.apply(conditions.parse(name), utterances)
    for clean, noisy in zip(utterances, out):
        speech = _read(clean)
        noise = _read(noisy) - speech
        measured = 10 * np.log10(np.mean(speech**2) / np.mean(noise**2))
        assert abs(measured - snr) < 0.1, (name, measured)


def test_telephone_leaves_no_energy_above_4_khz(tmp_path, no_user_folders):
    utterances = _clips(tmp_path / "clips", ["a"])
    (phone,), _ = conditions.apply(conditions.parse("telephone"), utterances)
    freqs, before = signal.welch(_read(utterances[0]), RATE, nperseg=1024)
    _, after = signal.welch(_read(phone), RATE, nperseg=1024)
    above = freqs > 4000
    assert before[above].sum() / before.sum() > 0.4  # the clean clip is broadband
    assert after[above].sum() / after.sum() < 1e-5
    in_band = (freqs > 500) & (freqs < 3000)
    assert after[in_band].sum() / after.sum() > 0.8


def _musan(root: Path) -> dict[str, Path]:
    """A MUSAN-layout folder whose noise, music and speech are pure tones at distinct pitches."""
    files = {}
    for category, hz in (("noise", 1000.0), ("music", 2500.0), ("speech", 700.0)):
        path = root / category / f"{category}-source" / f"{category}-0000.wav"
        path.parent.mkdir(parents=True)
        sf.write(path, 0.3 * np.sin(2 * np.pi * hz * np.arange(3 * RATE) / RATE), RATE, "PCM_16")
        files[category] = path
    return files


def _peak_hz(x: np.ndarray) -> float:
    freqs, psd = signal.welch(x, RATE, nperseg=2048)
    return float(freqs[np.argmax(psd)])


@pytest.mark.parametrize(
    "kind,category,hz", [("noise", "noise", 1000.0), ("music", "music", 2500.0), ("babble", "speech", 700.0)]
)
def test_a_musan_folder_is_found_and_used(tmp_path, monkeypatch, no_user_folders, kind, category, hz):
    files = _musan(tmp_path / "musan")
    monkeypatch.setenv(noise_sources.NOISE_ENV, str(tmp_path / "musan"))
    utterances = _clips(tmp_path / "clips", ["a"])
    (noisy,), _ = conditions.apply(conditions.parse(f"{kind}@0dB"), utterances)
    assert set(noisy.meta["sources"].split("\n")) == {str(files[category])}
    assert abs(_peak_hz(_read(noisy) - _read(utterances[0])) - hz) < 20


def test_a_demand_traffic_recording_is_the_street(tmp_path, monkeypatch, no_user_folders):
    scene = tmp_path / "demand" / "STRAFFIC"
    scene.mkdir(parents=True)
    sf.write(scene / "ch01.wav", 0.2 * np.sin(2 * np.pi * 300 * np.arange(RATE) / RATE), RATE, "PCM_16")
    (tmp_path / "demand" / "OOFFICE").mkdir()
    sf.write(tmp_path / "demand" / "OOFFICE" / "ch01.wav", _speechlike(5), RATE, "PCM_16")
    monkeypatch.setenv(noise_sources.NOISE_ENV, str(tmp_path / "demand"))
    (street,), _ = conditions.apply(conditions.parse("street@0dB"), _clips(tmp_path / "clips", ["a"]))
    assert street.meta["sources"] == str(scene / "ch01.wav")


def test_music_without_a_folder_says_which_variable_to_set(tmp_path, no_user_folders):
    with pytest.raises(DataError, match=noise_sources.NOISE_ENV):
        conditions.apply(conditions.parse("music@5dB"), _clips(tmp_path / "clips", ["a"]))


def test_babble_never_uses_a_speaker_of_the_evaluated_fold(emodb_root, no_user_folders):
    from bench.datasets.emodb import EmoDB

    loader = EmoDB()
    utterances = loader.scan(emodb_root).utterances
    speaker_of = {u.uid: u.speaker for u in utterances}
    by_uid = {u.uid: u for u in utterances}
    for fold in loader.folds(utterances, "speaker")[:2]:
        held_out = {speaker_of[uid] for uid in fold.test}
        talkers = conditions.talkers_outside(utterances, held_out)
        test = [by_uid[uid] for uid in fold.test[:12]]
        out, _ = conditions.apply(conditions.parse("babble@5dB"), test, talkers=talkers)
        used = [uid for u in out for uid in u.meta["sources"].split("\n")]
        assert len(used) == conditions.BABBLE_TALKERS * len(out)
        assert not {speaker_of[uid] for uid in used} & held_out
    with pytest.raises(DataError, match="speakers outside the evaluated fold"):
        conditions.apply(conditions.parse("babble"), utterances[:1], talkers=[])


@pytest.mark.parametrize("kbps", [4.75, 12.2])
def test_mobile_is_the_telephone_band_through_amr_nb_lined_up_with_its_input(emodb_root, no_user_folders, kbps):
    speech = sorted((emodb_root / "wav").glob("*.wav"))[:2]  # a speech codec is tested on speech
    utterances = [Utterance(path.stem, path, "neutral", path.stem[:2]) for path in speech]
    coded_clips, _ = conditions.apply(conditions.parse(f"mobile@{kbps}kbps"), utterances)
    landline_clips, _ = conditions.apply(conditions.parse("telephone"), utterances)
    for mobile, landline in zip(coded_clips, landline_clips):
        (coded, rate), (reference, _) = sf.read(mobile.path), sf.read(landline.path)
        freqs, psd = signal.welch(coded, rate, nperseg=1024)
        assert psd[freqs > 4000].sum() / psd.sum() < 1e-5
        lag = int(np.argmax(signal.correlate(coded, reference, "full"))) - (len(reference) - 1)
        assert abs(lag) <= 1  # the codec's 5 ms delay (110 samples at 22.05 kHz) is removed
        assert np.corrcoef(coded, reference)[0, 1] < 0.99  # a speech codec changes the waveform...
        _, landline_psd = signal.welch(reference, rate, nperseg=1024)
        band = (freqs > 300) & (freqs < 3400)
        envelope = np.corrcoef(np.log(psd[band]), np.log(landline_psd[band]))[0, 1]
        assert envelope > 0.9, envelope  # ...and keeps its spectral envelope
    again, _ = conditions.apply(conditions.parse(f"mobile@{kbps}kbps"), utterances)
    assert np.array_equal(sf.read(again[0].path)[0], sf.read(coded_clips[0].path)[0])


def test_mobile_names_its_modes():
    assert conditions.parse("mobile").name == "mobile@12.2kbps"
    with pytest.raises(ValueError, match="AMR-NB has no 9 kbit/s mode"):
        conditions.parse("mobile@9kbps")
    assert conditions.parse("phone-call").name == "telephone"
