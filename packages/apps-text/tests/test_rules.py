"""Each rule against fastai's documented examples (fastai/text/core.py), plus where we deliberately differ."""

import html
import random
import re

from apps_text import (
    BOS,
    EOS,
    SPECIAL_TOKENS,
    TK_MAJ,
    TK_REP,
    TK_UP,
    TK_WREP,
    UNK,
    default_rules,
    fix_html,
    lowercase,
    replace_all_caps,
    replace_caps,
    replace_maj,
    replace_rep,
    replace_space,
    replace_wrep,
    rm_useless_spaces,
    spec_add_spaces,
)


def test_special_tokens_in_fastai_order():
    assert SPECIAL_TOKENS == ("xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxrep", "xxwrep", "xxup", "xxmaj")


def test_spec_add_spaces():
    assert spec_add_spaces("#fastai") == " # fastai"
    assert spec_add_spaces("/fastai") == " / fastai"
    assert spec_add_spaces("\\fastai") == " \\ fastai"


def test_rm_useless_spaces():
    assert rm_useless_spaces("a  b   c") == "a b c"


def test_replace_rep():
    assert replace_rep("aa") == "aa"
    assert replace_rep("aaaa") == f" {TK_REP} 4 a "


def test_replace_wrep():
    assert replace_wrep("ah ah") == "ah ah"
    assert replace_wrep("ah ah ah") == f" {TK_WREP} 3 ah "
    assert replace_wrep("ah ah ah ah") == f" {TK_WREP} 4 ah "
    assert replace_wrep("ah ah ah ah ") == f" {TK_WREP} 4 ah  "
    assert replace_wrep("ah ah ah ah.") == f" {TK_WREP} 4 ah ."
    assert replace_wrep("ah ah ahi") == "ah ah ahi"


def test_fix_html_fastai_examples():
    assert fix_html("#39;bli#146;") == "'bli'"
    assert fix_html("Sarah amp; Duck...") == "Sarah & Duck..."
    assert fix_html("a nbsp; #36;") == "a   $"
    assert fix_html('\\" <unk>') == f'" {UNK}'
    assert fix_html("quot;  @.@  @-@ ") == "' .-"
    assert fix_html("<br />text\\n") == "\ntext\n"


def test_fix_html_well_formed_entities():
    # where we differ from fastai: a complete entity gives one character, not fastai's "&&" / "&'"
    assert fix_html("Great&amp;fun&#39;s &quot;a lot&quot;") == "Great&fun's 'a lot'"
    assert fix_html("x &lt; y") == "x < y"


def test_replace_all_caps():
    assert replace_all_caps("I'M SHOUTING") == f"{TK_UP} i'm {TK_UP} shouting"
    assert replace_all_caps("I'm speaking normally") == "I'm speaking normally"
    assert replace_all_caps("I am speaking normally") == "i am speaking normally"


def test_replace_maj():
    assert replace_maj("Jeremy Howard") == f"{TK_MAJ} jeremy {TK_MAJ} howard"
    assert replace_maj("I don't think there is any maj here") == "i don't think there is any maj here"


def test_lowercase_and_space():
    assert lowercase(" Hello World ") == f"{BOS} hello world"
    assert lowercase("A", add_bos=False, add_eos=True) == f"a {EOS}"
    assert replace_space("new york") == "new▁york"


def test_default_rules_order():
    names = [r.__name__ for r in default_rules()]
    assert names == [
        "fix_html", "replace_rep", "replace_wrep", "spec_add_spaces", "rm_useless_spaces",
        "replace_all_caps", "replace_maj", "lowercase",
    ]  # fmt: skip


# fastai's formulas, as plain regex substitutions: the reference the faster rules must equal on any text
def _ref_rep(t):
    return re.sub(r"(\S)(\1{2,})", lambda m: f" {TK_REP} {len(m.group(2)) + 1} {m.group(1)} ", t)


def _ref_wrep(t):
    def _sub(m):
        c, cc, e = m.groups()
        return f" {TK_WREP} {len(cc.split()) + 2} {c} {e}"

    return re.sub(r"(?:\s|^)(\w+)\s+((?:\1\s+)+)\1(\s|\W|$)", _sub, t)


def _ref_all_caps(t):
    def _sub(m):
        return f"{m.group(1)}{f'{TK_UP} ' if len(m.group(2)) > 1 else ''}{m.group(2).lower()}"

    return re.sub(r"(\s|^)([A-Z]+[^a-z\s]*)(?=(\s|$))", _sub, t)


def _ref_maj(t):
    def _sub(m):
        return f"{m.group(1)}{f'{TK_MAJ} ' if len(m.group(2)) > 1 else ''}{m.group(2).lower()}"

    return re.sub(r"(\s|^)([A-Z][^A-Z\s]*)(?=(\s|$))", _sub, t)


def _random_texts(n=400, seed=0):
    rng = random.Random(seed)
    atoms = ["ah", "Ah", "AH", "I", "A", "x", "McD", "É", "éA", "!!!", "...", "zzzz", "aaa", "ah.", "ah,", "Ok!"]
    atoms += [
        "1",
        "000",
        "#39;",
        "amp;",
        "&amp;",
        "quot;",
        "nbsp;",
        "<br />",
        "\\n",
        "  ",
        "\n",
        "\t",
        "A1",
        "ÀB",
        "d'Or",
    ]
    for _ in range(n):
        yield "".join(rng.choice(atoms) + rng.choice([" ", "", " ", "\n", "  "]) for _ in range(rng.randint(1, 25)))


def _ref_fix_html(x):
    # fastai's fix_html (with the "&" of a complete entity taken, as ours), one regex per step
    debris = {"#39;": "'", "amp;": "&", "#146;": "'", "nbsp;": " ", "#36;": "$"}
    x = re.sub(r"&?(#39;|amp;|#146;|nbsp;|#36;)", lambda m: debris[m.group(1)], x)
    x = re.sub(r"&?quot;", "'", x.replace("\\n", "\n"))
    x = x.replace("<br />", "\n").replace('\\"', '"').replace("<unk>", UNK)
    x = x.replace(" @.@ ", ".").replace(" @-@ ", "-").replace("\\", " \\ ")
    return html.unescape(x)


def test_fast_rules_equal_fastai_formulas():
    for t in [*_random_texts(), "amp;#39;", "&amp;amp;", "&&amp;x", "#3#39;9;", "a&quot;quot;b", "/#\\//"]:
        assert fix_html(t) == _ref_fix_html(t), t
        assert spec_add_spaces(t) == re.sub(r"([/#\\])", r" \1 ", t), t
        assert replace_rep(t) == _ref_rep(t), t
        assert replace_wrep(t) == _ref_wrep(t), t
        assert replace_all_caps(t) == _ref_all_caps(t), t
        assert replace_maj(t) == _ref_maj(t), t
        assert rm_useless_spaces(t) == re.sub(" {2,}", " ", t)


def test_replace_caps_fused():
    # what the tokenizer runs for replace_all_caps followed by replace_maj (the default rules)
    for t in _random_texts(seed=1):
        assert replace_caps(t) == replace_maj(replace_all_caps(t)), t
    assert replace_caps("I'M Jeremy A McDonald") == f"{TK_UP} i'm {TK_MAJ} jeremy a McDonald"
