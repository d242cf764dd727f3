"""`ProgressReporter`: a line redrawn on a terminal, plain lines in a log."""

from __future__ import annotations

import io
from itertools import pairwise

from fastapi_issues.progress import ProgressReporter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_a_line_every_interval_and_a_last_line_per_kind() -> None:
    log, clock = io.StringIO(), FakeClock()
    progress = ProgressReporter(log, interval=5.0, clock=clock)
    progress("issues", 0, 3000)
    for done in (1000, 2000):  # within 5 s of the first line: not written
        clock.now += 2
        progress("issues", done, 3000)
    clock.now += 2  # 6 s after the first line
    progress("issues", 2500, 3000)
    clock.now += 2
    progress("issues", 3000, 3000)  # done: its last line comes when the kind changes
    progress("comments", 40, None)
    clock.now += 1
    progress.close()
    assert log.getvalue().splitlines() == [
        "issues: 0/3,000 (0%)",
        "issues: 2,500/3,000 (83%), 417/s",
        "issues: 3,000/3,000 (100%) in 8.0 s, 375/s",
        "comments: 40",
        "comments: 40 in 1.0 s, 40/s",
    ]
    assert "\r" not in log.getvalue()


def test_a_terminal_gets_one_line_redrawn_in_place() -> None:
    terminal, clock = FakeTerminal(), FakeClock()
    progress = ProgressReporter(terminal, clock=clock)  # isatty() decides
    progress("issues", 0, 1_000_000)
    clock.now += 0.05  # too soon to redraw
    progress("issues", 500, 1_000_000)
    clock.now += 0.06
    progress("issues", 1100, 1_000_000)
    clock.now += 9.89
    progress("issues", 1_000_000, 1_000_000)
    progress.close()
    output = terminal.getvalue()
    assert output.endswith("\n")
    assert output.count("\n") == 1
    draws = output.removesuffix("\n").split("\r")[1:]
    assert [draw.rstrip() for draw in draws] == [
        "issues: 0/1,000,000 (0%)",
        "issues: 1,100/1,000,000 (0%), 10,000/s",
        "issues: 1,000,000/1,000,000 (100%), 100,000/s",
        "issues: 1,000,000/1,000,000 (100%) in 10.0 s, 100,000/s",
    ]
    # Each draw covers the one before, however long that was.
    assert all(len(later) >= len(earlier.rstrip()) for earlier, later in pairwise(draws))


def test_each_kind_of_record_gets_its_own_terminal_line() -> None:
    terminal, clock = FakeTerminal(), FakeClock()
    progress = ProgressReporter(terminal, clock=clock)
    progress("labels", 2, 2)
    progress("issues", 0, 10)
    clock.now += 1
    progress("issues", 10, 10)
    progress.close()
    lines = [line.split("\r")[-1].rstrip() for line in terminal.getvalue().split("\n")[:-1]]
    assert lines == ["labels: 2/2 (100%) in 0.0 s", "issues: 10/10 (100%) in 1.0 s, 10/s"]


def test_clear_blanks_the_terminal_line_and_the_next_call_redraws_it() -> None:
    terminal, clock = FakeTerminal(), FakeClock()
    progress = ProgressReporter(terminal, clock=clock)
    progress("revisions", 0, 2)
    progress.clear()
    assert terminal.getvalue() == "\rrevisions: 0/2 (0%)" + "\r" + " " * 19 + "\r"
    terminal.write("applied issues_0002\n")
    progress("revisions", 1, 2)  # at once, though no time passed
    assert terminal.getvalue().endswith("applied issues_0002\n\rrevisions: 1/2 (50%)")


def test_clear_writes_nothing_to_a_log() -> None:
    log = io.StringIO()
    progress = ProgressReporter(log)
    progress("revisions", 0, 1)
    progress.clear()
    assert log.getvalue() == "revisions: 0/1 (0%)\n"


def test_a_stream_without_isatty_is_a_log() -> None:
    class Bare:
        def __init__(self) -> None:
            self.text = ""

        def write(self, text: str) -> int:
            self.text += text
            return len(text)

        def flush(self) -> None:
            pass

    bare = Bare()
    progress = ProgressReporter(bare)  # type: ignore[arg-type]
    progress("users", 1, 1)
    progress.close()
    assert bare.text.startswith("users: 1/1 (100%) in ")
    assert "\r" not in bare.text
