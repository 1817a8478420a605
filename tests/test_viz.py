"""minigrad.viz: dot source, text tree and rendering of autograd graphs."""
from __future__ import annotations

import re
import shutil
import sys

import pytest

import minigrad
from minigrad import nn, viz
from minigrad.nn import functional as F


def _disc_loss():
    minigrad.manual_seed(0)
    D = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    x = minigrad.randn(5, 4)
    x.name = "x"
    logits = D(x)
    # the logits feed two ops (the loss and a penalty), so the graph has a shared node
    loss = F.binary_cross_entropy_with_logits(logits, minigrad.ones(5, 1)) + logits.pow(2).mean()
    return D, loss


def _nodes(dot):
    """{node id: label} and [(src, dst, dashed)] parsed back from to_dot's output."""
    nodes = dict(re.findall(r'^  (n\d+) \[label="((?:[^"\\]|\\.)*)"', dot, re.M))
    edges = [(a, b, bool(rest)) for a, b, rest in
             re.findall(r"^  (n\d+) -> (n\d+)( \[style=dashed[^\]]*\])?;", dot, re.M)]
    return nodes, edges


def test_dot_ops_leaves_and_edges():
    D, loss = _disc_loss()
    dot = viz.to_dot(loss, params=dict(D.named_parameters()))
    assert dot.startswith("digraph autograd {") and dot.rstrip().endswith("}")
    nodes, edges = _nodes(dot)
    labels = set(nodes.values())
    # ops: Function class names with their output shapes
    assert "Linear\\n(5, 8)" in labels and "Linear\\n(5, 1)" in labels
    assert "LeakyReLU\\n(5, 8)" in labels and "BCEWithLogits\\n(5, 1)" in labels
    # leaves: parameter names (requires grad, marked), the data by Tensor.name, a constant
    assert "0.weight\\n(8, 4)\\nrequires_grad" in labels
    assert "2.bias\\n(1,)\\nrequires_grad" in labels
    assert "x\\n(5, 4)" in labels and "const\\n(5, 1)" in labels
    # every parameter reaches the output once; constants feed in with dashed edges only
    by_label = {v: k for k, v in nodes.items()}
    dashed_srcs = {a for a, b, dashed in edges if dashed}
    assert dashed_srcs == {by_label["x\\n(5, 4)"], by_label["const\\n(5, 1)"]}
    # the output node is marked (double border) and edges go from inputs to ops
    root = [k for k in nodes if re.search(rf"^  {k} \[.*peripheries=2", dot, re.M)]
    assert len(root) == 1 and all(b != by_label["x\\n(5, 4)"] for a, b, _ in edges)
    assert not any(a == root[0] for a, b, _ in edges)  # nothing consumes the output
    # the shared Linear (5, 1) output feeds BCEWithLogits and PowConst: one node, two out-edges
    lin = by_label["Linear\\n(5, 1)"]
    assert sum(a == lin for a, b, _ in edges) == 2


def test_names_from_tensor_name_and_title():
    x = minigrad.Tensor([1.0, 2.0], requires_grad=True, name="w")
    y = (x * x).sum()
    y.name = "loss"
    dot = viz.to_dot(y, title='a "quoted" title')
    assert 'w\\n(2,)\\nrequires_grad' in dot and "loss\\nSum\\n()" in dot
    assert 'label="a \\"quoted\\" title"' in dot
    nodes, edges = _nodes(dot)
    assert len([e for e in edges if e[1] == [k for k, v in nodes.items() if v.startswith("Mul")][0]]
               ) == 2  # x * x: two edges from the same leaf


def test_text_tree():
    D, loss = _disc_loss()
    text = viz.to_text(loss, params={f"D.{k}": v for k, v in D.named_parameters()})
    lines = text.splitlines()
    assert lines[0] == "[0] Add ()"  # loss + penalty: the output first
    assert any(re.search(r"\* D\.0\.weight \(8, 4\) requires_grad$", ln) for ln in lines)
    assert any(re.search(r"- x \(5, 4\) constant$", ln) for ln in lines)
    # the shared Linear is expanded once and referenced once
    assert sum("Linear (5, 1)" in ln for ln in lines) == 2
    assert sum(ln.endswith("Linear (5, 1) ...") for ln in lines) == 1
    # indentation grows with depth
    depth = {ln.strip(): len(ln) - len(ln.lstrip(" |`-")) for ln in lines}
    assert depth["[0] Add ()"] == 0
    leaf = viz.to_text(minigrad.Tensor([1.0], requires_grad=True, name="a"))
    assert leaf == "* a (1,) requires_grad\n"


def test_gradient_penalty_graph_shares_parameter_leaves():
    from gans.penalties import gradient_penalty

    minigrad.manual_seed(0)
    D = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    gp = gradient_penalty(D, minigrad.randn(3, 4), minigrad.randn(3, 4))
    dot = viz.to_dot(gp, params=dict(D.named_parameters()))
    nodes, edges = _nodes(dot)
    labels = list(nodes.values())
    assert "LeakyReLUGrad\\n(3, 8)" in labels  # an op of the backward pass, now in the graph
    assert labels.count("0.weight\\n(8, 4)\\nrequires_grad") == 1
    w = [k for k, v in nodes.items() if v.startswith("0.weight")][0]
    assert sum(a == w for a, b, _ in edges) == 2  # used by the forward Linear and its backward


def test_freed_graph_and_deep_chain():
    x = minigrad.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(3000):  # deeper than the recursion limit
        y = y * 1.0001
    assert viz.to_text(y).count("MulConst") == 3000
    assert viz.to_dot(y).count("->") == 3000
    y.backward()
    assert "(freed by backward" in viz.to_text(y) and "MulConst (freed)" in viz.to_dot(y)


def test_rejects_non_tensor():
    with pytest.raises(TypeError, match="minigrad Tensor"):
        viz.to_dot([1.0])


def test_render_svg_and_png(tmp_path):
    pytest.importorskip("graphviz")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed")
    D, loss = _disc_loss()
    svg = viz.render(loss, tmp_path / "d_loss.svg", params=dict(D.named_parameters()))
    assert svg.read_text().lstrip().startswith(("<?xml", "<svg")) and "0.weight" in svg.read_text()
    png = viz.render(loss, tmp_path / "d_loss", format="png")
    assert png.name == "d_loss.png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="'svg' or 'png'"):
        viz.render(loss, tmp_path / "x.pdf")


def test_render_without_graphviz_package_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz -> ImportError
    x = minigrad.tensor([1.0], requires_grad=True)
    with pytest.raises(viz.GraphvizNotFound) as info:
        viz.render(x * 2, tmp_path / "g.svg")
    msg = str(info.value)
    assert "pip install graphviz" in msg and "apt-get install graphviz" in msg
    assert "to_text" in msg and isinstance(info.value, RuntimeError)


def test_render_without_dot_program_says_what_to_install(monkeypatch, tmp_path):
    graphviz = pytest.importorskip("graphviz")

    def no_dot(self, *a, **k):
        raise graphviz.ExecutableNotFound(("dot",))

    monkeypatch.setattr(graphviz.Source, "pipe", no_dot)
    x = minigrad.tensor([1.0], requires_grad=True)
    with pytest.raises(viz.GraphvizNotFound, match="apt-get install graphviz"):
        viz.render(x * 2, tmp_path / "g.svg")
