"""Smart rendering: an exact plain cut of an H.264 MP4 that re-encodes only the partial groups of
pictures at its two ends and copies every whole one between them.

ffprobe lists the packets around the clip; ffmpeg's libx264 encodes the two ends (the head, from
the clip's first frame to the first IDR frame, and the tail, from the last IDR frame to the end)
with the source's profile and level under parameter-set ids the source does not use; PyAV (the
same libavformat, installed for faster-whisper) writes the clip from the ends' packets, the
source's packets between them, and the source's AAC audio. Its one avcC declares every parameter
set, as an 'avc1' track must (ISO/IEC 14496-15), so no id changes meaning mid-stream and players
that only read the avcC decode every part; ffmpeg's concat would declare only the first part's.

Whatever this cannot do exactly raises Unsuitable, and media.cut_clip re-encodes the whole clip.
"""
from __future__ import annotations

import collections
import contextlib
import itertools
import json
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from . import h264, media

# Below this much copied video, the whole re-encode costs about as much as the steps here.
MIN_COPY_SECONDS = 2.0
# Read this far beyond the clip: the keyframe before its start, and B-frames stored after its end.
MARGIN_SECONDS = 2.0
# Every read of the source names its demuxer: a smart cut copies from MP4 only, and a file that is
# something else (a playlist or a concat list naming other files, say) is never probed as such.
SOURCE_FORMAT = "mp4"
PROFILES = {"Constrained Baseline": "baseline", "Baseline": "baseline", "Main": "main", "High": "high"}
# The ends are a few seconds at most: a fast preset at a quality a little above the source's keeps
# the seams invisible (the whole re-encode uses veryfast at CRF 23 for all of it).
ENCODER = ["-c:v", "libx264", "-preset", "superfast", "-crf", "18"]
# Copied AAC starts this many frames early, hidden by the edit list: decoding a frame needs the one
# before it (the transform overlaps), and an early frame more covers HE-AAC's longer start.
AAC_PRE_ROLL_FRAMES = 2
# The source's container tags describe its file, not the clip's; the muxer writes its own.
CONTAINER_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder"}


class Unsuitable(Exception):
    """This clip is not cut by copying; str() says why."""


@dataclass
class Source:
    """What the source's header says."""
    config: h264.AvcConfig  # its parameter sets
    video_stream: int
    audio_stream: int | None
    start_time: float  # seconds: its packets' times count from here, its clips' from zero


@dataclass
class Packet:
    pts: int
    dts: int
    duration: int
    key: bool
    pos: int
    size: int
    hidden: bool  # the source's edit list hides this frame


@dataclass
class Part:
    """One encoded end: the frames it shows and where its encoder starts."""
    name: str
    frames: list[int]  # pts, in order
    end: int  # pts just after its last frame
    parameter_set_id: int
    delay: int  # its decode times lag its presentation times by as much as the copied IDR frame's do


@dataclass
class Plan:
    """What to encode and what to copy; times are ticks of the source's video time base."""
    video: Path
    video_stream: int
    audio_stream: int | None
    time_base: Fraction
    file_start: Fraction  # the container's start time in seconds, which ffmpeg's -ss counts from
    frames: list[int]  # pts of every frame of the clip, in order
    end: int  # pts just after the last frame
    copied: list[Packet]  # the middle, in decode order: every packet from the first IDR to the last
    parts: list[Part]  # the head and the tail, those that hold a frame
    profile: str
    level: int
    config: h264.AvcConfig  # the source's parameter sets

    @property
    def start(self) -> int:
        return self.frames[0]

    def seconds(self, ticks: int) -> str:
        """Ticks as ffmpeg's -ss reads them: microseconds from the file's start, which round back
        to the same tick."""
        return f"{float(ticks * self.time_base - self.file_start):.6f}"


