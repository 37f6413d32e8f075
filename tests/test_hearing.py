"""Hearing the catalogue's words: transcripts corrected against the catalogue's vocabulary.

Word probabilities are given as Whisper reports them; espeak-ng (Debian) gives the phonemes."""

from __future__ import annotations

import pytest

from assistant.retrieval.understanding import Vocabulary
from assistant.voice.hearing import CatalogueHearing, HeardWord

TYPES = {"sarees", "sports shoes", "casual shoes", "shirts", "tshirts", "handbags", "kurtas", "kurtis", "belts", "heels", "jeans",
         "sweatshirts", "backpacks", "deodorant", "duffel bag", "rain jacket", "jackets", "clutches", "earrings", "lipstick"}  # fmt: skip
VOCAB = Vocabulary(
    colour={"black", "brown", "red", "navy blue", "steel"},
    gender={"men", "women"},
    category=TYPES | {"footwear", "apparel", "bags"},
    article_type=TYPES,
    brand={"nike", "woodland", "levis"},
    usage={"casual", "sports", "formal"},
    counts={"tshirts": 500, "shirts": 400, "sarees": 40, "nike": 90, "woodland": 30, "levis": 20},
)


@pytest.fixture(scope="module")
def hearing() -> CatalogueHearing:
    return CatalogueHearing(VOCAB)


def heard(text: str, unsure: set[str]) -> list[HeardWord]:
    """Whisper's words, the ones in `unsure` at a low probability."""
    return [HeardWord(" " + w, 0.2 if w.strip(",.").lower() in unsure else 0.95) for w in text.split()]


@pytest.mark.parametrize(
    ("transcript", "unsure", "expected"),
    [
        ("spots shoes for men", {"spots"}, "sports shoes for men"),
        ("The odorant for women.", {"odorant"}, "The deodorant for women."),
        ("A black, back, back for school.", {"back"}, "A black, backpacks for school."),
        ("A race wet shirt for men.", {"wet"}, "A race sweatshirts for men."),
        ("A double bag for the gym.", {"double"}, "A duffel bag for the gym."),
        ("Blown leather belt.", {"blown"}, "brown leather belt."),
        ("Randlip, stick.", {"randlip", "stick"}, "lipstick."),
        # Left as heard: words Whisper was sure of, words of the request's frame, brands and usages,
        # and an unsure word beside a product word that does not sound like a longer term.
        ("spots shoes for men", set(), "spots shoes for men"),
        ("tell me about the second one", {"tell"}, "tell me about the second one"),
        ("Brown leather belt.", {"leather"}, "Brown leather belt."),
        ("A wooden sweater for winter.", {"wooden"}, "A wooden sweater for winter."),
        ("A random jacket for women.", {"random"}, "A random jacket for women."),
        ("white sneakers under $50", {"sneakers"}, "white sneakers under $50"),
    ],
)
def test_unsure_words_are_heard_as_the_catalogue_terms_they_sound_like(hearing, transcript, unsure, expected):
    assert hearing.correct(heard(transcript, unsure)).text == expected


def test_a_correction_keeps_what_was_heard_and_the_alternatives(hearing):
    h = hearing.correct(heard("spots shoes for men", {"spots"}))
    (c,) = h.corrections
    assert (c.heard, c.term) == ("spots shoes", "sports shoes")
    assert c.alternatives and "sports shoes" not in c.alternatives and 0 < c.score <= 1


def test_an_unsure_word_close_to_no_term_is_a_doubt_with_a_suggestion(hearing):
    h = hearing.correct(heard("Show me a cherry for women.", {"cherry"}))
    assert h.text == "Show me a cherry for women." and h.doubtful == ("cherry",)
    assert h.doubt is not None and h.doubt.heard == "cherry"
    assert h.doubt.term == "sarees" and h.doubt.query == "Show me a sarees for women."
    far = hearing.correct(heard("Looting for men.", {"looting"}))
    assert far.doubt is not None and far.doubt.heard == "Looting"


def test_the_prompt_is_the_catalogues_most_frequent_kinds(hearing):
    prompt = hearing.prompt()
    assert prompt.startswith("Shopper: show me tshirts, shirts, sarees")
    assert "apparel" not in prompt and "nike" not in prompt, "article types only, not broad categories or brands"


def test_a_transcript_of_known_words_needs_no_second_look(hearing):
    assert hearing.all_known("Sports shoes for men.") and hearing.all_known("Show me black handbags, please")
    assert not hearing.all_known("Show me a cherry for women.")


def test_a_failing_espeak_is_a_typed_error(hearing):
    from assistant.errors import ModelError

    broken = CatalogueHearing(VOCAB)
    broken.espeak = "false"  # a real binary that fails: the transcriber then keeps the transcript as heard
    with pytest.raises(ModelError, match="espeak"):
        broken.correct(heard("spots shoes for men", {"spots"}))


# Hearing a spoken search again (`assistant.voice.rehearing`): the readings put to Whisper, and the choice among them.


def test_readings_put_catalogue_terms_in_place_of_the_words_they_sound_like(hearing):
    from assistant.voice.rehearing import readings

    out = readings(["Show me a cherry for women.", "Show me a cherry for women."], hearing)
    assert out[0] == "Show me a cherry for women.", "the transcript itself is a reading, once"
    assert "Show me a saree for women." in out and "Show me a sarees for women." in out, "both forms of the term, the full stop kept"
    assert all(r.startswith("Show me a ") and r.endswith(" for women.") for r in out), "frame words are never replaced"
    # A run of words is replaced as one ("back, back" → backpacks); readings that differ only in case
    # or punctuation are one.
    out = readings(["A black, back, back for school.", "a black back back for school"], hearing)
    assert "A black, backpacks for school." in out and "a black back back for school" not in out


