"""The H.264 facts a smart cut relies on, read from what libx264 really writes."""
from __future__ import annotations

import subprocess

import pytest

from pipeline import h264


def encoded(path, *options: str) -> tuple[h264.AvcConfig, list[bytes]]:
    """A few frames of test pattern through libx264: its avcC and its samples."""
    import av

    subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=160x120:rate=25:duration=0.4", "-c:v", "libx264", *options, str(path)],
                   check=True, timeout=60)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return (h264.AvcConfig.parse(bytes(stream.codec_context.extradata)),
                [bytes(packet) for packet in container.demux(stream) if packet.size])


def test_parameter_set_ids_are_read_and_merged_in_order(tmp_path):
    (plain, _), (fast, _), (numbered, _) = (encoded(tmp_path / "plain.mp4"),
                                            encoded(tmp_path / "fast.mp4", "-preset", "veryfast"),
                                            encoded(tmp_path / "numbered.mp4", "-x264-params", "sps-id=5"))
    assert plain.ids == fast.ids == {0} and numbered.ids == {5}
    merged = h264.merge(numbered, plain)
    assert [h264.sps_id(unit) for unit in merged.sps] == [h264.pps_id(unit) for unit in merged.pps] == [0, 5]
    assert h264.AvcConfig.parse(merged.to_bytes()) == merged
    with pytest.raises(ValueError, match="share an id"):
        h264.merge(plain, fast)  # two different sets, both numbered 0


def test_only_an_idr_frame_counts_as_a_place_to_start_copying(tmp_path):
    """An open-GOP encode marks I frames as keyframes too; only the IDR frames qualify."""
    _, closed = encoded(tmp_path / "closed.mp4", "-g", "4", "-bf", "2", "-sc_threshold", "0")
    _, open_gop = encoded(tmp_path / "open.mp4", "-g", "4", "-bf", "2", "-sc_threshold", "0",
                          "-x264-params", "open-gop=1")
    assert h264.is_idr(closed[0]) and h264.is_idr(open_gop[0])
    assert sum(map(h264.is_idr, closed)) == 3  # frames 0, 4 and 8 of 10
    assert sum(map(h264.is_idr, open_gop)) == 1  # the later I frames are not IDR frames