def plan(video: str | os.PathLike, start: float, end: float, ffmpeg_path: str | None = None) -> Plan:
    """Find the IDR frames the clip can be copied between; Unsuitable when it cannot be exactly."""
    if end - start < MIN_COPY_SECONDS:
        raise Unsuitable("the clip is too short to copy a group of pictures")
    video = Path(video)
    source = _read_source(video)
    streams, container, packets = _probe(video, start + source.start_time, end + source.start_time,
                                         start > MARGIN_SECONDS, ffmpeg_path)
    stream = _video_stream(streams, container)
    if stream["index"] != source.video_stream:
        raise Unsuitable("ffprobe and PyAV see different video streams")
    time_base = Fraction(stream["time_base"])
    file_start = Fraction(container.get("start_time", "0"))
    config = source.config
    frames, clip_end, to_the_end = _clip_frames(
        packets, stream, (Fraction(f"{start:.6f}") + file_start) / time_base,
        (Fraction(f"{end:.6f}") + file_start) / time_base, seeked=start > MARGIN_SECONDS)

    # The copy runs from the clip's first IDR frame to its last, or to the end of the video when the
    # clip does: all of it was read.
    keys = [index for index, packet in enumerate(packets) if packet.key and frames[0] <= packet.pts <= clip_end]
    with open(video, "rb") as handle:
        first = next((index for index in keys if _is_idr(handle, packets[index], config.length_size)), None)
        last = len(packets) if to_the_end else next(
            (index for index in reversed(keys) if _is_idr(handle, packets[index], config.length_size)), None)
    if first is None or last is None or first == last:
        raise Unsuitable("too little to copy between the clip's first and last IDR frames")
    head, copied = packets[first], packets[first:last]
    tail = packets[last] if last < len(packets) else Packet(clip_end, clip_end, 0, True, -1, 0, False)
    if (tail.pts - head.pts) * time_base < MIN_COPY_SECONDS:
        raise Unsuitable("too little to copy between the clip's first and last IDR frames")
    if sorted(packet.pts for packet in copied) != [pts for pts in frames if head.pts <= pts < tail.pts]:
        raise Unsuitable("the groups of pictures are not closed")
    if head.pts < head.dts or tail.pts < tail.dts:
        raise Unsuitable("a keyframe is decoded after it is shown")
    free = [number for number in range(32) if number not in config.ids]
    if len(free) < 2:
        raise Unsuitable("the source uses every parameter-set id")
    ends = [Part("head", [pts for pts in frames if pts < head.pts], head.pts, free[0], head.pts - head.dts),
            Part("tail", [pts for pts in frames if pts >= tail.pts], clip_end, free[1], tail.pts - tail.dts)]
    return Plan(video=video, video_stream=stream["index"], audio_stream=source.audio_stream,
                time_base=time_base, file_start=file_start, frames=frames, end=clip_end, copied=copied,
                parts=[part for part in ends if part.frames], profile=PROFILES[stream["profile"]],
                level=int(stream["level"]), config=config)


def _probe(video: Path, start: float, end: float, seek: bool,
           ffmpeg_path: str | None) -> tuple[list[dict], dict, list[Packet]]:
    """The video stream, the container, and the video packets from the keyframe before the clip
    to a little after it, in decode order: one ffprobe run that decodes nothing. It is the ffmpeg
    that encodes the ends, so both count frames alike."""
    # -read_intervals takes the packets' own times, which count from the container's start time.
    interval = f"{start - MARGIN_SECONDS:.6f}%{end + MARGIN_SECONDS:.6f}"
    if not seek:
        interval = f"%{end + MARGIN_SECONDS:.6f}"  # from the first packet
    args = [media.ffprobe_binary(ffmpeg_path), "-v", "error", "-f", SOURCE_FORMAT, "-print_format", "json",
            "-read_intervals", interval,
            "-select_streams", "v:0", "-show_entries",
            "stream=index,codec_type,codec_name,profile,level,pix_fmt,time_base,start_pts,duration_ts,field_order"
            ":stream_disposition=attached_pic:stream_side_data_list:format=format_name,start_time"
            ":packet=pts,dts,duration,flags,pos,size", str(video)]
    data = json.loads(media._run(args, media.PROBE_TIMEOUT, "Reading the video's keyframes").stdout or "{}")
    packets = []
    for packet in data.get("packets", []):
        if "pts" not in packet or "dts" not in packet:
            raise Unsuitable("a packet near the clip has no timestamp")
        packets.append(Packet(int(packet["pts"]), int(packet["dts"]), int(packet.get("duration", 0)),
                              packet["flags"][0] == "K", int(packet.get("pos", -1)), int(packet["size"]),
                              "D" in packet["flags"]))
    return data.get("streams", []), data.get("format", {}), packets


