"""Each rule against fastai's documented examples (fastai/text/core.py), plus where we deliberately differ."""

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
