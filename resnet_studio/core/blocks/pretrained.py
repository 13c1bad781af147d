"""A pretrained keras-hub backbone as one block: `pretrained_backbone`.

`preset` is a keras-hub preset handle (`bert_tiny_en_uncased`, `resnet_18_imagenet`, …;
downloaded by keras-hub when online) or a local preset folder (made by `save_to_preset`;
works offline). The backbone's own layers stay visible: the summary lists them, the gradient
plots show one curve per backbone layer (monitored.layer_groups expands nested models) and
the lesion and landscape tools see the same weights as ours.

Text backbones (those whose inputs are `token_ids`, `segment_ids`, `padding_mask`) read our
token ids: segment ids 0 through the first `[SEP]` and 1 after it, the padding mask `id != 0`; the
preset's tokenizer becomes the dataset's (see `preset_tokenizer`). Image backbones
(keras-hub's `ResNetBackbone`, …) read our images: grey ones repeated to the backbone's 3
channels and resized to the size the backbone was saved for, if it was saved for one
(`ImageBackboneInput`); pixel values pass as our data standardized them.

How weights arrive: the editor's summary declares the backbone's variables without loading
anything (`load_weights=False` under the builder's stateless scope); `build_model` then loads
the preset's weights once the variables exist (`BuildContext.after_allocate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnet_studio.core.blocks.context import BuildContext
from resnet_studio.core.blocks.registry import register
from resnet_studio.core.params import Param

if TYPE_CHECKING:  # annotations only: the spec module imports the registry
    from resnet_studio.core.spec import BlockSpec

HUB_CITATION = "keras-hub pretrained backbones (the citation of each model is on its preset page)"
TEXT_INPUTS = ("token_ids", "padding_mask")
# keras-hub fetches handles from Kaggle or Hugging Face; probed first so that an offline
# machine hears "no network" within seconds instead of after minutes of retries.
HUB_HOSTS = ["www.kaggle.com", "huggingface.co"]
# A preset folder copied into a run (core/runs/backbones.py) holds no weights: the run's
# checkpoint brings them, so building from it loads none.
RUN_COPY_MARKER = "run_copy.json"


class PresetError(ValueError):
    """A backbone preset cannot be found or read; the message says how to fix it."""


def is_local(preset: str) -> bool:
    """True when `preset` names a folder on disk (else it is a keras-hub handle)."""
    return Path(preset).expanduser().is_dir()


def check_preset(preset: str) -> str:
    """Returns `preset` (a local folder made absolute); refuses what cannot load.

    Raises:
        PresetError: empty name, a folder without config.json, or a handle with no network.
    """
    if not isinstance(preset, str) or not preset.strip():
        raise PresetError("pretrained_backbone: expected a keras-hub preset handle or a preset "
                          "folder in 'preset', received an empty value")
    path = Path(preset).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise PresetError(f"pretrained_backbone: {path} has no config.json; expected a "
                              f"folder written by keras-hub's save_to_preset")
        return str(path.resolve())
    if any(sep in preset for sep in ("/", "\\")) and not preset.startswith(("kaggle:", "hf:")):
        raise PresetError(f"pretrained_backbone: no preset folder {preset}")
    from resnet_studio.core.network import network_available

    if not network_available(HUB_HOSTS):
        raise PresetError(f"pretrained_backbone: {preset!r} is a keras-hub handle, which needs "
                          f"a download, and there is no network. Use a local preset folder "
                          f"(save_to_preset) or connect and try again")
    return preset


def _special_ids(preset: str) -> tuple[int, int]:
    """([PAD], [SEP]) ids of a preset's WordPiece vocabulary (BERT's 0 and 102 otherwise)."""
    path = Path(preset) / "assets" / "tokenizer" / "vocabulary.txt"
    if path.is_file():
        vocab = path.read_text(encoding="utf-8").split("\n")
        if "[PAD]" in vocab and "[SEP]" in vocab:
            return vocab.index("[PAD]"), vocab.index("[SEP]")
    return 0, 102


def _unfreeze_top(backbone: Any, top: int) -> None:
    """Leaves only the last `top` transformer layers (and what follows them) trainable."""
    layers = [layer for layer in backbone.layers if layer.weights]
    blocks = [i for i, layer in enumerate(layers) if "transformer_layer" in layer.name]
    first = blocks[-top] if blocks and top <= len(blocks) else len(layers) - top
    for i, layer in enumerate(layers):
        layer.trainable = i >= max(first, 0)


def _image_adapter(ctx: BuildContext, x: Any, wanted: Any) -> Any:
    """Our images as an image backbone reads them (`ImageBackboneInput`): 1 channel repeated
    to 3, resized to the size the backbone was saved for (kept when it takes any size)."""
    from resnet_studio.core.blocks.layers import ImageBackboneInput

    if isinstance(wanted, dict) or len(x.shape) != 4:
        raise ctx.error(f"this backbone reads {_describe(wanted)}, but its input is "
                        f"{tuple(x.shape)}")
    channels, size = wanted.shape[-1], tuple(wanted.shape[1:3])
    have = x.shape[-1]
    if channels and have != channels and have != 1:
        raise ctx.error(f"this backbone reads images with {channels} channels; the input has "
                        f"{have} (grey images are repeated to {channels}, nothing else is "
                        f"converted)")
    fixed = size if all(size) else None
    if (channels and have != channels) or (fixed and tuple(x.shape[1:3]) != fixed):
        return ctx.add(ImageBackboneInput(channels or have, fixed, name=ctx.name("to_rgb")))(x)
    return x


def _describe(inputs: Any) -> str:
    if isinstance(inputs, dict):
        return "inputs " + ", ".join(sorted(inputs))
    return f"images {tuple(inputs.shape[1:])}"


@register("pretrained_backbone", family="Layers", title="Pretrained backbone (keras-hub)",
          help="A keras-hub backbone with its pretrained weights, from a preset handle "
               "(downloaded when online) or a local preset folder (offline). Text backbones "
               "bring their tokenizer.",
          params=(Param("preset", "str", "", "keras-hub preset handle or preset folder."),
                  Param("trainable", "bool", True, "Fine-tune the backbone (off: frozen)."),
                  Param("unfreeze_top", "int", 0, "When fine-tuning: train only the top N "
                        "layers; 0 = all.", minimum=0, maximum=1000),
                  Param("output", "choice", "pooled", "Text backbones: the pooled [CLS] "
                        "vector or the whole sequence.", choices=("pooled", "sequence"))),
          citation=HUB_CITATION, key_params=("preset", "trainable"))
def build_pretrained_backbone(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec
                              ) -> Any:
    import keras_hub

    from resnet_studio.core.blocks.layers import TextBackboneInput

    try:
        preset = check_preset(p["preset"])
        # Named after the block, like every layer of ours (gradient plots group by name).
        backbone = keras_hub.models.Backbone.from_preset(preset, load_weights=False,
                                                         name=ctx.name("backbone"))
    except PresetError as e:
        raise ctx.error(str(e).removeprefix("pretrained_backbone: ")) from None
    except (ValueError, OSError) as e:
        raise ctx.error(f"cannot load preset {p['preset']!r}: {e}") from None
    ctx.add(backbone)
    if not p["trainable"]:
        backbone.trainable = False
    elif p["unfreeze_top"]:
        _unfreeze_top(backbone, p["unfreeze_top"])
    inputs = backbone.input
    if isinstance(inputs, dict) and all(k in inputs for k in TEXT_INPUTS):
        if len(x.shape) != 2 or "int" not in str(x.dtype):
            raise ctx.error(f"this is a text backbone: it reads token ids (batch, time), but "
                            f"its input is {tuple(x.shape)} {x.dtype}")
        pad, sep = _special_ids(preset)
        out = backbone({k: ctx.add(TextBackboneInput(k, pad, sep, name=ctx.name(k)))(x)
                        for k in inputs})
    else:
        out = backbone(_image_adapter(ctx, x, backbone.input))
    if isinstance(out, dict):
        key = "pooled_output" if p["output"] == "pooled" and "pooled_output" in out else (
            "sequence_output")
        out = out[key]

    def load_pretrained() -> None:
        if is_local(preset) and (Path(preset) / RUN_COPY_MARKER).is_file():
            return  # a run's copy: the caller loads the run's checkpoint next
        # A second copy with the preset's weights, copied in by position: same class, same
        # config, so the same variables in the same order.
        loaded = keras_hub.models.Backbone.from_preset(preset)
        backbone.set_weights(loaded.get_weights())

    ctx.after_allocate.append(load_pretrained)
    return out


def describe_backbone(params: dict[str, Any], state: Any = None) -> dict[str, Any]:
    """What is inside a `pretrained_backbone` block, for a read-only view: its layers (and
    their sublayers) with output shapes, parameter counts and whether the block's settings
    train them. A job function (`state`: core.jobs.JobState, unused): nothing is loaded but
    the preset's config, so it takes a second or two, never the weights.

    Returns:
        {"preset", "class", "total", "trainable", "rows": [{"name", "type", "shape",
        "params", "trainable", "depth"}]}, top-level layers at depth 0, their sublayers
        at depth 1.

    Raises:
        PresetError: the preset cannot be found or read.
    """
    import keras_hub

    preset = check_preset(str(params.get("preset", "")))
    try:
        backbone = keras_hub.models.Backbone.from_preset(preset, load_weights=False)
    except (ValueError, OSError) as e:
        raise PresetError(f"pretrained_backbone: cannot load preset {preset!r}: {e}") from None
    if not params.get("trainable", True):
        backbone.trainable = False
    elif params.get("unfreeze_top", 0):
        _unfreeze_top(backbone, int(params["unfreeze_top"]))

    def shape_of(layer: Any) -> str:
        try:
            out = layer.output
        except (AttributeError, ValueError):  # a sublayer called inside another: no node
            return ""
        shapes = [o.shape for o in (out.values() if isinstance(out, dict) else
                                    out if isinstance(out, (list, tuple)) else [out])]
        return ", ".join(str(tuple(s)).replace("None", "?") for s in shapes)

    def row(layer: Any, depth: int) -> dict[str, Any]:
        return {"name": layer.name, "type": type(layer).__name__, "shape": shape_of(layer),
                "params": int(layer.count_params()) if layer.built else 0,
                "trainable": bool(layer.trainable and layer.trainable_weights), "depth": depth}

    rows = []
    for layer in backbone.layers:
        rows.append(row(layer, 0))
        # Keras has no public list of a layer's own sublayers; this is the one it uses.
        children = getattr(layer, "_flatten_layers", None)
        for child in children(include_self=False, recursive=False) if children else []:
            if child.weights:
                rows.append(row(child, 1))
    trainable = sum(int(keras_count(w)) for w in backbone.trainable_weights)
    return {"preset": preset, "class": type(backbone).__name__,
            "total": int(backbone.count_params()), "trainable": trainable, "rows": rows}


def keras_count(variable: Any) -> int:
    """Number of values in a variable."""
    n = 1
    for d in variable.shape:
        n *= int(d)
    return n
