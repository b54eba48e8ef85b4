"""Silero runs once per audio for Whisper's VAD filter and the diarizer's two segmentations."""
import faster_whisper.vad
import numpy as np
import soundfile
from faster_whisper.vad import VadOptions, get_speech_timestamps

from pipeline import diarize, embedded_diarizer, silero, transcribe, utterances
from pipeline.options import AnalysisOptions
from tests.conftest import MODELS_DIR


def test_faster_whisper_fetches_the_remembering_model():
    assert faster_whisper.vad.get_vad_model() is silero.shared_model()


def test_the_same_audio_gives_the_library_models_probabilities_from_one_run(interview):
    audio, _ = soundfile.read(interview.wav, dtype="float32")
    padded = np.pad(audio, (0, 512 - len(audio) % 512))
    silero.shared_model.cache_clear()  # earlier tests may have heard this recording
    model = silero.shared_model()
    runs = model.runs
    first, again = model(padded), model(padded.copy())
    assert model.runs == runs + 1
    assert np.array_equal(first, again)
    assert np.array_equal(first, silero._library_model()(padded))
    other = model(padded * 0.5)
    assert model.runs == runs + 2 and not np.array_equal(other, first)
    assert not first.flags.writeable  # shared between callers


def test_whisper_and_the_diarizer_share_one_silero_run(interview):
    """The app transcribes beside the diarizer's listening: both read the WAV to the same samples,
    so three segmentations (Whisper's filter, speech, phrases) cost one Silero run."""
    silero.shared_model.cache_clear()  # nothing remembered yet
    model = silero.shared_model()
    runs = model.runs
    transcript = transcribe.transcribe(str(interview.wav), AnalysisOptions(models_dir=str(MODELS_DIR)))
    audio = diarize.read_wav(str(interview.wav))
    speech = embedded_diarizer.speech_regions(audio)
    phrases = embedded_diarizer.speech_regions(audio, utterances.VAD_OPTIONS)
    assert model.runs == runs + 1
    assert transcript.words and speech and len(phrases) >= len(speech)
    # The thresholds still apply per caller: the same probabilities, different stretches.
    whisper_filter = get_speech_timestamps(audio, VadOptions())
    assert whisper_filter != get_speech_timestamps(audio, VadOptions(**embedded_diarizer.VAD_OPTIONS))
    assert model.runs == runs + 1
