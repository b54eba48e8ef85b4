"""ffmpeg/ffprobe wrapper: exact cuts between keyframes, FFMPEG_PATH, and clear errors."""
from __future__ import annotations

import os
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from pipeline import media
from pipeline.errors import MediaError
from tests.media import ffprobe, gray_frame

RATE = 25
GOP_SECONDS = 2


@pytest.fixture(scope="module")
def keyframed_720p(tmp_path_factory) -> Path:
    """12 s of 1280x720 test pattern with a tone; keyframes exactly every 2 s and nowhere else."""
    out = tmp_path_factory.mktemp("media720") / "source.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error",
                    "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate={RATE}:duration=12",
                    "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000:duration=12",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-g", str(RATE * GOP_SECONDS), "-keyint_min", str(RATE * GOP_SECONDS), "-sc_threshold", "0",
                    "-c:a", "aac", "-shortest", str(out)], check=True, timeout=120)
    return out


def keyframe_times(path: Path) -> list[float]:
    done = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-skip_frame", "nokey",
                           "-show_entries", "frame=pts_time", "-of", "csv=p=0", str(path)],
                          capture_output=True, text=True, check=True, timeout=60)
    return [round(float(line.strip(",")), 3) for line in done.stdout.split()]


# ---- exact cutting --------------------------------------------------------------------------

def test_fixture_has_keyframes_every_two_seconds(keyframed_720p):
    assert keyframe_times(keyframed_720p) == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]


# Each long enough for a smart cut (pipeline.smartcut): whole groups of pictures copied, the ends re-encoded.
@pytest.mark.parametrize("start, end", [(3.36, 8.92), (0.52, 5.0), (5.08, 11.48)])
def test_cut_clip_is_exact_between_keyframes(keyframed_720p, tmp_path, start, end):
    out = media.cut_clip(keyframed_720p, start, end, tmp_path / "clip.mp4")
    assert out == tmp_path / "clip.mp4" and not list(tmp_path.glob("*.part*"))
    probed = ffprobe(out)
    length = end - start
    # One frame at 25 fps is 0.04 s; a keyframe-snapping cut would be up to 2 s off.
    assert float(probed["format"]["duration"]) == pytest.approx(length, abs=0.05)
    streams = {s["codec_type"]: s for s in probed["streams"]}
    assert set(streams) == {"video", "audio"} and len(probed["streams"]) == 2
    assert (streams["video"]["width"], streams["video"]["height"]) == (1280, 720)
    assert streams["video"]["codec_name"] == "h264" and streams["audio"]["codec_name"] == "aac"
    assert float(streams["video"]["duration"]) == pytest.approx(length, abs=0.05)
    assert float(streams["audio"]["duration"]) == pytest.approx(length, abs=0.05)
    # +faststart: the index comes before the media data, so players start at once.
    head = out.read_bytes()[:200_000]
    assert head.index(b"moov") < head.index(b"mdat")


@pytest.mark.parametrize("length", [1.0, 5.0])  # re-encoded whole; its middle copied (pipeline.smartcut)
def test_cut_clip_starts_on_the_requested_frame_not_the_keyframe(keyframed_720p, tmp_path, length):
    start = 3.36  # frame 84, between the keyframes at 2 s and 4 s
    out = media.cut_clip(keyframed_720p, start, start + length, tmp_path / "clip.mp4")
    first = gray_frame(out)
    wanted = gray_frame(keyframed_720p, start)
    keyframe = gray_frame(keyframed_720p, 2.0)
    off_by_one = gray_frame(keyframed_720p, start + 0.2)
    error = np.abs(first - wanted).mean()
    # Measured: 0.1 against the wanted frame, 5.5 against the keyframe and 5.4 five frames later.
    assert error < 1.0, error  # re-encoding noise only
    assert np.abs(first - keyframe).mean() > 3.0
    assert np.abs(first - off_by_one).mean() > 3.0


def test_vertical_cut_is_nine_by_sixteen(keyframed_720p, tmp_path):
    out = media.cut_clip(keyframed_720p, 1.0, 3.0, tmp_path / "vertical.mp4", vertical=True)
    video = next(s for s in ffprobe(out)["streams"] if s["codec_type"] == "video")
    assert video["height"] == 720 and video["width"] % 2 == 0
    assert video["width"] / video["height"] == pytest.approx(9 / 16, abs=0.01)


