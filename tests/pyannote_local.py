"""A pyannote.audio 4 speaker-diarization pipeline built on the spot, loadable offline.

`build_local_pipeline(directory)` writes a folder laid out like a Hugging Face pipeline repo:

    directory/
        config.yaml                      # pipeline: SpeakerDiarization, models as "$model/<subfolder>"
        segmentation/pytorch_model.bin   # tiny PyanNet (powerset, 3 speakers), random weights
        embedding/pytorch_model.bin      # tiny XVectorMFCC speaker embedding, random weights
        plda/xvec_transform.npz          # identity PLDA: SpeakerDiarization always loads one,
        plda/plda.npz                    # even though AgglomerativeClustering never uses it

so that `pyannote.audio.Pipeline.from_pretrained(str(directory))` works with HF_HUB_OFFLINE=1.
The weights are random: the output has the right shape and types, not the right speakers.

Checkpoints are what `Model.from_pretrained` reads from a local file: a Lightning checkpoint dict
(`state_dict`, `hyper_parameters`, `pytorch-lightning_version`) plus the `pyannote.audio` entry
written by `Model.on_save_checkpoint` (version, architecture module/class, task specifications).
"""
from __future__ import annotations

import pathlib

SEGMENTATION_DURATION = 5.0  # seconds per segmentation window (the released models use 10 s)
EMBEDDING_DIMENSION = 64
PLDA_DIMENSION = 16

CONFIG_YAML = """\
# Local test pipeline (random weights), same layout as pyannote/speaker-diarization-3.1.
dependencies:
  pyannote.audio: {version}
pipeline:
  name: pyannote.audio.pipelines.SpeakerDiarization
  params:
    legacy: false
    segmentation: $model/segmentation
    segmentation_step: 0.1
    segmentation_batch_size: 8
    embedding: $model/embedding
    embedding_exclude_overlap: true
    embedding_batch_size: 8
    plda: $model/plda
    clustering: AgglomerativeClustering
params:
  segmentation:
    min_duration_off: 0.0
  clustering:
    method: centroid
    min_cluster_size: 2
    threshold: 0.7045654963945799
"""


def _save_checkpoint(model, directory: pathlib.Path) -> pathlib.Path:
    import lightning
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    checkpoint = {
        "state_dict": model.state_dict(),
        "hyper_parameters": dict(model.hparams),
        "pytorch-lightning_version": lightning.__version__,
    }
    model.on_save_checkpoint(checkpoint)  # adds the "pyannote.audio" entry
    path = directory / "pytorch_model.bin"
    torch.save(checkpoint, path)
    return path


def _segmentation_model():
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.segmentation import PyanNet

    model = PyanNet(sincnet={"stride": 10},
                    lstm={"hidden_size": 32, "num_layers": 1, "bidirectional": True, "monolithic": True},
                    linear={"hidden_size": 32, "num_layers": 1})
    # What SpeakerDiarization task training would give: powerset over 3 local speakers, at most 2 at once.
    model.specifications = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION, resolution=Resolution.FRAME,
        duration=SEGMENTATION_DURATION, min_duration=SEGMENTATION_DURATION, warm_up=(0.0, 0.0),
        classes=["speaker#1", "speaker#2", "speaker#3"], powerset_max_classes=2,
        permutation_invariant=True)
    model.build()  # adds the final classifier and activation for those specifications
    return model


def _embedding_model():
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import XVectorMFCC

    # 64 mel bands rather than torchaudio's 128, which leaves empty filters at 16 kHz (and warns).
    model = XVectorMFCC(mfcc={"melkwargs": {"n_mels": 64}}, dimension=EMBEDDING_DIMENSION)
    model.specifications = Specifications(
        problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=SEGMENTATION_DURATION)
    return model


def _write_plda(directory: pathlib.Path) -> None:
    """Identity transforms, in the files PLDA.from_pretrained reads (see pyannote.audio.utils.vbx)."""
    import numpy as np

    directory.mkdir(parents=True, exist_ok=True)
    lda = np.eye(EMBEDDING_DIMENSION, PLDA_DIMENSION)
    np.savez(directory / "xvec_transform.npz",
             mean1=np.zeros(EMBEDDING_DIMENSION), mean2=np.zeros(PLDA_DIMENSION), lda=lda)
    np.savez(directory / "plda.npz",
             mu=np.zeros(PLDA_DIMENSION), tr=np.eye(PLDA_DIMENSION), psi=np.ones(PLDA_DIMENSION))


def build_local_pipeline(directory: pathlib.Path, seed: int = 0) -> pathlib.Path:
    """Write a small offline pyannote.audio 4 diarization pipeline into `directory`; return it."""
    import torch
    from pyannote.audio import __version__

    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    _save_checkpoint(_segmentation_model(), directory / "segmentation")
    _save_checkpoint(_embedding_model(), directory / "embedding")
    _write_plda(directory / "plda")
    (directory / "config.yaml").write_text(CONFIG_YAML.format(version=__version__))
    return directory
