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
