"""EmoDB: labels, speakers and genders from file names (the corpus' speaker list)."""

from corpus_files import by

from bench.plugins import registry


def test_every_speaker_has_the_gender_the_corpus_documents(tmp_path):
    wav = tmp_path / "wav"
    wav.mkdir()
    for speaker in ("03", "08", "09", "10", "11", "12", "13", "14", "15", "16"):
        (wav / f"{speaker}a01Fa.wav").write_bytes(b"\0" * 128)  # scanning reads names and sizes only
    utts = registry.dataset("emodb").scan(tmp_path).utterances
    genders = {u.speaker: u.gender for u in utts}
    assert {s for s, g in genders.items() if g == "male"} == {"03", "10", "11", "12", "15"}
    assert {s for s, g in genders.items() if g == "female"} == {"08", "09", "13", "14", "16"}


def test_real_emodb_gender_counts(emodb_root):
    utts = registry.dataset("emodb").scan(emodb_root).utterances
    # speaker counts of ../shared/data/README.md: male 03 49, 10 38, 11 55, 12 35, 15 56
    assert len(utts) == 535 and by(utts, "gender") == {"male": 233, "female": 302}
