"""The docs cannot rot: every ```python block in README.md and docs/*.md runs, and every block
quoting the source still matches it.

Fence info strings:
    ```python                    executed; a file's blocks run in order in one namespace, in a
                                 temporary working directory (so files they write go there)
    ```python no-run             not executed: keep these rare (a minutes-long training run, an
                                 optional system program) and say why in the text around them
    ```python quote=gans/x.py    an excerpt of that file: each line must be a line of the file
                                 (leading/trailing spaces aside), consecutive lines consecutive
                                 there too; a line "..." stands for lines left out
Any other info string starting with "python" is an error, so a typo cannot silently skip a block.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```(\S*)[ \t]*(.*?)\s*$")


def blocks(path: Path):
    """[(kind, arg, first line number of the code, code)] of the fenced python blocks."""
    out, lines, i = [], path.read_text().splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m.group(1):
            i += 1
            continue
        lang, info, start = m.group(1), m.group(2), i + 1
        j = start
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        if j == len(lines):
            raise AssertionError(f"{path.name}:{i + 1}: unclosed code fence")
        if lang == "python":
            if info == "":
                kind, arg = "run", None
            elif info == "no-run":
                kind, arg = "no-run", None
            elif info.startswith("quote="):
                kind, arg = "quote", info[len("quote="):]
            else:
                raise AssertionError(f"{path.name}:{i + 1}: unknown python fence info {info!r} "
                                     "(use no-run or quote=PATH)")
            out.append((kind, arg, start + 1, "\n".join(lines[start:j])))
        elif lang.startswith("python") or lang in ("py", "py3", "pycon"):
            raise AssertionError(f"{path.name}:{i + 1}: write ```python (got ```{lang})")
        i = j + 1
    return out


def _ids(paths):
    return [p.relative_to(ROOT).as_posix() for p in paths]


@pytest.mark.parametrize("path", DOCS, ids=_ids(DOCS))
def test_python_blocks_run(path, tmp_path, monkeypatch):
    runnable = [b for b in blocks(path) if b[0] == "run"]
    if not runnable:
        pytest.skip(f"{path.name} has no python block to run")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    namespace = {"__name__": f"docs_{path.stem}"}
    t0 = time.perf_counter()
    for _, _, line, code in runnable:
        # Padding with newlines makes tracebacks point at the Markdown file's own line numbers.
        # dont_inherit: the docs' code runs without this file's `from __future__` imports.
        compiled = compile("\n" * (line - 1) + code, str(path), "exec", dont_inherit=True)
        exec(compiled, namespace)
    elapsed = time.perf_counter() - t0
    # The docs are read more often than they run: they must stay quick to execute.
    assert elapsed < 60, f"{path.name}: its code took {elapsed:.1f} s; keep docs examples small"


QUOTES = [(p, line, arg, code) for p in DOCS for kind, arg, line, code in blocks(p)
          if kind == "quote"]


@pytest.mark.parametrize("path,line,source,code", QUOTES,
                         ids=[f"{p.name}:{line}" for p, line, _, _ in QUOTES])
def test_quoted_source_lines_exist(path, line, source, code):
    src_path = ROOT / source
    assert src_path.is_file(), f"{path.name}:{line}: quotes {source}, which does not exist"
    # Runs of spaces count as one (a realigned comment is not a change of the code).
    src = [" ".join(s.split()) for s in src_path.read_text().splitlines()]
    pos, contiguous = 0, False
    for k, raw in enumerate(code.splitlines()):
        want = " ".join(raw.split())
        if not want:
            contiguous = False
            continue
        if want == "...":
            contiguous = False
            continue
        if contiguous:
            ok = pos < len(src) and src[pos] == want
        else:
            try:
                pos = src.index(want, pos)
                ok = True
            except ValueError:
                ok = False
        assert ok, (f"{path.name}:{line + k}: this line is no longer in {source} "
                    f"(where the excerpt expects it): {want!r}. Update the docs.")
        pos += 1
        contiguous = True


def test_docs_exist_and_quote_the_gan_files():
    names = {p.name for p in DOCS}
    assert {"01_autodiff.md", "02_gans.md"} <= names
    quoted = {arg for p in DOCS for kind, arg, _, _ in blocks(p) if kind == "quote"}
    for f in ("gans/vanilla.py", "gans/wgan.py", "gans/wgan_gp.py"):
        assert f in quoted, f"docs/02_gans.md should quote {f}"


def test_no_run_blocks_stay_rare():
    skipped = [(p.name, line) for p in DOCS for kind, _, line, _ in blocks(p) if kind == "no-run"]
    assert len(skipped) <= 3, f"too many no-run blocks: {skipped}"


def test_fence_parser(tmp_path):
    import textwrap

    p = tmp_path / "probe.md"
    p.write_text(textwrap.dedent("""\
        text
        ```python
        a = 1
        ```
        ```bash
        echo hi
        ```
        ```python no-run
        train_for_hours()
        ```
        ```python quote=gans/vanilla.py
        ...
        ```
        """))
    got = blocks(p)
    assert [(k, a, ln) for k, a, ln, _ in got] == [("run", None, 3), ("no-run", None, 9),
                                                   ("quote", "gans/vanilla.py", 12)]
    p.write_text("```python norun\nx\n```\n")
    with pytest.raises(AssertionError, match="unknown python fence"):
        blocks(p)
