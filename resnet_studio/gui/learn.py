"""What residual connections compute, in words and formulas: the texts of the Learn panel and
of Help → Residual Connections, in one place.

Qt-free on purpose (strings and dataclasses): `explain(block)` turns a block and its current
params (shortcut, variant, scaling, drop path) into the diagram's structure and the formula
that block computes, and `RESIDUAL_HELP_HTML` is the help page. Formulas are Unicode and
HTML (<sub>, <sup>), which QLabel and QTextBrowser render without any math library.

Sources, each stated where it is used: He, Zhang, Ren, Sun, CVPR 2016 (arXiv:1512.03385);
He, Zhang, Ren, Sun, ECCV 2016 (arXiv:1603.05027); Bachlechner et al. 2020
(arXiv:2003.04887); Touvron et al., ICCV 2021 (arXiv:2103.17239); Huang et al., ECCV 2016
(arXiv:1603.09382); Veit et al., NeurIPS 2016 (arXiv:1605.06431); Xiong et al., ICML 2020
(arXiv:2002.04745).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

from resnet_studio.core.blocks import registry
from resnet_studio.core.spec import BlockSpec

IDENTITY_GRADIENT = "∂y/∂x = I + ∂F/∂x"
EQ1 = "y = F(x, {W<sub>i</sub>}) + x"
EQ2 = "y = F(x, {W<sub>i</sub>}) + W<sub>s</sub>·x"
READY_STAGES = ("basic_block", "bottleneck_block", "residual_dense", "residual_lstm",
                "residual_gru", "transformer_encoder", "transformer_decoder")
SHORTCUT_LABELS = {"identity": "identity x", "projection": "W<sub>s</sub>·x (projection)",
                   "zero_pad": "pad(x) (option A)"}
SHORTCUT_TERMS = {"identity": "x", "projection": "W<sub>s</sub>·x", "zero_pad": "pad(x)"}


@dataclass
class Unit:
    """One residual unit as the diagram draws it, top (input) to bottom (output).

    Attributes:
        boxes: The main path F, in order.
        shortcut: identity | projection | zero_pad, or None for a plain unit.
        scale: The branch's scaling box ("× α", "× diag(λ)", "× 0.1"), if any.
        drop_path: Stochastic depth on the branch.
        post: Layers after the addition (v1's ReLU, post-norm's LayerNorm).
        label: What the unit is, when a block has several kinds (attention, feed-forward).
    """

    boxes: list[str]
    shortcut: str | None = None
    scale: str | None = None
    drop_path: bool = False
    post: list[str] = field(default_factory=list)
    label: str = ""


@dataclass
class Explanation:
    """What a block computes: its diagram's units and the formula text (HTML)."""

    type: str
    title: str
    family: str
    help: str
    units: list[Unit]
    repeat: int
    formula_html: str
    residual: bool  # has a shortcut that is switched on
    citation: str = ""


# --------------------------------------------------------------------------- formulas
def _branch_term(p: dict[str, Any]) -> str:
    scaling = p.get("scaling", "none")
    if scaling == "rezero":
        return "α·F(x)"
    if scaling == "layerscale":
        return "diag(λ)·F(x)"
    if scaling == "fixed":
        return f"{float(p.get('scale', 0.1)):g}·F(x)"
    return "F(x)"


def _scale_box(p: dict[str, Any]) -> str | None:
    scaling = p.get("scaling", "none")
    return {"rezero": "× α", "layerscale": "× diag(λ)",
            "fixed": f"× {float(p.get('scale', 0.1)):g}"}.get(scaling)


def _post(block_type: str, p: dict[str, Any]) -> str | None:
    """The function applied after the addition, if any (v1's ReLU, post-norm)."""
    v1 = p.get("variant", "v2" if block_type in ("residual_lstm", "residual_gru",
                                                  "transformer_encoder",
                                                  "transformer_decoder") else "v1") == "v1"
    if block_type in ("basic_block", "bottleneck_block"):
        return "ReLU" if v1 else None
    if block_type in ("residual_lstm", "residual_gru"):
        return "LN" if v1 and p.get("norm", True) else None
    if block_type in ("transformer_encoder", "transformer_decoder"):
        return "LN" if v1 and p.get("layer_norm", True) else None
    if block_type == "residual":
        act = p.get("activation", "none")
        return None if act == "none" else act
    return None