def _video_stream(streams: list[dict], container: dict) -> dict:
    """The picture stream, if its H.264 can be matched by libx264 and copied into an MP4."""
    stream = next((s for s in streams if s.get("codec_type") == "video"
                   and not s.get("disposition", {}).get("attached_pic")), None)
    if "mp4" not in container.get("format_name", "") or stream is None:
        raise Unsuitable("the source is not an MP4 file with video")
    if stream.get("codec_name") != "h264":
        raise Unsuitable(f"the source's video is {stream.get('codec_name')}, not H.264")
    if stream.get("profile") not in PROFILES or stream.get("pix_fmt") != "yuv420p":
        raise Unsuitable(f"libx264 is not set up to match {stream.get('profile')} {stream.get('pix_fmt')}")
    if stream.get("field_order", "progressive") != "progressive":
        raise Unsuitable("the source is interlaced")
    if any(data.get("rotation") for data in stream.get("side_data_list", [])):
        raise Unsuitable("the source is rotated by its metadata")
    if Fraction(stream["time_base"]).numerator != 1 or "duration_ts" not in stream:
        raise Unsuitable("the source's video track has an unusual time base or no duration")
    return stream


def _read_source(video: Path) -> Source:
    """The source's first video stream's parameter sets, and its first audio stream, which must be
    AAC to be copied."""
    import av  # PyAV: only the clip process needs it

    try:
        container = av.open(str(video), format=SOURCE_FORMAT)
    except av.FFmpegError as error:
        raise Unsuitable(f"PyAV cannot read the source: {error}") from None
    with container:
        stream = next(iter(container.streams.video), None)
        if stream is None or stream.codec_context.name != "h264":
            raise Unsuitable(f"the source's video is {stream.codec_context.name if stream else 'missing'}, not H.264")
        try:
            config = h264.AvcConfig.parse(bytes(stream.codec_context.extradata or b""))
        except ValueError as error:
            raise Unsuitable(f"the source's avcC could not be read: {error}") from None
        audio = next(iter(container.streams.audio), None)
        if audio is not None and audio.codec_context.name != "aac":
            raise Unsuitable(f"the source's audio is {audio.codec_context.name}, not AAC")
        found = Source(config, stream.index, audio.index if audio is not None else None,
                       (container.start_time or 0) / 1_000_000)
    if config.length_size != 4:
        raise Unsuitable("the source's NAL units have a length prefix libx264 does not write")
    return found


def _clip_frames(packets: list[Packet], stream: dict, start: Fraction, end: Fraction,
                 seeked: bool) -> tuple[list[int], int, bool]:
    """pts of the frames in [start, end), the pts just after the last one (all in ticks), and
    whether that is the end of the video; Unsuitable unless every packet that could show one of
    them was read."""
    if not packets or not packets[0].key or any(packet.hidden for packet in packets):
        raise Unsuitable("the frames around the clip could not be read")
    everything = sorted(packet.pts for packet in packets)
    if len(set(everything)) != len(everything):
        raise Unsuitable("the source's timestamps are not one per frame")
    # Half a tick of slack: a start given in seconds may fall a rounding error short of its frame.
    start, end = start - Fraction(1, 2), end - Fraction(1, 2)
    if seeked and packets[0].pts > start:
        raise Unsuitable("the keyframe before the clip was not found")
    after = [pts for pts in everything if pts >= end]
    final = max(packets, key=lambda packet: packet.pts)
    if after and packets[-1].dts >= after[0]:
        clip_end = after[0]  # a packet shown before this would have been decoded before it: all read
    elif not after and final.duration and \
            final.pts + final.duration >= int(stream.get("start_pts", 0)) + int(stream["duration_ts"]):
        clip_end = final.pts + final.duration  # the clip runs to the end of the video
    else:
        raise Unsuitable("the frames at the clip's end were not all read")
    frames = [pts for pts in everything if start <= pts < clip_end]
    if not frames:
        raise Unsuitable("the clip holds no frames")
    return frames, clip_end, not after