def test_vertical_cut_of_a_narrower_source_is_padded_to_nine_by_sixteen(tmp_path):
    """A portrait source narrower than 9:16 cannot be cropped to it: it keeps its picture, padded."""
    narrow = tmp_path / "narrow.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size=320x720:rate={RATE}:duration=3", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", str(narrow)], check=True, timeout=120)
    out = media.cut_clip(narrow, 0.5, 2.5, tmp_path / "vertical.mp4", vertical=True)
    video = next(s for s in ffprobe(out)["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (404, 720)  # 9:16 of 720, even
    frame = gray_frame(out, size="404x720").reshape(720, 404)
    assert frame[:, :30].mean() < 20 and frame[:, -30:].mean() < 20  # the bars at the sides are black
    assert frame[:, 100:300].mean() > 60  # the picture is in the middle, whole


def test_captions_are_burned_in(keyframed_720p, tmp_path):
    captions = [media.Caption(0.0, 10.0, "HELLO CAPTIONS")]
    plain = media.cut_clip(keyframed_720p, 4.0, 5.0, tmp_path / "plain.mp4")
    burned = media.cut_clip(keyframed_720p, 4.0, 5.0, tmp_path / "burned.mp4", captions=captions)
    # Same source frame; only the caption band at the bottom differs.
    difference = np.abs(gray_frame(plain, size="1280x720") - gray_frame(burned, size="1280x720")).reshape(720, 1280)
    assert difference[600:].mean() > 2.0
    assert difference[:300].mean() < 1.0


def test_clip_captions_are_shifted_and_trimmed(tmp_path):
    import srt

    captions = [media.Caption(1.0, 4.0, "before and into"), media.Caption(5.0, 6.0, "inside"),
                media.Caption(9.0, 12.0, "runs past"), media.Caption(20.0, 21.0, "outside")]
    path = tmp_path / "c.srt"
    media._write_clip_srt(captions, 3.0, 10.0, path)
    entries = list(srt.parse(path.read_text()))
    assert [e.content for e in entries] == ["before and into", "inside", "runs past"]
    assert [(e.start.total_seconds(), e.end.total_seconds()) for e in entries] == [(0, 1), (2, 3), (6, 7)]


def test_cut_clip_refuses_an_empty_range(keyframed_720p, tmp_path):
    with pytest.raises(MediaError, match="end after it starts"):
        media.cut_clip(keyframed_720p, 5.0, 5.0, tmp_path / "x.mp4")
    assert not list(tmp_path.iterdir())


def test_cut_clip_failure_leaves_no_partial_file(tmp_path):
    source = tmp_path / "notes.txt"
    source.write_text("not a video\n")
    with pytest.raises(MediaError, match="Cutting the clip failed"):
        media.cut_clip(source, 0.0, 1.0, tmp_path / "out" / "clip.mp4")
    assert not list((tmp_path / "out").iterdir())


# ---- FFMPEG_PATH ----------------------------------------------------------------------------

def test_ffmpeg_path_folder_is_honoured(keyframed_720p, logging_ffmpeg_dir, tmp_path):
    folder, log = logging_ffmpeg_dir
    assert media.ffmpeg_binary(str(folder)) == str(folder / "ffmpeg")
    assert media.ffprobe_binary(str(folder)) == str(folder / "ffprobe")
    assert media.ffprobe_binary(str(folder / "ffmpeg")) == str(folder / "ffprobe")
    info = media.probe(keyframed_720p, str(folder))
    media.extract_audio(keyframed_720p, tmp_path / "a.wav", str(folder))
    media.cut_clip(keyframed_720p, 1.0, 2.0, tmp_path / "c.mp4", ffmpeg_path=str(folder))
    assert info.width == 1280
    assert log.read_text().split() == ["ffprobe", "ffmpeg", "ffmpeg"]


def test_ffmpeg_path_reaches_the_pipeline(media_dir, logging_ffmpeg_dir, tmp_path):
    from pipeline.download import download
    from pipeline.options import AnalysisOptions

    folder, log = logging_ffmpeg_dir
    download(str(media_dir / "short.mp4"), tmp_path / "job", AnalysisOptions(ffmpeg_path=str(folder)))
    assert log.read_text().split() == ["ffprobe"]


@pytest.mark.parametrize("wrong", ["/nonexistent/ffmpeg", "/nonexistent-folder"])
def test_wrong_ffmpeg_path_gives_media_error(keyframed_720p, tmp_path, wrong):
    with pytest.raises(MediaError, match="FFMPEG_PATH points to .*no ffmpeg"):
        media.ffmpeg_binary(wrong)
    with pytest.raises(MediaError, match="FFMPEG_PATH"):
        media.probe(keyframed_720p, wrong)
    with pytest.raises(MediaError, match="FFMPEG_PATH"):
        media.cut_clip(keyframed_720p, 1.0, 2.0, tmp_path / "c.mp4", ffmpeg_path=wrong)


def test_missing_ffmpeg_on_path_gives_media_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MediaError, match="ffmpeg is not installed"):
        media.ffmpeg_binary()


# ---- probing and audio ----------------------------------------------------------------------

def test_probe_describes_streams(keyframed_720p, media_dir):
    info = media.probe(keyframed_720p)
    assert info.duration == pytest.approx(12.0, abs=0.1)
    assert (info.has_video, info.has_audio, info.width, info.height) == (True, True, 1280, 720)
    silent_film = media.probe(media_dir / "no-audio.mp4")
    assert silent_film.has_video and not silent_film.has_audio


def test_probe_on_a_text_file_gives_media_error(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("This is a text file, not a video.\n")
    with pytest.raises(MediaError) as caught:
        media.probe(text)
    message = str(caught.value)
    assert "not a video" in message and "\n" not in message and str(text) not in message


def test_probe_on_a_missing_file_gives_media_error(tmp_path):
    with pytest.raises(MediaError, match="damaged or is not a video"):
        media.probe(tmp_path / "nothing.mp4")


def test_a_file_that_does_not_say_how_long_it_is_is_measured(tmp_path):
    """Matroska written to a pipe (as recorders stream it) carries no duration at all."""
    source = tmp_path / "streamed.mkv"
    with open(source, "wb") as out:
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4",
                        "-f", "lavfi", "-i", "sine=duration=4", "-c:v", "libx264", "-preset", "ultrafast",
                        "-c:a", "aac", "-shortest", "-f", "matroska", "pipe:1"], stdout=out, check=True, timeout=120)
    assert "duration" not in ffprobe(source)["format"]
    assert media.probe(source).duration == 0.0  # unknown
    assert media.measure_duration(source) == pytest.approx(4.0, abs=0.1)