def _gradient_html(p: dict[str, Any], post: str | None, mode: str = "identity") -> str:
    """∂y/∂x of the unit, and what it means for the gradient."""
    scaling = p.get("scaling", "none")
    branch = {"rezero": "α·∂F/∂x", "layerscale": "diag(λ)·∂F/∂x",
              "fixed": f"{float(p.get('scale', 0.1)):g}·∂F/∂x"}.get(scaling, "∂F/∂x")
    jac = {"projection": "W<sub>s</sub>", "zero_pad": "P"}.get(mode, "I")
    rhs = f"{jac} + {branch}"
    text = IDENTITY_GRADIENT if rhs == "I + ∂F/∂x" else f"∂y/∂x = {rhs}"
    if mode == "projection":
        why = ("A projection shortcut is a learned linear map W<sub>s</sub>: the gradient "
               "still has a path that skips F, but it is no longer the identity.")
    elif mode == "zero_pad":
        why = ("P is the fixed subsample-and-pad map: the gradient of the kept channels "
               "skips F unchanged.")
    else:
        why = ("Through the identity shortcut the term I passes the gradient from y "
               "straight to x, however small ∂F/∂x is.")
    if post is None:
        return f"<p class='f'>{text}</p><p>{why}</p>"
    d = "J<sub>LN</sub>" if post == "LN" else f"diag({escape(post)}′)"
    return (f"<p class='f'>∂y/∂x = {d}·({rhs})</p><p>{why} The {escape(post)} after the "
            "addition sits on the shortcut path too: the gradient is multiplied by its "
            "derivative at every unit. The v2 variant (pre-activation; pre-norm in "
            "Transformers and RNNs) moves it into F and keeps the path a pure identity "
            "(He et al. 2016b).</p>")


def formula_html(block_type: str, p: dict[str, Any]) -> str:
    """The formula of a residual block with params `p` (defaults filled in), and the
    gradient it lets through, as HTML paragraphs."""
    mode = p.get("shortcut", "identity")
    post = _post(block_type, p)
    branch = _branch_term(p)
    if mode == "none":
        y = f"{escape(post)}(F(x))" if post else "F(x)"
        return (f"<p class='f'>y = {y}</p><p><b>Plain unit</b>: the shortcut is switched off. "
                "Then ∂y/∂x = ∂F/∂x has no identity term, and through L such units the "
                "gradient is the product of L Jacobians: it shrinks (or grows) geometrically "
                "with depth.</p>")
    parts = []
    if block_type in READY_STAGES and mode in ("projection", "zero_pad"):
        # Ready stages use `shortcut` only where a unit changes the shape (make_shortcut).
        term = SHORTCUT_TERMS[mode]
        parts.append(f"<p class='f'>y = {_wrap(post, f'{branch} + x')}</p>"
                     "<p>In a unit that changes the shape (a stage's first, with a new width "
                     f"or stride) the shortcut is {term} instead: "
                     f"<span class='f'>y = {_wrap(post, f'{branch} + {term}')}</span>. "
                     f"{_shortcut_note(mode)}</p>")
        parts.append(_gradient_html(p, post))
    else:
        term = SHORTCUT_TERMS.get(mode, "x")
        parts.append(f"<p class='f'>y = {_wrap(post, f'{branch} + {term}')}</p>")
        if mode != "identity":
            parts.append(f"<p>{_shortcut_note(mode)}</p>")
        parts.append(_gradient_html(p, post, mode))
    parts.extend(_variant_notes(p))
    return "".join(parts)


def _wrap(post: str | None, inner: str) -> str:
    return f"{escape(post)}({inner})" if post else inner


