import json
import random
from collections import Counter

import pandas as pd
import pytest

from apps_text import (
    Tokenizer,
    TokenizeWithRules,
    WordTokenizer,
    decode_tokens,
    read_counter,
    tokenize1,
    tokenize_df,
    tokenize_folder,
    tokenize_texts,
)

TEXT = "This is a TEST!!!! I'm sure it's fine, don't you think? Yes yes yes yes.\n\nNew para (with #tag and a/b)."


def test_word_tokenizer_splits_like_spacy_english():
    assert WordTokenizer().split("I don't know... e.g. 3.5 well-known can't we'll") == [
        "I", "do", "n't", "know", "...", "e.g.", "3.5", "well", "-", "known", "ca", "n't", "we", "'ll",
    ]  # fmt: skip
    # whitespace other than one space is a token, less one leading space (spaCy's: it belongs to the word before)
    assert WordTokenizer().split("a\n\n b") == ["a", "\n\n ", "b"]
    assert WordTokenizer().split("a \nb  c\td") == ["a", "\n", "b", " ", "c", "\t", "d"]
    assert WordTokenizer().split("__init__ self._x os.path.join(a) utf-8 x-1 1,000 a,b 12:30 foo:bar") == [
        "_", "_", "init", "_", "_", "self._x", "os.path.join(a", ")", "utf-8", "x-1", "1,000", "a", ",", "b",
        "12:30", "foo", ":", "bar",
    ]  # fmt: skip


def test_word_tokenizer_exceptions():
    # spaCy's English exceptions for lowercased text: apostrophe-less contractions, abbreviations with a period
    assert WordTokenizer().split("i dont think its cannot gonna youre e.g., plan a. etc.") == [
        "i", "do", "nt", "think", "its", "can", "not", "gon", "na", "you", "re", "e.g.", ",", "plan", "a.", "etc",
        ".",
    ]  # fmt: skip


def test_tokenize_with_default_rules():
    toks = tokenize1(TEXT)
    assert toks[:6] == ["xxbos", "xxmaj", "this", "is", "a", "xxup"]
    assert ["xxrep", "4", "!"] == toks[7:10]
    assert ["xxwrep", "3", "yes"] == toks[toks.index("xxwrep") : toks.index("xxwrep") + 3]
    assert "\n\n" in toks and "#" in toks and "/" in toks


def test_decode_gives_readable_text():
    assert decode_tokens(tokenize1(TEXT)) == (
        "This is a TEST!!!! I'm sure it's fine, don't you think? Yes yes yes yes.\n\nNew para (with #tag and a / b)."
    )


def test_parallel_same_as_serial_in_order():
    texts = [f"Text number {i}: {'word ' * (i % 7)}END." for i in range(300)]
    serial = list(tokenize_texts(texts, n_workers=0, chunksize=16))
    parallel = list(tokenize_texts(texts, n_workers=2, chunksize=16))
    assert parallel == serial and serial[5][-3:] == ["xxup", "end", "."]


@pytest.mark.parametrize("n_workers", [0, 2])
def test_tokenize_texts_streams_a_generator(n_workers):
    # a corpus larger than memory streams through: the texts read but not yet tokenized stay within the chunks in
    # flight (two per worker, plus one) at every step, and nothing is kept per text once it is yielded
    read = []

    def texts():
        for i in range(400):
            read.append(i)
            yield f"Text {i} here."

    ahead = 0
    for k, toks in enumerate(tokenize_texts(texts(), n_workers=n_workers, chunksize=8)):
        assert toks == tokenize1(f"Text {k} here.")  # in order
        ahead = max(ahead, len(read) - k)
    assert len(read) == 400 and 0 < ahead <= 8 * (2 * n_workers + 1)


