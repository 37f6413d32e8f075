"""The project's one error hierarchy.

    AssistantError                 base; carries `retryable` and `user_visible`
    ├── ConfigError                a setting names something that does not exist
    ├── CatalogueError             a catalogue file cannot be read at all
    ├── ImageError                 an image is unreadable, not an image, or too large
    ├── AudioError                 audio that cannot be used (bad_audio, audio_too_long, no_speech)
    ├── VideoError                 a clip that cannot be used (bad_video, video_too_long,
    │                              no_product_in_video)
    ├── QueryError                 a query is empty, too long, or contradictory
    ├── ModelError                 a model file is missing or cannot be loaded
    ├── LLMUnavailable             the language model failed or timed out; the turn falls back
    ├── SessionStoreUnavailable    the sessions database cannot be reached; retryable, nothing changed
    └── IndexError_                the index cannot answer
        ├── CollectionNotFound     the named collection does not exist
        └── IndexUnavailable       the engine (server) cannot be reached; retryable

Each error says whether retrying may help and whether its message may be shown to a
shopper or a model as is (messages never contain stack traces or secrets). An error a
shopper may meet carries a Chinese rendering too (`zh`), said in a Chinese turn.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error the project raises on purpose."""

    retryable: bool = False
    user_visible: bool = True

    def __init__(self, message: str, *, zh: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.zh = zh  # the message in Chinese, where a shopper may read it

    def text(self, language: str) -> str:
        """The message in `language` ("en" or "zh"); English where no Chinese was written."""
        return self.zh if language == "zh" and self.zh else self.message


class ConfigError(AssistantError):
    """A setting names a model, path or choice that does not exist."""

    user_visible = False


class CatalogueError(AssistantError):
    """A catalogue file as a whole cannot be read (a single bad row is not an error)."""


class ImageError(AssistantError):
    """An image is corrupt, not an image, or over the size limits."""


class AudioError(AssistantError):
    """Audio that cannot be used: not the declared format, corrupt, or over a limit."""

    code = "bad_audio"


class AudioTooLong(AudioError):
    code = "audio_too_long"


class NoSpeech(AudioError):
    """Silence or noise: nothing to transcribe."""

    code = "no_speech"


class VideoError(AssistantError):
    """A clip that cannot be used: corrupt or truncated, not a video (audio only, a still
    image), an unsupported codec, or no product in it."""

    code = "bad_video"


class VideoTooLong(VideoError):
    """Over the length or size limit; decoding stopped as soon as the limit was passed."""

    code = "video_too_long"


class NoProductInVideo(VideoError):
    """The clip decodes, but no frame of it shows a product the catalogue sells."""

    code = "no_product_in_video"


class QueryError(AssistantError):
    """A query cannot be run as given: empty, too long, or contradictory filters."""


class ModelError(AssistantError):
    """A model checkpoint is missing or cannot be loaded."""

    user_visible = False


class LLMUnavailable(AssistantError):
    """The language model endpoint is down, timed out or failed mid-answer.

    Never fatal to a turn: the agent answers with its templates and says so in an event."""

    retryable = True
    user_visible = False
    code = "llm_unavailable"


class LLMBusy(LLMUnavailable):
    """Other turns are running beside this one, so the in-process model, which would take the
    CPU from them, is left out: this answer comes from templates (its products are on screen)."""

    code = "llm_busy"


class SessionStoreUnavailable(AssistantError):
    """The sessions database (PostgreSQL) cannot be reached or dropped the connection mid-turn.

    The turn's changes were not saved (its transaction rolled back), so retrying is safe: the
    session is as it was before the turn."""

    retryable = True
    code = "sessions_unavailable"


class IndexError_(AssistantError):  # noqa: N801 - trailing underscore avoids the builtin
    """The product index cannot answer."""


class CollectionNotFound(IndexError_):
    """The named collection (catalogue) does not exist in the index."""


class IndexUnavailable(IndexError_):
    """The index engine cannot be reached (a server that is down)."""

    retryable = True
