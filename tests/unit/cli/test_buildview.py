"""The tty view's model (cli/buildview.py) fed the events a parallel build writes: a child's
stage and the build's cached pass over it are one group, and an error names its step."""

from __future__ import annotations

from rootless_build.cli.buildview import BuildView


def step(number: int, total: int, text: str, group: str, place: int, group_total: int, stage: str = "") -> dict:
    event = {"event": "step", "number": number, "total": total, "text": text,
             "group": group, "group_step": place, "group_total": group_total}
    return {**event, "stage": stage} if stage else event


def parallel_events() -> list[tuple[float, dict]]:
    return [
        (0.0, step(1, 5, "FROM busybox AS a", "a", 1, 2)),
        (0.1, step(2, 5, "RUN work a", "a", 2, 2)),
        (0.2, step(1, 2, "FROM busybox AS b", "b", 1, 2, stage="b")),
        (0.3, step(2, 2, "RUN work b", "b", 2, 2, stage="b")),
        (0.4, {"event": "log", "data": "b says\nhel", "stage": "b"}),
        (0.5, {"event": "log", "data": "lo\n", "stage": "b"}),
        (1.0, {"event": "produced", "id": "sha256:aa"}),
        (2.0, {"event": "done", "stage": "b"}),
        (2.1, step(3, 5, "FROM busybox AS b", "b", 1, 2)),
        (2.2, step(4, 5, "RUN work b", "b", 2, 2)),
        (2.2, {"event": "cached", "id": "sha256:bb"}),
        (2.3, step(5, 5, "FROM busybox", "stage-2", 1, 1)),
    ]


def test_a_childs_stage_and_the_builds_cached_pass_are_one_group() -> None:
    view = BuildView(0.0)
    for now, event in parallel_events():
        view.feed(event, now)
    assert list(view.groups) == ["a", "b", "stage-2"]
    work_b = view.groups["b"][1]
    assert work_b.label == "[b 2/2] RUN work b"
    assert work_b.state == "done" and work_b.elapsed(9.0) == 2.0 - 0.3   # the child's time, not CACHED
    assert work_b.all_lines() == ["b says", "hello"]
    assert view.groups["a"][1].state == "done" and view.groups["a"][1].elapsed(9.0) == 1.0 - 0.1
    assert view.counts() == (4, 5)            # the last step still runs
    assert view.end(3.0, True, "") == []
    assert view.counts() == (5, 5)


def test_cached_steps_say_so() -> None:
    view = BuildView(0.0)
    view.feed(step(1, 2, "FROM busybox", "stage-0", 1, 2), 0.0)
    view.feed(step(2, 2, "RUN true", "stage-0", 2, 2), 0.1)
    view.feed({"event": "cached", "id": "sha256:cc"}, 0.1)
    assert view.groups["stage-0"][1].state == "cached"


def test_the_error_names_the_failing_step_the_rest_is_canceled() -> None:
    view = BuildView(0.0)
    view.feed(step(1, 4, "RUN sleep 30", "slow", 1, 1), 0.0)
    long_command = "RUN " + "echo x; " * 20 + "exit 3"
    view.feed(step(1, 1, long_command, "broken", 1, 1, stage="broken"), 0.1)
    view.feed({"event": "log", "data": "x\n" * 3, "stage": "broken"}, 0.2)
    error = f"Error: Dockerfile:4: {long_command[:69]}...: exit status 3"
    [failed] = view.end(1.0, False, error)
    assert failed.group == "broken" and failed.all_lines() == ["x", "x", "x"]
    assert view.groups["slow"][0].state == "canceled" and failed.state == "error"


def test_output_keeps_what_a_terminal_shows_of_a_redrawn_line() -> None:
    view = BuildView(0.0)
    view.feed(step(1, 1, "RUN wget", "stage-0", 1, 1), 0.0)
    view.feed({"event": "log", "data": "10%\r50%\r100%\ndone"}, 0.1)
    assert view.groups["stage-0"][0].all_lines() == ["100%", "done"]


def test_each_platform_has_its_groups() -> None:
    view = BuildView(0.0)
    view.section = "linux/amd64 "
    view.feed(step(1, 1, "FROM busybox", "stage-0", 1, 1), 0.0)
    view.section = "linux/arm64 "
    view.feed(step(1, 1, "FROM busybox", "stage-0", 1, 1), 0.5)
    assert list(view.groups) == ["linux/amd64 stage-0", "linux/arm64 stage-0"]
