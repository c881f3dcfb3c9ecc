from apps_text import fix_html


def test_fix_html_unescapes_and_breaks_lines():
    assert fix_html("Great&amp;fun<br /><br />Loved  it &quot;a lot&quot;") == 'Great&fun\n\nLoved it "a lot"'
    assert fix_html("1 @.@ 5 and well @-@ known\\n") == "1.5 and well-known\n"
