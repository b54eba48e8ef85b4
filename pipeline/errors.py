"""Errors a person can cause or fix, each with a message written for them."""


class PipelineError(Exception):
    """Base class: str(error) is a one-line message meant for the user."""


class SourceError(PipelineError):
    """The URL or file cannot be used as a video source."""


class DownloadError(PipelineError):
    """The video could not be fetched."""


class MediaError(PipelineError):
    """The file is not usable media (damaged, no audio, ffmpeg failure)."""


class ModelError(PipelineError):
    """A model could not be found or loaded."""


class DiarizationError(PipelineError):
    """Speaker diarization failed."""


class Cancelled(PipelineError):
    """The job was cancelled while it ran."""

    def __init__(self, message: str = "Cancelled by the user."):
        super().__init__(message)
