"""docs/: every page's code runs, prints what the page shows, and writes the figures it shows.

The pages are run by ``docs/build.py`` (``run_page``), the script that also writes their
output blocks and figures, so the docs and their test cannot disagree about what a page
is.  Each page runs in a fresh namespace in a temporary folder: its figures go there,
not into the repository.
"""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

_spec = importlib.util.spec_from_file_location("docs_build", DOCS / "build.py")
build = importlib.util.module_from_spec(_spec)
sys.modules["docs_build"] = build  # its dataclasses look their module up there
_spec.loader.exec_module(build)

REFRESH = "run `python docs/build.py` to refresh the page from the code"


@pytest.mark.parametrize("page", build.PAGES)
def test_page_runs_and_shows_what_it_prints(page, tmp_path):
    run = build.run_page(page, tmp_path)
    problems = build.stale_blocks(run)
    assert not problems, "\n".join(problems) + "\n" + REFRESH
    shown = build.figure_references(page)
    missing = sorted(set(shown) - {f.name for f in run.figures})
    assert not missing, f"docs/{page} shows figures its code did not write: {missing}"
    absent = [name for name in shown if not (DOCS / "figures" / name).is_file()]
    assert not absent, f"docs/{page} shows figures that are not in docs/figures: {absent}; " + REFRESH


def test_every_page_is_run_and_linked_from_the_index():
    pages = {p.name for p in DOCS.glob("*.md")}
    assert pages == set(build.PAGES)
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for page in build.PAGES[1:]:
        assert f"]({page})" in index, f"docs/README.md does not link {page}"


def test_every_figure_in_docs_is_shown_by_a_page():
    shown = {name for page in build.PAGES for name in build.figure_references(page)}
    stray = sorted(p.name for p in (DOCS / "figures").glob("*.png") if p.name not in shown)
    assert not stray, f"docs/figures holds figures no page shows: {stray}"


def test_ops_page_covers_every_op_of_the_registry_and_its_derivation():
    from motifnet.kernels.registry import OPS

    text = (DOCS / "ops.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## (\S+)\n(.*?)(?=^## |\Z)", text, re.M | re.S))
    for op in OPS:
        assert op.name in sections, f"docs/ops.md has no section '## {op.name}'"
        body = sections[op.name]
        assert op.module in body and "motifnet explain" in body
        for label in re.findall(r"\(B\d\)", op.derivation):  # every label the registry names
            assert label in body, f"docs/ops.md, {op.name}: the derivation's {label} is not mentioned"
        assert re.search(r"\(F\d\)", body), f"docs/ops.md, {op.name}: no forward formula"
    assert "adam" in sections and "(A1)-(A5)" in sections["adam"]


# ------------------------------------------------------------------- the script itself
PAGE = """Some prose.

```python
x = 2 + 2
print("x =", x)
```

```text
x = 4
```

```python
assert x > 3
```
"""


def test_parse_links_a_python_block_to_the_output_block_after_it():
    blocks = build.parse(PAGE)
    assert [b.kind for b in blocks] == ["python", "text", "python"]
    assert blocks[0].output is blocks[1] and blocks[2].output is None
    assert blocks[1].code == "x = 4\n"


def test_a_page_whose_output_changed_is_reported(tmp_path):
    run = build.run_page("sample.md", tmp_path, text=PAGE)
    assert build.stale_blocks(run) == []
    changed = build.run_page("sample.md", tmp_path, text=PAGE.replace("2 + 2", "2 + 3"))
    problems = build.stale_blocks(changed)
    assert len(problems) == 1 and "shows 4, the run printed 5" in problems[0]


def test_a_failing_block_names_the_page_and_line(tmp_path):
    with pytest.raises(RuntimeError, match=r"docs/sample.md: the python block at line 12 failed: AssertionError"):
        build.run_page("sample.md", tmp_path, text=PAGE.replace("x > 3", "x > 4"))


@pytest.mark.parametrize("shown, actual, same", [
    ("loss 0.6931 after 12 steps", "loss 0.6931 after 12 steps", True),
    ("loss 0.6931", "loss 0.70", True),                  # within 10 %
    ("loss 0.6931", "loss 0.80", False),
    ("error 3.0e-11", "error 7.2e-11", True),            # below 1e-6: rounding noise
    ("took 1.25 s, 3 ms each", "took 30.1 s, 12 ms each", True),  # durations ignored
    ("accuracy 0.98", "acc 0.98", False),                # the words must match
    ("a\nb", "a", False),
    ("x  =   [1 2]", "x = [1 2]", True),                  # runs of spaces
])
def test_compare_output(shown, actual, same):
    assert (build.compare_output(shown, actual) is None) == same