def _shortcut_note(mode: str) -> str:
    if mode == "projection":
        return ("W<sub>s</sub> is a 1×1 convolution (a dense layer for vectors) that matches "
                "the shapes — He et al. 2016, Eq. 2, option B.")
    if mode == "zero_pad":
        return ("pad(x) subsamples x and fills the new channels with zeros: no parameters "
                "(He et al. 2016, option A, used by the CIFAR ResNets).")
    return ""


def _variant_notes(p: dict[str, Any]) -> list[str]:
    notes = []
    scaling = p.get("scaling", "none")
    if scaling == "rezero":
        notes.append("<p><b>ReZero</b>: α is one learnable scalar, initialised to 0, so at "
                     "the start the unit is the identity; published ReZero also removes every "
                     "LayerNorm (Transformer blocks: layer_norm off) (Bachlechner et al. "
                     "2020).</p>")
    elif scaling == "layerscale":
        notes.append(f"<p><b>LayerScale</b>: λ is a learnable vector, one factor per channel, "
                     f"initialised to {float(p.get('scale', 0.1)):g} (Touvron et al. 2021).</p>")
    elif scaling == "fixed":
        notes.append("<p>The branch is multiplied by a constant.</p>")
    rate = float(p.get("drop_path", 0.0) or 0.0)
    if rate > 0:
        rising = (" rising linearly with depth to this value at the last unit"
                  if p.get("drop_path_rising") else "")
        notes.append(f"<p><b>Stochastic depth</b>: while training, each example's branch is "
                     f"dropped (y = x) with probability {rate:g}{rising}; the kept ones are "
                     f"divided by the survival probability, so inference uses every unit "
                     f"unchanged (Huang et al. 2016).</p>")
    return notes


# --------------------------------------------------------------------------- diagrams
def _child_title(child: BlockSpec) -> str:
    bt = registry.BLOCK_TYPES.get(child.type)
    return bt.title if bt is not None else child.type


def units_of(block: BlockSpec) -> list[Unit]:
    """The units the diagram draws for a block (one per kind of unit, not per repeat)."""
    bt = registry.get_block_type(block.type)
    p = bt.resolve(block.params)
    t = block.type
    mode = p.get("shortcut")
    shortcut = None if mode in (None, "none") else mode
    scale = _scale_box(p) if shortcut else None
    drop = bool(shortcut and float(p.get("drop_path", 0.0) or 0.0) > 0)
    post = _post(t, p)
    post_boxes = [{"LN": "LayerNorm"}.get(post, post)] if post else []
    v2 = p.get("variant") == "v2"
    if t == "basic_block":
        k = p.get("kernel_size", 3)
        conv = f"{k}×{k} conv, {p['filters']}"
        boxes = (["BN · ReLU", conv, "BN · ReLU", conv] if v2 else
                 [conv, "BN · ReLU", conv, "BN"])
    elif t == "bottleneck_block":
        f, e = p["filters"], p["expansion"]
        boxes = [f"1×1 conv, {f}", "BN · ReLU", f"3×3 conv, {f}", "BN · ReLU",
                 f"1×1 conv, {f * e}"]
        boxes = ["BN · ReLU", *boxes] if v2 else [*boxes, "BN"]
    elif t == "residual_dense":
        norm = {"layer": ["LayerNorm"], "batch": ["BatchNorm"]}.get(p["norm"], [])
        act = [] if p["activation"] == "none" else [p["activation"]]
        boxes = [*norm, f"Dense, {p['units']}", *act]
    elif t in ("residual_lstm", "residual_gru"):
        rnn = f"{'LSTM' if t == 'residual_lstm' else 'GRU'}, {p['units']}"
        boxes = (["LayerNorm"] if v2 and p["norm"] else []) + [rnn] + \
            (["Dropout"] if p["dropout"] else [])
    elif t in ("transformer_encoder", "transformer_decoder"):
        attn = "Masked multi-head attention" if t == "transformer_decoder" else \
            "Multi-head attention"
        ln = ["LayerNorm"] if v2 and p.get("layer_norm", True) else []
        dropout = ["Dropout"] if p["dropout"] else []
        ffn = [f"Dense {p['intermediate_dim']} · {p['activation']}", "Dense"]
        return [Unit([*ln, attn, *dropout], shortcut, scale, drop, post_boxes, "attention"),
                Unit([*ln, *ffn, *dropout], shortcut, scale, drop, post_boxes,
                     "feed-forward")]
    elif t == "residual":
        boxes = [_child_title(c) for c in block.blocks or []] or ["(empty)"]
    else:
        return [Unit([bt.title])]
    return [Unit(boxes, shortcut, scale, drop, post_boxes)]