def _is_idr(handle, packet: Packet, length_size: int) -> bool:
    """Whether a keyframe is an IDR frame: one the copy can start at, as nothing after it refers
    back across it and its picture order counts start afresh."""
    if packet.pos < 0:
        return False
    handle.seek(packet.pos)
    return h264.is_idr(handle.read(packet.size), length_size)


def cut(video: str | os.PathLike, start: float, end: float, out: str | os.PathLike,
        ffmpeg_path: str | None = None) -> Path:
    """Cut [start, end] as media.cut_clip does, copying the middle; Unsuitable if it cannot."""
    found = plan(video, start, end, ffmpeg_path)
    out = Path(out)
    # Beside the clip under fixed names, as media.cut_clip's own working file: a killed cut leaves
    # them in the clip's folder (deleted with the job), and cutting the clip again replaces them.
    work = {name: out.with_name(f"{out.stem}.{name}.part.mp4") for name in ("head", "tail", "clip")}
    try:
        _encode(found, work, ffmpeg_path)
        config = _write(found, work)
        _check(found, config, work["clip"])
        os.replace(work["clip"], out)
    finally:
        for path in work.values():
            path.unlink(missing_ok=True)
    return out


def _encode(found: Plan, work: dict[str, Path], ffmpeg_path: str | None) -> None:
    """Encode the head and the tail in one ffmpeg run, each from its own seek into the source.

    -copyts keeps the source's timestamps, so _write can check each end holds its planned frames;
    each input's -t stops its decoding soon after its last frame.
    """
    if not found.parts:
        return  # the clip starts and ends on IDR frames: nothing to encode
    source = str(found.video.resolve())
    inputs, outputs = [], []
    for number, part in enumerate(found.parts):
        length = (part.end - part.frames[0]) * found.time_base
        inputs += ["-ss", found.seconds(part.frames[0]), "-t", f"{float(length):.6f}", "-f", SOURCE_FORMAT,
                   "-i", source]
        outputs += ["-map", f"{number}:{found.video_stream}", "-frames:v", str(len(part.frames)),
                    "-fps_mode", "passthrough", "-enc_time_base", "-1",
                    # Both timescales the source's: the edit list that delays the first frame is
                    # written in the movie's, and its default (ms) would round the delay.
                    "-video_track_timescale", str(found.time_base.denominator),
                    "-movie_timescale", str(found.time_base.denominator),
                    *ENCODER, "-bf", "0", "-pix_fmt", "yuv420p", "-profile:v", found.profile,
                    "-level:v", str(found.level),
                    "-x264-params", f"sps-id={part.parameter_set_id}",  # x264 gives its PPS the same id
                    str(work[part.name].resolve())]
    media._run([media.ffmpeg_binary(ffmpeg_path), "-nostdin", "-y", "-v", "error", "-copyts", *inputs, *outputs],
               media.CUT_TIMEOUT, "Cutting the clip")


def _write(found: Plan, work: dict[str, Path]) -> h264.AvcConfig:
    """Write the clip: the head, the source's packets between it and the tail, the tail, and the
    audio, times counted from the clip's first frame; returns the avcC it declares."""
    import av

    with contextlib.ExitStack() as stack:
        ends = {part.name: (part, stack.enter_context(av.open(str(work[part.name])))) for part in found.parts}
        try:
            config = h264.merge(found.config, *(
                h264.AvcConfig.parse(bytes(end.streams.video[0].codec_context.extradata)) for _, end in ends.values()))
        except ValueError as error:
            raise Unsuitable(f"the encoded ends cannot share the source's avcC: {error}") from None
        source = stack.enter_context(av.open(str(found.video), format=SOURCE_FORMAT))
        # The movie's timescale the video's, as for the ends: the edit lists are exact to a tick.
        options = {"movflags": "+faststart", "movie_timescale": str(found.time_base.denominator)}
        clip = stack.enter_context(av.open(str(work["clip"]), "w", format="mp4", options=options))
        clip.metadata.update({key: value for key, value in source.metadata.items() if key not in CONTAINER_TAGS})
        video_in = source.streams[found.video_stream]
        audio_in = source.streams[found.audio_stream] if found.audio_stream is not None else None
        outputs = {}
        for stream in (video_in, audio_in):
            if stream is not None:
                outputs[stream.index] = clip.add_stream_from_template(stream)
                outputs[stream.index].time_base = stream.time_base
        outputs[video_in.index].codec_context.extradata = config.to_bytes()

        packets = itertools.chain(_encoded(found, video_in, *ends["head"]) if "head" in ends else (),
                                  _copied(found, source, video_in, audio_in),
                                  _encoded(found, video_in, *ends["tail"]) if "tail" in ends else ())
        for packet, stream, pts, dts, duration in packets:
            packet.time_base, packet.pts, packet.dts, packet.duration = stream.time_base, pts, dts, duration
            packet.stream = outputs[stream.index]
            clip.mux(packet)
    return config


