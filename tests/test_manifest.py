"""A job folder's manifest: a saved stage is reused only when what made it is unchanged."""
from __future__ import annotations

import json
import shutil

import pytest

from pipeline.manifest import Manifest, stage_key
from tests.conftest import MODELS_DIR, run_cli


def test_stage_keys_chain_so_an_upstream_change_reaches_every_later_stage():
    first = stage_key({"source": "a.wav"}, None)
    assert stage_key({"model": "base"}, first) != stage_key({"model": "base"}, stage_key({"source": "b.wav"}, None))
    assert stage_key({"model": "base"}, first) == stage_key({"model": "base"}, first)


def test_a_stage_whose_file_is_gone_is_not_reused(tmp_path):
    manifest = Manifest.load(tmp_path)
    (tmp_path / "audio.wav").write_bytes(b"x")
    manifest.record("audio", "k1", {"rate": 16000}, ["audio.wav"], 1.0, "a.mp4")
    assert Manifest.load(tmp_path).reusable("audio", "k1")
    assert Manifest.load(tmp_path).reusable("audio", "k2") is None
    (tmp_path / "audio.wav").unlink()
    assert Manifest.load(tmp_path).reusable("audio", "k1") is None


def test_an_unreadable_manifest_means_everything_runs_again(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    assert Manifest.load(tmp_path).stages == {}


@pytest.fixture(scope="module")
def first_run(media_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("manifest") / "out"
    done = run_cli("run", str(media_dir / "short.mp4"), "--out", str(out), "--models-dir", str(MODELS_DIR))
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def words(out) -> str:
    return " ".join(w["text"] for w in json.loads((out / "result.json").read_text())["words"])


def test_another_source_into_the_same_folder_is_analysed_afresh(first_run, media_dir, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(first_run, out)
    done = run_cli("run", str(media_dir / "interview.mp4"), "--out", str(out), "--models-dir", str(MODELS_DIR))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "garden show" in words(out).lower() and words(out) != words(first_run)
    assert json.loads((out / "manifest.json").read_text())["source"] == str(media_dir / "interview.mp4")


def test_new_speaker_options_rerun_diarization_only(first_run, media_dir, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(first_run, out, copy_function=shutil.copy2)
    transcript_time = (out / "transcript.json").stat().st_mtime_ns
    done = run_cli("run", str(media_dir / "short.mp4"), "--out", str(out), "--models-dir", str(MODELS_DIR),
                "--num-speakers", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "transcript.json").stat().st_mtime_ns == transcript_time
    result = json.loads((out / "result.json").read_text())
    assert {turn["speaker"] for turn in result["turns"]} == {"SPEAKER_00"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stages"]["diarize"]["inputs"]["speakers"] == [1, None, None]


def test_a_moved_folder_keeps_its_results(first_run, media_dir, tmp_path):
    moved = tmp_path / "elsewhere" / "job"
    shutil.copytree(first_run, moved, copy_function=shutil.copy2)
    stamps = {p.name: p.stat().st_mtime_ns for p in moved.iterdir() if p.name not in ("result.json",)}
    done = run_cli("run", str(media_dir / "short.mp4"), "--out", str(moved), "--models-dir", str(MODELS_DIR))
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("video.json", "audio.wav", "transcript.json", "turns.json"):
        assert (moved / name).stat().st_mtime_ns == stamps[name], f"{name} was made again"
    result = json.loads((moved / "result.json").read_text())
    assert result["video"]["path"] == str(moved / "video.mp4")