def explain(block: BlockSpec) -> Explanation:
    """Everything the Learn panel shows about a block, from its type and current params."""
    bt = registry.get_block_type(block.type)
    p = bt.resolve(block.params)
    repeat = int(p.get("repeat", 1) or 1)
    units = units_of(block)
    if bt.has_shortcut:
        html = formula_html(block.type, p)
        residual = p.get("shortcut") != "none"
    else:
        html = "<p>This block has no shortcut of its own: y = f(x).</p>"
        residual = False
    return Explanation(block.type, bt.title, bt.family, bt.help, units, repeat, html,
                       residual, bt.citation)


WRAP_HINT = ("<p>To give it one, put it inside a <b>Residual container</b> (Edit → Wrap in "
             "Residual Container, Ctrl+G): y = F(x) + x.</p>")

OVERVIEW_HTML = (
    "<p>A residual block adds its input to what its layers compute:</p>"
    f"<p class='f'>{EQ1}</p>"
    "<p>so the layers learn a correction F to the identity, and the gradient has a direct "
    f"path back: <span class='f'>{IDENTITY_GRADIENT}</span>.</p>"
    "<p>Select a block to see what it computes, drawn with its shortcut, and its formula "
    "for the current settings.</p>")


# --------------------------------------------------------------------------- help page
RESIDUAL_HELP_HTML = f"""
<h2>Residual connections</h2>
<p>A residual block adds its input to what its layers compute. Instead of asking a stack of
layers to fit a mapping H(x), it lets them fit the residual F(x) = H(x) − x; if the best
thing a block can do is nothing, it only has to drive F towards 0.</p>

<h3>What a residual block computes</h3>
<p class="f">{EQ1} &nbsp;&nbsp;(He et al. 2016, Eq. 1)</p>
<p>F is the <i>residual branch</i> — in ResNet's basic block two 3×3 convolutions with batch
normalization and a ReLU between them — and x reaches the addition through the
<i>identity shortcut</i>, which has no parameters. The addition is element-wise, so F(x) must
have the shape of x. Where a block changes the shape (more channels, stride 2), a
<i>projection</i> W<sub>s</sub>, a 1×1 convolution, matches them (option B):</p>
<p class="f">{EQ2} &nbsp;&nbsp;(Eq. 2)</p>
<p>Option A instead subsamples x and pads the new channels with zeros (no parameters): the
<code>zero_pad</code> shortcut of the CIFAR ResNets.</p>

<h3>Post-activation (v1) and pre-activation (v2)</h3>
<p><b>v1</b> (He et al., CVPR 2016): conv → BN → ReLU → conv → BN, add, then ReLU:
<span class="f">y = ReLU(F(x) + x)</span>. The ReLU after the addition sits on the shortcut
path.</p>
<p><b>v2</b> (He et al., ECCV 2016, <i>Identity Mappings in Deep Residual Networks</i>):
BN → ReLU → conv → BN → ReLU → conv, then add, and nothing after it:
<span class="f">x<sub>l+1</sub> = x<sub>l</sub> + F(x<sub>l</sub>)</span>. Now the shortcut
is a pure identity from any unit to any deeper one,
<span class="f">x<sub>L</sub> = x<sub>l</sub> + Σ<sub>i=l</sub><sup>L−1</sup>
F(x<sub>i</sub>)</span>, and the authors trained a 1001-layer ResNet with it. Transformers
make the same choice: post-norm LN(x + F(x)) or pre-norm x + F(LN(x)). Xiong et al.
(ICML 2020) showed why pre-norm is easier to train: with post-norm the gradients of the
parameters near the output are large at initialisation, so it needs a learning-rate warm-up;
with pre-norm they are well-behaved and the warm-up can be dropped.</p>

<h3>Why the gradient keeps flowing</h3>
<p>For one unit with an identity shortcut the chain rule gives</p>
<p class="f">{IDENTITY_GRADIENT}</p>
<p>and across the units l … L−1 the Jacobians multiply:</p>
<p class="f">∂x<sub>L</sub>/∂x<sub>l</sub> = ∏<sub>i=l</sub><sup>L−1</sup>
(I + ∂F<sub>i</sub>/∂x<sub>i</sub>) = I + (terms that each contain at least one
∂F<sub>i</sub>/∂x<sub>i</sub>)</p>
<p>Expanded, the product contains the identity I itself: the gradient at unit L reaches
unit l unchanged, plus corrections. Small branch Jacobians make the corrections small; no
product of them can remove the I. Veit, Wilber and Belongie (NeurIPS 2016) read the same
expansion forwards (the <i>unraveled view</i>): n residual units are 2<sup>n</sup> paths
of different lengths from input to output, and a trained ResNet behaves like an ensemble of
them, most of its gradient coming from the short ones; deleting a single unit at test time
hurts little, unlike in a plain network. In a <b>plain</b> network only the product
∏ ∂F<sub>i</sub>/∂x<sub>i</sub> remains, and when its factors are small it shrinks
geometrically with depth. A sigmoid's derivative is at most ¼, so every sigmoid layer
multiplies the backward signal by at most ¼ times the norm of its weight matrix. (He et al.
2016b, Eq. 5, write it for a loss E: ∂E/∂x<sub>l</sub> = ∂E/∂x<sub>L</sub>·(1 +
∂/∂x<sub>l</sub> Σ<sub>i=l</sub><sup>L−1</sup> F(x<sub>i</sub>)).)</p>
<p>One caution from the original paper: He et al.'s deep plain networks used batch
normalization, and on ImageNet (Sec. 4.1, plain-18 against plain-34) they checked that the
forward signals keep non-zero variances and the backward gradients healthy norms: the
gradients did <i>not</i> vanish, yet the 34-layer plain network had higher training error
than the 18-layer one, an optimization difficulty they called <i>degradation</i>. On
CIFAR-10 (Sec. 4.2, Fig. 6 left) the deeper plain nets (20 to 56 layers) show the same. Without normalization, as in the sigmoid MLP
below, the gradients really do vanish, and you can watch them do it.</p>

<h3>Scaling the branch: ReZero and LayerScale</h3>
<p><b>ReZero</b> (Bachlechner et al. 2020):
<span class="f">x<sub>i+1</sub> = x<sub>i</sub> + α<sub>i</sub>·F(x<sub>i</sub>)</span>,
one learnable scalar per unit, <b>initialised to 0</b>. At initialisation every unit is the
identity, so the whole network is; α grows as training finds the branch useful. The point
of the paper is that this replaces normalization: a ReZero Transformer has <b>no
LayerNorm</b> at all, and still trains deep stacks quickly. With <code>layer_norm</code>
off on the Transformer blocks ResNet Studio builds it as published
(<b>rezero-transformer-mnist1d</b>).</p>
<p><b>LayerScale</b> (Touvron et al. 2021, CaiT):
<span class="f">x<sub>l+1</sub> = x<sub>l</sub> + diag(λ<sub>1</sub>, …, λ<sub>d</sub>)·
F(x<sub>l</sub>)</span>, a learnable factor per channel initialised to a small ε (CaiT:
0.1 up to depth 18, 10<sup>−5</sup> at depth 24, 10<sup>−6</sup> deeper).</p>
<p>In ResNet Studio every residual block has <code>scaling</code>: none, rezero, layerscale
(initial value <code>scale</code>) or fixed (multiply by <code>scale</code>).</p>

<h3>Stochastic depth</h3>
<p>Huang et al. (2016) drop whole residual branches while training: for each mini-batch,
unit l keeps its branch with survival probability p<sub>l</sub> and is otherwise reduced to
its shortcut. The survival probability falls linearly with depth,
<span class="f">p<sub>l</sub> = 1 − (l/L)(1 − p<sub>L</sub>)</span> (p<sub>L</sub> = 0.5 in
the paper), so the network trained is shorter on average. At test time every unit is kept
and its branch is scaled by its survival probability, before the ReLU of their (v1)
units: <span class="f">y = ReLU(x + p<sub>l</sub>·F(x))</span> (Huang et al. 2016).</p>
<p>ResNet Studio's <code>drop_path</code> (like most current code) drops the branch per
example and divides the kept branches by the survival probability during training instead:
the same expectation, and inference is the network unchanged.
<code>drop_path_rising</code> makes the drop rate rise linearly with depth, reaching
<code>drop_path</code> at the last unit.</p>

<h3>Try it</h3>
<ol>
<li><b>File → New from Preset → lab-sigmoid-mlp</b>: 20 dense layers with sigmoid
activations and identity shortcuts, on the 8×8 digits. <b>Train → Compare with Plain
Twin</b> (Ctrl+Shift+F5). Within a minute on a CPU the residual network's loss falls, while
the plain twin's stays near ln 10 ≈ 2.30, the loss of guessing among 10 classes; its
gradient-flow curve drops by ten orders of magnitude or more from the last layers to
the first, and a vanishing-gradient alert names the starved block.</li>
<li>On a GPU: <b>plain56-cifar</b> against <b>resnet56-cifar</b> on
<code>tfds:cifar10</code> (or resnet56-cifar against its plain twin). He et al. (Fig. 1 and
Fig. 6) found the 56-layer plain network with <i>higher training error</i> than the 20-layer
one, while ResNet-56 reaches 6.97 % test error (Table 6). The full schedule (64k
iterations, docs/recipes.md) takes hours.</li>
</ol>

<h3>References</h3>
<ul>
<li>He, Zhang, Ren, Sun. Deep Residual Learning for Image Recognition. CVPR 2016.
<a href="https://arxiv.org/abs/1512.03385">arXiv:1512.03385</a></li>
<li>He, Zhang, Ren, Sun. Identity Mappings in Deep Residual Networks. ECCV 2016.
<a href="https://arxiv.org/abs/1603.05027">arXiv:1603.05027</a></li>
<li>Bachlechner, Majumder, Mao, Cottrell, McAuley. ReZero is All You Need: Fast Convergence
at Large Depth. 2020. <a href="https://arxiv.org/abs/2003.04887">arXiv:2003.04887</a></li>
<li>Touvron, Cord, Sablayrolles, Synnaeve, Jégou. Going deeper with Image Transformers
(CaiT). ICCV 2021. <a href="https://arxiv.org/abs/2103.17239">arXiv:2103.17239</a></li>
<li>Huang, Sun, Liu, Sedra, Weinberger. Deep Networks with Stochastic Depth. ECCV 2016.
<a href="https://arxiv.org/abs/1603.09382">arXiv:1603.09382</a></li>
<li>Veit, Wilber, Belongie. Residual Networks Behave Like Ensembles of Relatively Shallow
Networks. NeurIPS 2016. <a href="https://arxiv.org/abs/1605.06431">arXiv:1605.06431</a></li>
<li>Xiong, Yang, He, Zheng, Zheng, Xing, Zhang, Lan, Wang, Liu. On Layer Normalization in the
Transformer Architecture. ICML 2020.
<a href="https://arxiv.org/abs/2002.04745">arXiv:2002.04745</a></li>
</ul>
"""

STYLE_CSS = """
.f { font-family: 'DejaVu Serif', 'Times New Roman', serif; }
p.f { margin-left: 18px; font-size: 11pt; }
h2 { margin-bottom: 4px; }
h3 { margin-top: 14px; margin-bottom: 2px; }
"""