def test_tokenize_df_counts_and_lengths():
    df = pd.DataFrame({"text": ["Hello world", "hello again"], "label": [0, 1]})
    out, count = tokenize_df(df, "text")
    assert out["text"].tolist() == [["xxbos", "xxmaj", "hello", "world"], ["xxbos", "hello", "again"]]
    assert out["text_length"].tolist() == [4, 3] and out["label"].tolist() == [0, 1]
    assert count == Counter({"xxbos": 2, "hello": 2, "xxmaj": 1, "world": 1, "again": 1})
    out2, _ = tokenize_df(pd.DataFrame({"a": ["x"], "b": ["y"]}), ["a", "b"])
    assert out2["text"][0] == ["xxbos", "xxfld", "1", "x", "xxfld", "2", "y"]
    with pytest.raises(KeyError, match="no column"):
        tokenize_df(df, "nope")


def test_tokenize_folder(tmp_path):
    (tmp_path / "docs" / "a").mkdir(parents=True)
    (tmp_path / "docs" / "a" / "1.txt").write_text("Hello World", encoding="utf-8")
    (tmp_path / "docs" / "2.txt").write_text("bye", encoding="utf-8")
    out = tokenize_folder(tmp_path / "docs", n_workers=0)
    assert out == tmp_path / "docs_tok"
    assert (out / "a" / "1.txt").read_text(encoding="utf-8") == "xxbos xxmaj hello xxmaj world"
    assert json.loads((out / "lengths.json").read_text()) == {"a/1.txt": 5, "2.txt": 2}
    assert read_counter(out)["xxmaj"] == 2


