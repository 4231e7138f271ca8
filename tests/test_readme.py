"""The README's generated numbers match the committed results they are generated from."""

from __future__ import annotations

import importlib.util
from pathlib import Path

TOOL = Path(__file__).parent.parent / "tools" / "readme_numbers.py"


def _tool():
    spec = importlib.util.spec_from_file_location("readme_numbers", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_blocks_are_generated_from_the_committed_results():
    tool = _tool()
    text = tool.README.read_text()
    assert tool.render(text) == text, "README.md is stale: run python tools/readme_numbers.py"


def test_a_number_edited_by_hand_is_caught_and_restored():
    tool = _tool()
    text = tool.README.read_text()
    block = tool.study_summary()
    assert block in text
    stale = text.replace(block, block.replace("| supported |", "| not supported |", 1))
    assert stale != text and tool.render(stale) == text
    assert tool.main(["--check"]) == 0


def test_every_transcript_on_the_pages_is_the_recorded_session_of_todays_command():
    # The pages' command-line sessions are docs/transcripts.json's, and each recorded command is
    # the one tools/transcripts.py runs now: a command changed there without a rerun is caught.
    import json

    spec = importlib.util.spec_from_file_location("transcripts", TOOL.parent / "transcripts.py")
    sessions_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sessions_tool)
    recorded = json.loads(sessions_tool.OUT.read_text())["sessions"]
    assert set(recorded) == set(sessions_tool.SESSIONS)
    for name, command in sessions_tool.SESSIONS.items():
        assert recorded[name]["command"] == command, name
        assert recorded[name]["output"].strip(), name
    tool = _tool()
    shown = {name for blocks in tool.DOCS_BLOCKS.values() for name in blocks}
    assert {f"transcript-{n}" for n in sessions_tool.SESSIONS} <= shown
    # The two refused commands exit 2 with one line on stderr; the others succeed.
    for name, t in recorded.items():
        refused = name in ("bad-depth", "too-big")
        assert t["exit"] == (2 if refused else 0), name
        if refused:
            assert len(t["output"].strip().splitlines()) == 1, name


def test_the_prose_beside_a_session_reads_the_right_columns():
    # The readings are written from the recorded tables: a column read off by one would give
    # numbers that are on the page but not true. Each check is what the session printed.
    tool = _tool()
    cells = tool._sweep_cells("sweep-depth")
    assert len(cells) == 12 and {c["activation"] for c in cells} == {"sigmoid", "tanh", "relu",
                                                                     "gelu"}  # fmt: skip
    assert all(c["theory"] == 1.0 for c in cells if c["activation"] == "relu")  # sqrt(2/2)
    assert all(c["min"] <= c["mean"] <= c["max"] for c in cells if c["std"] == c["std"])
    sigma = tool._sweep_cells("sweep-sigma-w2")
    relu = [c for c in sigma if c["activation"] == "relu"]
    assert [c["theory"] for c in relu] == [round((c["sigma_w2"] / 2) ** 0.5, 4) for c in relu]
    assert "between 5 and 10 layers" in tool.sweep_training_reading()
