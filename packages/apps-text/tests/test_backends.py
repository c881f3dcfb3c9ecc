"""The optional tokenizer backends (spaCy, SentencePiece, Hugging Face tokenizers), each with its extra installed
(the test extra installs all three), and the default tokenizer's agreement with spaCy on the shipped corpus."""

import difflib
import json
import pickle
import sys

import pandas as pd
import pytest
import tokenizers

from apps_text import (
    SPECIAL_TOKENS,
    HFTokenizer,
    SentencePieceTokenizer,
    SpacyTokenizer,
    TextDataLoaders,
    Tokenizer,
    TokenizeWithRules,
    decode_tokens,
    stdlib_corpus,
    tokenize1,
    tokenize_texts,
)
from datablock import ConfigError
from datablock.config import step_from_config, step_to_config

SENTENCES = [
    "The model reads the text. It doesn't know the words yet!",
    "A tokenizer splits text into tokens, and the vocabulary maps them to ids.",
    "We train a language model first, then a classifier on its encoder.",
    "Good data beats a clever model; more data beats both.",
    "The quick brown fox jumps over the lazy dog.",
]
CORPUS = [f"{SENTENCES[i % 5]} {SENTENCES[(i * 3 + 1) % 5]}" for i in range(60)]


def _df() -> pd.DataFrame:
    return pd.DataFrame({"text": CORPUS, "label": [i % 2 for i in range(60)], "is_valid": [i >= 48 for i in range(60)]})


def _roundtrip_config(tok: Tokenizer) -> Tokenizer:
    """Through plain data and back, as an export does (the safe resolver rebuilds it)."""
    cfg = step_to_config(tok)
    return step_from_config(json.loads(json.dumps(cfg)))


def _check_dls(tok_backend: object) -> None:
    dls = TextDataLoaders.from_df(
        _df(), text_col="text", label_col="label", valid_col="is_valid", tok=tok_backend, bs=8, seq_len=16, min_freq=1
    )
    xb, yb = dls.one_batch()
    assert xb.shape[0] == 8 and yb.shape == (8,)
    decoded = dls.train.decode_batch((xb, yb), max_n=1)[0][0]
    assert "xxbos" in str(decoded)  # ids → tokens → text through the same vocab


# --- spaCy ---------------------------------------------------------------------------------------------------------


def test_spacy_tokens_and_special_tokens():
    tok = SpacyTokenizer()
    assert tok(["xxbos xxmaj i don't know... e.g. 3.5 well-known xxup yes"]) == [
        ["xxbos", "xxmaj", "i", "do", "n't", "know", "...", "e.g.", "3.5", "well", "-", "known", "xxup", "yes"]
    ]
    twr = TokenizeWithRules(tok)
    assert twr(["Hello WORLD!!!!"]) == [["xxbos", "xxmaj", "hello", "xxup", "world", "xxrep", "4", "!"]]
    again = pickle.loads(pickle.dumps(tok))  # the pipeline is rebuilt in each worker
    assert again._nlp is None and again(["xxmaj it's"]) == [["xxmaj", "it", "'s"]]


def test_spacy_data_and_export():
    _check_dls(SpacyTokenizer())
    back = _roundtrip_config(Tokenizer(tok=SpacyTokenizer(buf_sz=100)))
    assert isinstance(back.tok, SpacyTokenizer) and back.tok.buf_sz == 100
    assert back("Don't panic.") == ["xxbos", "xxmaj", "do", "n't", "panic", "."]


def test_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "spacy", None)  # what an environment without spaCy looks like to `import`
    with pytest.raises(ImportError, match=r"pip install 'apps-text\[spacy\]'"):
        SpacyTokenizer()
    monkeypatch.setitem(sys.modules, "sentencepiece", None)
    with pytest.raises(ImportError, match=r"apps-text\[sentencepiece\]"):
        SentencePieceTokenizer()


# --- SentencePiece -------------------------------------------------------------------------------------------------


def test_sentencepiece_trained_on_corpus(tmp_path):
    sp = SentencePieceTokenizer(vocab_sz=80, cache_dir=tmp_path)
    toks = list(tokenize_texts(CORPUS, tok=sp))  # setup trains it on the corpus (after the rules)
    assert sp.trained and (tmp_path / "spm.model").is_file()
    assert toks[0][:2] == ["▁xxbos", "▁xxmaj"]  # special tokens are user-defined symbols: never split
    assert decode_tokens(toks[0]) == decode_tokens(tokenize1(CORPUS[0]))  # pieces join back into the words
    pieces = sp._processor()
    assert 9 < pieces.get_piece_size() <= 80 and pieces.unk_id() == 9  # fastai's layout: special tokens, then unk
    assert [pieces.id_to_piece(i) for i in range(9)] == ["▁" + s for s in SPECIAL_TOKENS]
    # the model file reads back as data: same pieces
    from_file = SentencePieceTokenizer(sp_model=tmp_path / "spm.model")
    assert from_file(["xxbos the model"]) == sp(["xxbos the model"])