def test_extract_audio_writes_16k_mono(keyframed_720p, tmp_path):
    wav = media.extract_audio(keyframed_720p, tmp_path / "audio.wav")
    with wave.open(str(wav)) as handle:
        assert (handle.getframerate(), handle.getnchannels(), handle.getsampwidth()) == (16000, 1, 2)
        assert handle.getnframes() / 16000 == pytest.approx(12.0, abs=0.1)
    assert [p.name for p in tmp_path.iterdir()] == ["audio.wav"]


def test_extract_audio_from_a_truncated_mp4_is_refused(media_dir, tmp_path):
    with pytest.raises(MediaError, match="truncated"):
        media.extract_audio(media_dir / "truncated.mp4", tmp_path / "audio.wav")
    assert not list(tmp_path.iterdir())


def test_extract_audio_from_the_whole_mp4_is_accepted(media_dir, tmp_path):
    wav = media.extract_audio(media_dir / "interview.mp4", tmp_path / "audio.wav")
    assert os.path.getsize(wav) > 16000 * 2 * 25


# ---- checking an uploaded file ------------------------------------------------------------------

def test_an_upload_is_verified_by_its_content(media_dir):
    info = media.verify_upload(media_dir / "short.mp4")
    assert info.has_audio and info.format_name.split(",")[0] == "mov"
    assert media.UPLOAD_FORMATS["mov"] == ".mp4"


@pytest.mark.parametrize("name, message", [
    ("truncated.mp4", "The file is truncated"),  # probe alone accepts it: its index is whole
    ("no-audio.mp4", "The file has no audio track"),
    ("notes.txt", "The file is damaged or is not a video"),
])
def test_an_upload_that_is_not_whole_media_with_sound_is_refused(media_dir, name, message):
    with pytest.raises(MediaError, match=message):
        media.verify_upload(media_dir / name)


def test_an_upload_that_names_other_files_or_addresses_is_refused(tmp_path, media_dir):
    """Playlists and concat lists make ffmpeg read what they name: no upload may be one."""
    secret = tmp_path / "secret.mp4"
    shutil.copy(media_dir / "short.mp4", secret)
    listings = {"local.m3u8": f"#EXTM3U\n#EXT-X-TARGETDURATION:30\n#EXTINF:30,\n{secret}\n#EXT-X-ENDLIST\n",
                "remote.m3u8": "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nhttp://10.0.0.1/a.ts\n#EXT-X-ENDLIST\n",
                "list.ffconcat": f"ffconcat version 1.0\nfile '{secret}'\n"}
    for name, text in listings.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(MediaError, match="not in a format this app takes"):
            media.verify_upload(tmp_path / name)