@pytest.mark.parametrize(
    ("scored", "text", "sure"),
    [
        # Whisper's own score decides between readings of the same length...
        ([("A green hat.", -14.0, 4, "hats", 2), ("A green dupatta.", -19.0, 5, "dupatta", 2)], "A green hat.", False),
        # ... a catalogue word taking more tokens is not penalised for them ("saree": 2 tokens, "cherry": 1) ...
        ([("a sarees for women.", -6.0, 8, "sarees", 2), ("a shirts for women.", -5.5, 7, "shirts", 2)], "a sarees for women.", True),
        # ... and a reading that also hears the colour and gender said beats one that hears only the kind.
        ([("blue jeans for men.", -8.0, 5, "jeans", 3), ("jeans for men.", -7.0, 4, "jeans", 2)], "blue jeans for men.", True),
    ],
)
def test_the_best_reading_by_whispers_score_is_searched_only_when_whisper_is_sure(scored, text, sure):
    from assistant.voice.rehearing import SURE_LOGPROB, Scored, choose

    best = choose([Scored(*s) for s in scored])
    assert best is not None and best.text == text and best.sure is sure
    assert (best.logprob >= SURE_LOGPROB) is sure and best.alternatives and text not in best.alternatives
    assert choose([]) is None


@pytest.mark.parametrize(
    ("kind", "named", "longer"),
    [
        ("earrings", "ring", True),  # "Go there, rings." for gold earrings
        ("duffel bag", "bags", True),  # "A thoughtful bag" for a duffel bag
        ("laptop bag", "tops", True),  # "Up top bar." for a laptop bag
        ("sweatshirts", "tshirts", True),
        ("dresses", "dress", False),  # the same kind, another form
        ("tshirts", "shirts", False),  # two letters more is a plural's or a prefix's, not a longer name
        ("capris", "caps", False),
        ("backpacks", "track pants", False),
    ],
)
def test_a_kind_heard_in_part_is_extended_only_by_a_longer_name_holding_it(kind, named, longer):
    from assistant.voice.rehearing import extends

    assert extends(kind, named) is longer


def test_only_kinds_a_longer_kind_holds_are_heard_again():
    from assistant.voice.rehearing import extendable

    vocab = Vocabulary(category={"ring", "earrings", "belts", "bags", "handbags"}, article_type={"ring", "earrings", "belts", "handbags"})
    assert extendable(["ring", "belts", "bags"], vocab) == ["ring", "bags"]


@pytest.fixture
def encoder_calls(monkeypatch):
    """The window width (frames) of each Whisper encoder call, in order."""
    from faster_whisper import WhisperModel

    widths: list[int] = []
    real = WhisperModel.encode
    monkeypatch.setattr(WhisperModel, "encode", lambda self, features: widths.append(features.shape[-1]) or real(self, features))
    return widths


@pytest.mark.model
def test_a_clip_read_three_times_is_encoded_twice(hearing, tmp_path, encoder_calls, monkeypatch):
    # A spoken search that names no kind of product, with words the catalogue does not know:
    # the clip is read for the transcript, again for its words' probabilities, and once more
    # with the catalogue's terms (the re-hearing). The first two share one encoding (and
    # nothing past the clip is read); the re-hearing reads its own window. The words name no
    # kind as heard right too, so the re-hearing runs whatever Whisper makes of them (a test
    # that leaned on Whisper mishearing "blue jeans" passed on one CPU and not on another).
    import subprocess

    from assistant.voice.audio import AudioLimits, decode
    from assistant.voice.rehearing import Rehearing
    from assistant.voice.transcriber import load_transcriber

    reheard: list[list[str]] = []
    real = Rehearing.hear
    monkeypatch.setattr(Rehearing, "hear", lambda self, samples, heard, *a, **k: reheard.append(list(heard)) or real(self, samples, heard, *a, **k))
    speak = ["espeak-ng", "-v", "en-us", "-s", "175", "--stdout", "something nice for my brother"]
    wav = subprocess.run(speak, capture_output=True, check=True).stdout
    transcriber = load_transcriber(tmp_path / "models", hearing=hearing)
    got = transcriber.transcribe(decode(wav, "wav", AudioLimits()), "en")
    assert got.words, f"the transcript was read again for its words' probabilities: {got}"
    assert len(reheard) == 1, f"heard again {len(reheard)} times: {got}"
    assert len(encoder_calls) == 2, f"the encoder ran {len(encoder_calls)} times"


@pytest.mark.model
def test_a_partial_transcript_reads_a_short_window_and_the_final_one_a_whole_window(tmp_path, encoder_calls):
    # While the shopper speaks, a partial transcript is read every second: its window is the
    # clip so far (2 s here) and a little silence, at least 10 s, not Whisper's whole 30 s; the
    # final transcript still reads the whole window (a shortened one hears worse).
    import subprocess

    from assistant.voice.audio import AudioLimits, decode
    from assistant.voice.transcriber import load_transcriber
    from assistant.voice.whisper_model import PARTIAL_WINDOW_FRAMES

    speak = ["espeak-ng", "-v", "en-us+m3", "-s", "140", "--stdout", "red running shoes for men"]
    samples = decode(subprocess.run(speak, capture_output=True, check=True).stdout, "wav", AudioLimits())
    transcriber = load_transcriber(tmp_path / "models")
    partial = transcriber.hypothesis(samples, "en")
    assert "running shoes" in partial.lower(), partial
    assert encoder_calls == [PARTIAL_WINDOW_FRAMES], encoder_calls
    final = transcriber.transcribe(samples, "en")
    assert "running shoes" in final.text.lower(), final
    assert encoder_calls[1:] == [3000], "the final transcript reads the whole window, not the partial's"
