"""Test media made on the spot: espeak-ng voices, sox and ffmpeg; with exact references."""
from __future__ import annotations

import json
import subprocess
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000

VOICES = {
    # Clearly different voices: a low male US voice and a higher female British one, etc.
    "A": {"voice": "en-us+m3", "pitch": 35, "speed": 160},
    "B": {"voice": "en-gb+f3", "pitch": 75, "speed": 170},
    "C": {"voice": "en-gb-scotland+m7", "pitch": 55, "speed": 150},
    "D": {"voice": "en-us+f4", "pitch": 90, "speed": 180},
    # espeak voices sit close together for a speaker model trained on people (CAM++ puts A and B at
    # 0.7 cosine, real strangers at 0.3-0.5); a German voice speaking German is as far from A and B as that.
    "E": {"voice": "de+f2", "pitch": 85, "speed": 165},
}

INTERVIEW = [
    ("A", "Hello and welcome to the garden show. Today we talk about growing food on a small balcony."),
    ("B", "Thank you for having me. This is my favourite subject."),
    ("A", "What is the best plant for a tiny balcony?"),
    ("B", "Tomatoes are the best choice, because they grow quickly and taste wonderful."),
    ("A", "How much sun do they need every day?"),
    ("B", "They need at least six hours of direct sunlight, and plenty of water in summer."),
    ("A", "That is really helpful advice. Thank you very much."),
]


@dataclass
class Utterance:
    speaker: str
    text: str
    start: float
    end: float


@dataclass
class Recording:
    wav: Path
    duration: float
    utterances: list[Utterance] = field(default_factory=list)

    @property
    def speakers(self) -> set[str]:
        return {u.speaker for u in self.utterances}

    def speaker_at(self, time: float) -> str | None:
        for utterance in self.utterances:
            if utterance.start <= time <= utterance.end:
                return utterance.speaker
        return None

    def rttm(self, uri: str) -> str:
        return "".join(f"SPEAKER {uri} 1 {u.start:.3f} {u.end - u.start:.3f} <NA> <NA> {u.speaker} <NA> <NA>\n"
                       for u in self.utterances)


def wav_duration(path: Path) -> float:
    with wave.open(str(path)) as handle:
        return handle.getnframes() / handle.getframerate()


def speak(text: str, voice: dict, out: Path) -> float:
    """One utterance as 16 kHz mono WAV, silence trimmed; returns its duration."""
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice["voice"], "-p", str(voice["pitch"]), "-s", str(voice["speed"]),
                    "-w", str(raw), text], check=True, timeout=60)
    subprocess.run(["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(out),
                    "silence", "1", "0.02", "0.5%", "reverse", "silence", "1", "0.02", "0.5%", "reverse"],
                   check=True, timeout=60)
    raw.unlink()
    return wav_duration(out)


def dialogue(lines: list[tuple[str, str]], out: Path, pause: float = 0.6, lead: float = 0.5,
             voices: dict | None = None) -> Recording:
    """Speak each (speaker, text) in turn with pauses, into one WAV with exact turn times."""
    voices = voices or VOICES
    out.parent.mkdir(parents=True, exist_ok=True)
    parts, utterances, clock = [], [], lead
    workdir = out.parent / (out.stem + "-parts")
    workdir.mkdir(exist_ok=True)
    silence = workdir / "pause.wav"
    subprocess.run(["sox", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(silence), "trim", "0", str(pause)],
                   check=True, timeout=60)
    lead_silence = workdir / "lead.wav"
    subprocess.run(["sox", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(lead_silence), "trim", "0", str(lead)],
                   check=True, timeout=60)
    parts.append(lead_silence)
    for i, (speaker, text) in enumerate(lines):
        part = workdir / f"{i:03d}.wav"
        duration = speak(text, voices[speaker], part)
        utterances.append(Utterance(speaker, text, round(clock, 3), round(clock + duration, 3)))
        parts += [part, silence]
        clock += duration + pause
    subprocess.run(["sox", *map(str, parts), str(out)], check=True, timeout=120)
    return Recording(wav=out, duration=wav_duration(out), utterances=utterances)


def mux_video(wav: Path | None, out: Path, duration: float, size: str = "640x360", rate: int = 25) -> Path:
    """A test-pattern H.264 video with the WAV as AAC audio (or no audio when wav is None)."""
    args = ["ffmpeg", "-nostdin", "-y", "-v", "error",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={duration:.3f}"]
    if wav is not None:
        args += ["-i", str(wav), "-c:a", "aac", "-b:a", "96k", "-shortest"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-g", str(rate * 2), "-pix_fmt", "yuv420p",
             "-movflags", "+faststart", str(out)]
    subprocess.run(args, check=True, timeout=300)
    return out


def silent_video(out: Path, duration: float = 5.0) -> Path:
    args = ["ffmpeg", "-nostdin", "-y", "-v", "error",
            "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={duration}",
            "-f", "lavfi", "-i", f"anullsrc=r=16000:cl=mono", "-t", str(duration),
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(out)]
    subprocess.run(args, check=True, timeout=120)
    return out


def ffprobe(path: Path, *extra: str) -> dict:
    done = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                           *extra, str(path)], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(done.stdout)


def gray_frame(path: Path, seconds: float | None = None, size: str = "160x90") -> np.ndarray:
    """One decoded frame as small grayscale pixels; `seconds` seeks exactly (output-side -ss)."""
    args = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path)]
    if seconds is not None:
        args += ["-ss", f"{seconds:.3f}"]
    args += ["-frames:v", "1", "-vf", f"scale={size}", "-pix_fmt", "gray", "-f", "rawvideo", "-"]
    done = subprocess.run(args, capture_output=True, check=True, timeout=60)
    return np.frombuffer(done.stdout, dtype=np.uint8).astype(np.float32)
