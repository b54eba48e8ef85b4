"""The few H.264 facts a smart cut needs that no library here exposes: which parameter-set ids a
stream uses, whether a sample starts an IDR picture, and one avcC record declaring the parameter
sets of several encodes joined into one track.

Everything else (demuxing, muxing, encoding) is ffmpeg's, through its command line or PyAV.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

NAL_IDR, NAL_SLICE = 5, 1


@dataclass
class AvcConfig:
    """An AVCDecoderConfigurationRecord (ISO/IEC 14496-15, 5.3.3.1): the parameter sets a track's
    samples refer to, and how many bytes prefix each NAL unit with its length."""
    profile: int
    compatibility: int
    level: int
    length_size: int
    sps: list[bytes]
    pps: list[bytes]
    extension: bytes  # the High profiles' chroma format and bit depths, kept as they are

    @classmethod
    def parse(cls, data: bytes) -> AvcConfig:
        """Read a record; ValueError when `data` is not one (e.g. Annex B parameter sets)."""
        if len(data) < 7 or data[0] != 1:
            raise ValueError("not an avcC record")
        sets, at = [], 5
        try:
            for count_mask in (0x1F, 0xFF):
                count, at = data[at] & count_mask, at + 1
                units = []
                for _ in range(count):
                    (size,) = struct.unpack_from(">H", data, at)
                    units.append(data[at + 2:at + 2 + size])
                    at += 2 + size
                sets.append(units)
        except (IndexError, struct.error):
            raise ValueError("truncated avcC record") from None
        return cls(data[1], data[2], data[3], (data[4] & 3) + 1, sets[0], sets[1], data[at:])

    def to_bytes(self) -> bytes:
        out = bytearray([1, self.profile, self.compatibility, self.level, 0xFC | (self.length_size - 1),
                         0xE0 | len(self.sps)])
        for unit in self.sps:
            out += struct.pack(">H", len(unit)) + unit
        out.append(len(self.pps))
        for unit in self.pps:
            out += struct.pack(">H", len(unit)) + unit
        return bytes(out + self.extension)

    @property
    def ids(self) -> set[int]:
        """Every SPS and PPS id the record uses."""
        return {sps_id(unit) for unit in self.sps} | {pps_id(unit) for unit in self.pps}


def merge(first: AvcConfig, *others: AvcConfig) -> AvcConfig:
    """One record declaring the parameter sets of all, in ascending id order as the format asks.

    ValueError when two different sets share an id, or the records differ in profile or NAL length
    size: then no single record describes the joined stream.
    """
    sps, pps = list(first.sps), list(first.pps)
    compatibility, level = first.compatibility, first.level
    for other in others:
        if (other.profile, other.length_size) != (first.profile, first.length_size):
            raise ValueError("the parts differ in profile or NAL length size")
        sps += [unit for unit in other.sps if unit not in sps]
        pps += [unit for unit in other.pps if unit not in pps]
        compatibility &= other.compatibility  # a constraint holds for the track only if it holds for every part
        level = max(level, other.level)
    if len({sps_id(unit) for unit in sps}) != len(sps) or len({pps_id(unit) for unit in pps}) != len(pps):
        raise ValueError("two different parameter sets share an id")
    return AvcConfig(first.profile, compatibility, level, first.length_size,
                     sorted(sps, key=sps_id), sorted(pps, key=pps_id), first.extension)


def _exp_golomb(data: bytes, bit: int) -> int:
    """ue(v) starting at `bit`. Parameter-set ids come before any emulation-prevention byte
    (00 00 03) could occur, so the NAL unit is read as it is."""
    zeros = 0
    while not data[(bit + zeros) // 8] >> (7 - (bit + zeros) % 8) & 1:
        zeros += 1
    bit += zeros + 1
    value = 0
    for _ in range(zeros):
        value = value << 1 | (data[bit // 8] >> (7 - bit % 8) & 1)
        bit += 1
    return (1 << zeros) - 1 + value


def sps_id(sps: bytes) -> int:
    """seq_parameter_set_id: after the NAL header, profile_idc, the constraint flags and level_idc."""
    return _exp_golomb(sps, 32)


def pps_id(pps: bytes) -> int:
    """pic_parameter_set_id: the first field after the NAL header."""
    return _exp_golomb(pps, 8)


def is_idr(sample: bytes, length_size: int = 4) -> bool:
    """Whether a length-prefixed sample's first slice is an IDR slice, after which nothing refers
    back (an open-GOP I frame is a keyframe to the container too, but it is not one of these)."""
    at = 0
    while at + length_size < len(sample):
        size = int.from_bytes(sample[at:at + length_size], "big")
        kind = sample[at + length_size] & 0x1F
        if kind in (NAL_SLICE, NAL_IDR):
            return kind == NAL_IDR
        at += length_size + size
    return False