def _encoded(found: Plan, video_in, part: Part, container):
    """(packet, source stream, pts, dts, duration) of an encoded end, which must show exactly its
    planned frames; its decode times lag as the copied IDR frame's do, so they never go back."""
    packets = [packet for packet in container.demux(container.streams.video[0]) if packet.dts is not None]
    if [packet.pts for packet in packets] != part.frames:
        raise Unsuitable(f"the encoded {part.name} does not hold the planned frames")
    for packet, pts, following in zip(packets, part.frames, part.frames[1:] + [part.end]):
        yield packet, video_in, pts - found.start, pts - part.delay - found.start, following - pts


def _copied(found: Plan, source, video_in, audio_in):
    """(packet, source stream, pts, dts, duration) of the middle, each checked against the plan,
    and of the clip's audio, from one pass through the source."""
    # A second early: the keyframe before the clip, and the audio frames before its start.
    source.seek(max(found.start - round(1 / found.time_base), 0), stream=video_in)
    copied = iter(found.copied)
    wanted = next(copied, None)
    audio_start = audio_end = 0
    if audio_in is not None:
        audio_start, audio_end = (round(found.start * found.time_base / audio_in.time_base),
                                  round(found.end * found.time_base / audio_in.time_base))
    pre_roll = collections.deque(maxlen=AAC_PRE_ROLL_FRAMES)
    audio_open = audio_in is not None
    for packet in source.demux(*(stream for stream in (video_in, audio_in) if stream is not None)):
        if packet.dts is None:
            continue  # the demuxer's empty packet at the end of a stream
        if packet.stream is video_in and wanted is not None:
            if (packet.pts, packet.dts) == (wanted.pts, wanted.dts):
                yield packet, video_in, packet.pts - found.start, packet.dts - found.start, packet.duration
                wanted = next(copied, None)
            elif packet.dts >= wanted.dts:
                # PyAV's libavformat reads the source differently from the ffprobe that planned it.
                raise Unsuitable("the source's packets are not where ffprobe found them")
        elif packet.stream is audio_in and audio_open:
            if packet.pts >= audio_end:
                audio_open = False
            elif packet.pts + packet.duration <= audio_start:
                pre_roll.append(packet)  # hidden by the clip's edit list; the decoder needs it
            else:
                for early in pre_roll:
                    yield early, audio_in, early.pts - audio_start, early.pts - audio_start, early.duration
                pre_roll.clear()
                duration = min(packet.duration, audio_end - packet.pts)  # the last frame ends with the clip
                yield packet, audio_in, packet.pts - audio_start, packet.pts - audio_start, duration
        if wanted is None and not audio_open:
            break
    if wanted is not None:
        raise Unsuitable("the source ended before the copied middle did")


def _check(found: Plan, config: h264.AvcConfig, clip: Path) -> None:
    """The written clip holds exactly the planned frames at their times, in an order that decodes,
    under the avcC that declares every part's parameter sets."""
    import av

    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        written = bytes(stream.codec_context.extradata or b"")
        packets = [(packet.pts, packet.dts, packet.is_keyframe) for packet in container.demux(stream)
                   if packet.dts is not None]
        time_base = Fraction(stream.time_base)
    wanted = [(pts - found.start) * found.time_base / time_base for pts in found.frames]
    dts = [packet[1] for packet in packets]
    if (written != config.to_bytes() or sorted(packet[0] for packet in packets) != wanted
            or not packets[0][2] or any(later <= earlier for earlier, later in zip(dts, dts[1:]))):
        raise Unsuitable("the written clip's frames are not the planned ones")
