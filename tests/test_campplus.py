"""CAM++ in ONNX Runtime: the same voiceprints as the PyTorch network it is exported from."""
from __future__ import annotations

import numpy as np
import torch

from pipeline import campplus


def test_onnx_runtime_gives_the_pytorch_embeddings_for_any_batch_and_length():
    rng = np.random.default_rng(3)
    audio = torch.from_numpy((0.1 * rng.standard_normal(campplus.SAMPLE_RATE * 8)).astype(np.float32))
    features = campplus.fbank(audio)
    blocks = [features[:150], features[100:250], features[300:617], features[:campplus.MIN_FRAMES], features[:40]]
    embeddings = campplus.embed_features(blocks)
    with torch.inference_mode():
        network = campplus._network()
        expected = [network((block - block.mean(dim=0)).unsqueeze(0))[0].numpy() for block in blocks[:4]]
    expected = np.stack([vector / np.linalg.norm(vector) for vector in expected])
    assert np.allclose(np.linalg.norm(embeddings[:4], axis=1), 1.0, atol=1e-5)
    assert (embeddings[:4] * expected).sum(axis=1).min() > 0.9999
    assert np.isnan(embeddings[4]).all()  # under MIN_FRAMES: no voiceprint


def test_the_session_runs_on_the_speaker_models_thread_count(monkeypatch):
    asked = []
    session = campplus._session
    monkeypatch.setattr(campplus, "_session", lambda threads: asked.append(threads) or session(threads))
    previous = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            campplus.embed_features([torch.zeros(60, 80)])
    finally:
        torch.set_num_threads(previous)
    assert asked == [1, 2]
    assert session(2).get_session_options().intra_op_num_threads == 2