def test_tokenizer_transform_caches_and_decodes(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("A file.", encoding="utf-8")
    tok = Tokenizer(n_workers=0)
    tok.setup(["Some text", f])
    assert tok("Some text") == ["xxbos", "xxmaj", "some", "text"]
    assert tok(f) == ["xxbos", "a", "file", "."]
    assert tok.decode(["xxbos", "hi"]) == "xxbos hi"
    row = pd.Series({"t": "Row text", "y": 1})
    assert Tokenizer.from_df("t")(row) == ["xxbos", "xxmaj", "row", "text"]
    with pytest.raises(Exception, match="cannot tokenize a int"):
        tok(3)


def test_word_tokenizer_fast_paths_equal_the_regex():
    # texts of single spaces (and newlines) take str.split fast paths; a trailing tab sends the same text through
    # the general regex path: the tokens must be the same
    rng = random.Random(0)
    atoms = ["word", "(see", "above)", "it's", "don't", "dont", "e.g.", "a.", "x,", "3.14", "1,000", "os.path", "'q'"]
    atoms += ["utf-8", "well-known", "__init__", "end.", "...", "xxmaj", "!", "#"]
    for _ in range(300):
        seps = [" ", " ", " ", "\n", " \n", "\n ", "\n\n", " \n \n "]
        text = "".join(rng.choice(atoms) + rng.choice(seps) for _ in range(rng.randint(1, 30))) + "end"
        assert WordTokenizer.split(text) == WordTokenizer.split(text + "\t")[:-1], text


@pytest.mark.parametrize("text", ["Hello world.", b"Hello world."])
def test_a_single_string_is_refused_not_read_as_characters(text):
    from apps_text.tokenize import TokenizeWithRules

    for tok in (WordTokenizer(), TokenizeWithRules(WordTokenizer())):
        with pytest.raises(TypeError, match=r"expected a list of texts.*pass \[text\]"):
            tok(text)
    assert WordTokenizer()(["Hello world."]) == [WordTokenizer.split("Hello world.")]


def _plain_pipeline(text, post=lambda w: w.replace(" ", "▁")):
    """The default rules and split written plainly: fastai's regex formula for every rule, one after the other,
    then every word through spaCy-like exceptions or the chunk regex (no fast path), then the post-rule."""
    import html
    import re

    from apps_text.tokenize import _CHUNK, _EXCEPTIONS, _WS

    debris = {"#39;": "'", "amp;": "&", "#146;": "'", "nbsp;": " ", "#36;": "$"}
    t = re.sub(r"&?(#39;|amp;|#146;|nbsp;|#36;)", lambda m: debris[m.group(1)], text)
    t = re.sub(r"&?quot;", "'", t.replace("\\n", "\n"))
    t = t.replace("<br />", "\n").replace('\\"', '"').replace("<unk>", "xxunk")
    t = html.unescape(t.replace(" @.@ ", ".").replace(" @-@ ", "-").replace("\\", " \\ "))
    t = re.sub(r"(\S)(\1{2,})", lambda m: f" xxrep {len(m.group(2)) + 1} {m.group(1)} ", t)
    t = re.sub(
        r"(?:\s|^)(\w+)\s+((?:\1\s+)+)\1(\s|\W|$)",
        lambda m: f" xxwrep {len(m.group(2).split()) + 2} {m.group(1)} {m.group(3)}",
        t,
    )
    t = re.sub(" {2,}", " ", re.sub(r"([/#\\])", r" \1 ", t))
    caps = lambda tok: lambda m: f"{m.group(1)}{tok if len(m.group(2)) > 1 else ''}{m.group(2).lower()}"  # noqa: E731
    t = re.sub(r"(\s|^)([A-Z]+[^a-z\s]*)(?=(\s|$))", caps("xxup "), t)
    t = re.sub(r"(\s|^)([A-Z][^A-Z\s]*)(?=(\s|$))", caps("xxmaj "), t)
    t = "xxbos " + t.lower().strip()
    out = []

    def words(s):
        for w in s.split(" "):
            if w:
                out.extend(_EXCEPTIONS.get(w) or _CHUNK.findall(w))

    pieces = _WS.split(t)
    words(pieces[0])
    for i in range(1, len(pieces), 2):
        ws = pieces[i]
        out.append(ws[1:] if ws[0] == " " and out and len(ws) > 1 else ws)
        words(pieces[i + 1])
    return [post(w) for w in out]


def _varied_docs(n, seed):
    rng = random.Random(seed)
    atoms = ["word", "Word", "WORD", "I", "A", "McDonald", "don't", "it's", "dont", "e.g.", "3.14", "1,000", "x,"]
    atoms += ["(see", "above)", "well-known", "os.path", "!!!", "....", "sooooo", "zz", "the the the", "ha ha", "ha"]
    atoms += ["&amp;", "amp;", "&#39;", "#39;", "&quot;", "quot;", "nbsp;", "&lt;", "<br />", "\\n", "<unk>", "a/b"]
    atoms += ["#tag", "\\", "Émile", "ÉCOLE", "straße", "ΣΑΣ", "İstanbul", "日本語", "naïve", "\u2013", "\u00a0"]
    atoms += ["__init__", "\U0001f600\U0001f600\U0001f600", "\ud800\ud800\ud800"]  # beyond the BMP, a lone surrogate
    atoms += ["nul\x00byte"]  # the separator of the packed tokens a worker sends back
    seps = [" ", " ", " ", "", "  ", "\n", "\n\n", "\t", " \n "]
    docs = ["", " ", "\n", "A", "aaa", "word word word word", "ALL CAPS HERE", "Capitalised Words Only"]
    for _ in range(n):
        docs.append("".join(rng.choice(atoms) + rng.choice(seps) for _ in range(rng.randint(0, 60))))
    return docs


def test_fast_default_path_equals_a_plain_composition_of_the_rules():
    # the tokenizer fuses and shortcuts rules (tools/bench/text_tokenize.py); the tokens must be those of the rules
    # applied one by one with fastai's formulas, on documents that give every rule work
    docs = _varied_docs(300, seed=0)
    expected = [_plain_pipeline(d) for d in docs]
    assert [tokenize1(d) for d in docs] == expected
    assert list(tokenize_texts(docs, n_workers=0, chunksize=64)) == expected
    post = [lambda w: w.replace(" ", "_").upper()]  # another post-rule takes the general path
    assert TokenizeWithRules(post_rules=post)(docs) == [_plain_pipeline(d, post[0]) for d in docs]
