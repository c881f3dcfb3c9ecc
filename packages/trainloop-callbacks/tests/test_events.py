"""The loop's structure is derived from the order of `Event`: brackets, nesting depth, batch-level events."""

from pathlib import Path

from trainloop_callbacks.loop.core import default_loop_picture
from trainloop_callbacks.loop.events import (
    BATCH_EVENTS,
    BRACKETS,
    LAYOUT,
    CancelBatchException,
    CancelValidException,
    Event,
    render_loop,
)


def test_brackets_read_off_the_enum():
    assert set(BRACKETS) == {"fit", "epoch", "train", "validate", "batch", "backward", "step"}
    assert BRACKETS["validate"] == ("before_validate", "after_cancel_validate", "after_validate", CancelValidException)
    assert BRACKETS["batch"].exc is CancelBatchException
    for name, b in BRACKETS.items():
        assert Event(b.before) and Event(b.cancelled) and Event(b.after), name


def test_layout_depths():
    depth = {e.value: d for e, d in LAYOUT}
    assert [e for e, _ in LAYOUT] == list(Event)
    assert (depth["before_fit"], depth["after_fit"], depth["after_cancel_fit"]) == (0, 0, 0)
    assert depth["before_epoch"] == 1 and depth["before_validate"] == 2
    assert depth["before_batch"] == 3 and depth["after_batch"] == 3
    assert depth["after_pred"] == 4 and depth["after_cancel_step"] == 4


def test_batch_events_are_the_batch_bracket():
    assert BATCH_EVENTS == {
        "before_batch", "after_pred", "after_loss", "before_backward", "after_cancel_backward", "after_backward",
        "before_step", "after_cancel_step", "after_step", "after_cancel_batch", "after_batch",
    }  # fmt: skip


def test_render_loop_lists_every_event_in_order_with_handlers():
    out = render_loop(lambda e: ["X"] if e == "after_loss" else [])
    lines = [ln for ln in out.splitlines() if not ln.lstrip().startswith("#")]
    assert [ln.split(":")[0].strip() for ln in lines] == [e.value for e in Event]
    assert "after_loss" in next(ln for ln in lines if ln.endswith("[X]"))


def test_readme_shows_the_loop_picture():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    start = readme.index("<!-- loop-picture")
    block = readme[readme.index("```text\n", start) + len("```text\n") :]
    block = block[: block.index("\n```")]
    assert block == default_loop_picture(), "regenerate the README block with default_loop_picture()"
    assert "after_loss            : [FiniteLossCheck]" in block  # the picture names the default callbacks