def test_sentencepiece_parallel_export_and_data():
    sp = SentencePieceTokenizer(vocab_sz=60, model_type="bpe")
    texts = CORPUS * 3
    serial = list(tokenize_texts(texts, tok=sp, n_workers=0, chunksize=40))
    assert list(tokenize_texts(texts, tok=sp, n_workers=2, chunksize=40)) == serial  # workers get the model as data
    back = _roundtrip_config(Tokenizer(tok=sp))
    assert back.tok.model_proto == sp.model_proto and back(texts[3]) == serial[3]
    with pytest.raises(ConfigError):  # an unmarked look-alike is refused by the resolver
        step_from_config({"type": "builtins:eval", "args": {}})
    _check_dls(SentencePieceTokenizer(vocab_sz=60))


# --- Hugging Face tokenizers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["bpe", "wordpiece", "unigram"])
def test_hf_trained_on_corpus(model):
    hf = HFTokenizer(model=model, vocab_sz=120, min_freq=1)
    toks = list(tokenize_texts(CORPUS[:20], tok=hf))
    assert hf.trained and toks[0][:2] == ["xxbos", "xxmaj"]  # special tokens whole
    if model != "wordpiece":  # pieces join back into the words the default tokenizer gives
        assert decode_tokens(toks[0]) == decode_tokens(tokenize1(CORPUS[0]))
    else:  # BERT's pre-tokenizer splits at every punctuation mark: "doesn ' t"
        assert decode_tokens(toks[0]) == decode_tokens(tokenize1(CORPUS[0])).replace("doesn't", "doesn ' t")
    if model == "bpe":  # (WordPiece and unigram learned "xxmaj" as a piece of their own vocabulary: "xxmaj ##or")
        assert hf(["xxbos xxmajor"])[0][0] == "xxbos" and "xxmaj" not in hf(["xxbos xxmajor"])[0]  # whole words


def test_hf_wraps_a_given_tokenizer_and_exports():
    base = tokenizers.Tokenizer(tokenizers.models.WordLevel({"hello": 0, "world": 1, "[UNK]": 2}, unk_token="[UNK]"))
    base.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    hf = HFTokenizer(base)
    assert hf(["xxbos hello world xxmaj moon"]) == [["xxbos", "hello", "world", "xxmaj", "[UNK]"]]
    assert base.get_vocab_size() == 3  # the caller's tokenizer is not changed (special tokens went to a copy)
    back = _roundtrip_config(Tokenizer(tok=hf, rules=[]))
    assert back("hello xxbos") == ["hello", "xxbos"]
    assert pickle.loads(pickle.dumps(hf))(["world"]) == [["world"]]
    with pytest.raises(TypeError, match="tokenizer must be"):
        HFTokenizer("not json")
    with pytest.raises(ValueError, match="model must be one of"):
        HFTokenizer(model="sentencepiece")


def test_hf_data():
    _check_dls(HFTokenizer(vocab_sz=100, min_freq=1))


# --- agreement with spaCy on the shipped corpus --------------------------------------------------------------------


def token_agreement(ours: list[list[str]], theirs: list[list[str]]) -> float:
    """Aligned token agreement: per document, the tokens in the matching blocks of a difflib alignment of the two
    token lists, summed over documents, over the sum of the longer list's length (a token missing or extra on
    either side counts against)."""
    matched = total = 0
    for a, b in zip(ours, theirs, strict=True):
        sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
        matched += sum(m.size for m in sm.get_matching_blocks())
        total += max(len(a), len(b))
    return matched / total


def test_token_agreement_definition():
    assert token_agreement([["a", "b", "c"]], [["a", "b", "c"]]) == 1.0
    assert token_agreement([["a", "b", "c", "d"]], [["a", "bc", "d"]]) == 0.5  # 2 matched of 4


def test_default_tokenizer_agrees_with_spacy_on_shipped_corpus(tmp_path):
    texts = pd.read_csv(stdlib_corpus(tmp_path / "corpus") / "texts.csv")["text"].tolist()
    ours = TokenizeWithRules()(texts)
    theirs = TokenizeWithRules(SpacyTokenizer())(texts)
    agreement = token_agreement(ours, theirs)
    print(f"agreement with spaCy on {len(texts)} documents, {sum(map(len, theirs))} spaCy tokens: {agreement:.4%}")
    assert agreement >= 0.99


def test_backends_refuse_a_single_string():
    from apps_text import HFTokenizer, SentencePieceTokenizer, SpacyTokenizer

    for tok in (SpacyTokenizer(), SentencePieceTokenizer(vocab_sz=50), HFTokenizer()):
        with pytest.raises(TypeError, match="expected a list of texts"):
            tok("Hello world.")
