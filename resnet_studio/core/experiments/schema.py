"""The experiment file: a base preset and dataset, named arms of overrides, a number of seeds.

```json
{"schema_version": 1, "name": "degradation", "title": "...", "description": "...",
 "claim": "...", "citation": "...",
 "preset": "resnet20-cifar", "dataset": "mnist1d", "seeds": 3,
 "architecture": {"zero_init_residual": true},      # every arm (optional)
 "training": {"epochs": 8, "warmup_epochs": 1},      # every arm (optional)
 "arms": [{"name": "plain-20", "architecture": {"shortcut": "none"}},
          {"name": "residual-20", "blocks": {"stage1": {"repeat": 3}},
           "training": {"learning_rate": 0.05}}]}
```

`architecture` sets a parameter on every block whose type has it (e.g. `repeat` on every
stage, `shortcut` on every residual block); `blocks` sets parameters of named blocks;
`training` overrides the preset's training section; `insert_after` adds blocks after a named
block (`{"stage3": [{"type": "batch_norm", "name": "final_bn"}, …]}`: the final BN-ReLU a
pre-activation net needs before its pooling, which no parameter override can add). Loading is as defensive as for presets:
every problem is reported with the file and the field (`arms[1].architecture.repet: no
block of resnet20-cifar has a parameter "repet"`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from resnet_studio.core.params import Problem, _show
from resnet_studio.core.spec import (
    MAX_FILE_BYTES,
    NAME_RE,
    ArchitectureSpec,
    BlockSpec,
    SpecError,
    parse_json_text,
    spec_from_dict,
    validate,
)

SCHEMA_VERSION = 1
TOP_LEVEL_KEYS = ("schema_version", "name", "title", "description", "claim", "citation",
                  "preset", "dataset", "seeds", "architecture", "training", "arms")
ARM_KEYS = ("name", "description", "architecture", "blocks", "training", "insert_after")
MAX_ARMS = 32
MAX_SEEDS = 100


class ExperimentError(SpecError):
    """An experiment file is not acceptable (a SpecError: bad input, exit 2 on the CLI)."""


@dataclass
class Arm:
    """One arm: a name and the overrides that make it differ from the base."""

    name: str
    description: str = ""
    architecture: dict[str, Any] = field(default_factory=dict)
    blocks: dict[str, dict[str, Any]] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    # Block name -> blocks (preset-file dicts) inserted right after that block.
    insert_after: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        for key in ("architecture", "blocks", "training", "insert_after"):
            if getattr(self, key):
                out[key] = copy.deepcopy(getattr(self, key))
        return out


@dataclass
class Experiment:
    """A validated experiment (see the module docstring for the file format)."""

    name: str
    preset: str
    dataset: str
    arms: list[Arm]
    seeds: int = 1
    title: str = ""
    description: str = ""
    claim: str = ""
    citation: str = ""
    architecture: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    # The base architecture as loaded when the file was validated (a preset file named
    # relative to the experiment file is found next to it, whatever the working folder).
    base: ArchitectureSpec | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "name": self.name}
        for key in ("title", "description", "claim", "citation"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        out.update(preset=self.preset, dataset=self.dataset, seeds=self.seeds)
        if self.architecture:
            out["architecture"] = copy.deepcopy(self.architecture)
        if self.training:
            out["training"] = copy.deepcopy(self.training)
        out["arms"] = [a.to_dict() for a in self.arms]
        return out

    def base_spec(self) -> ArchitectureSpec:
        if self.base is not None:
            return self.base.copy()
        from resnet_studio.core.presets import load_preset

        return load_preset(self.preset)

    def arm_spec(self, arm: Arm, base: ArchitectureSpec | None = None) -> ArchitectureSpec:
        """The base preset with the experiment's and the arm's architecture overrides."""
        spec = (base or self.base_spec()).copy()
        apply_architecture(spec, self.architecture)
        apply_architecture(spec, arm.architecture, arm.blocks)
        insert_blocks(spec, arm.insert_after)
        spec.name = f"{self.name}-{arm.name}"[:64]
        spec.title = f"{self.title or self.name}: {arm.name}"
        return spec

    def arm_training(self, base: ArchitectureSpec, arm: Arm) -> dict[str, Any]:
        """The arm's training settings: preset < experiment < arm (before CLI overrides)."""
        return {**base.training, **self.training, **arm.training}


# --------------------------------------------------------------------------- applying
def _block_types() -> dict[str, Any]:
    from resnet_studio.core.blocks import registry

    return registry.BLOCK_TYPES


def apply_architecture(spec: ArchitectureSpec, everywhere: Mapping[str, Any],
                       named: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Sets `everywhere`'s parameters on every block whose type has them, and `named`'s on
    the named blocks (in place)."""
    types = _block_types()
    for _, block in spec.walk():
        bt = types.get(block.type)
        names = {p.name for p in bt.params} if bt is not None else set()
        updates = {k: v for k, v in everywhere.items() if k in names}
        if named and block.name in named:
            updates.update(named[block.name])
        if updates:
            block.params = {**copy.deepcopy(block.params), **copy.deepcopy(updates)}


def insert_blocks(spec: ArchitectureSpec, inserts: Mapping[str, list[Mapping[str, Any]]],
                  problems: list[Problem] | None = None, where: str = "insert_after") -> None:
    """Inserts each list of blocks right after the block of that name (in place).

    Args:
        problems: Receives what is wrong with an inserted block (`where.stage3[0].type`);
            such a block is left out.
    """
    from resnet_studio.core.spec import _parse_block

    found = problems if problems is not None else []

    def rec(blocks: list[BlockSpec]) -> None:
        i = 0
        while i < len(blocks):
            b = blocks[i]
            if b.blocks:
                rec(b.blocks)
            new = [_parse_block(copy.deepcopy(dict(d)), f"{where}.{b.name}[{k}]", 1, found)
                   for k, d in enumerate(inserts.get(b.name or "") or [])]
            new_blocks = [n for n in new if n is not None]
            blocks[i + 1:i + 1] = new_blocks
            i += 1 + len(new_blocks)

    if inserts:
        rec(spec.blocks)


def _check_inserts(spec: ArchitectureSpec, values: Any, where: str) -> list[Problem]:
    if not isinstance(values, Mapping):
        return [Problem(where, f"expected an object of block names, got {_show(values)}")]
    names = {b.name for _, b in spec.walk() if b.name}
    problems: list[Problem] = []
    for name, blocks in values.items():
        if name not in names:
            problems.append(Problem(f"{where}.{name}", f'{spec.name} has no block named '
                                                       f'"{name}" (named blocks: '
                                                       f'{", ".join(sorted(names)) or "none"})'))
        elif not isinstance(blocks, list) or not all(isinstance(b, Mapping) for b in blocks):
            problems.append(Problem(f"{where}.{name}", "expected a list of block objects, got "
                                                       f"{_show(blocks)}"))
    return problems


def _check_architecture(spec: ArchitectureSpec, values: Any, where: str) -> list[Problem]:
    if not isinstance(values, Mapping):
        return [Problem(where, f"expected an object of block parameters, got {_show(values)}")]
    types = _block_types()
    problems: list[Problem] = []
    for key, value in values.items():
        params = [bt.param(key) for _, b in spec.walk()
                  if (bt := types.get(b.type)) is not None and key in
                  {p.name for p in bt.params}]
        if not params:
            problems.append(Problem(f"{where}.{key}", f'no block of {spec.name} has a parameter '
                                                      f'"{key}"'))
            continue
        problems.extend(params[0].check(value, f"{where}.{key}"))
    return problems


def _check_blocks(spec: ArchitectureSpec, values: Any, where: str) -> list[Problem]:
    if not isinstance(values, Mapping):
        return [Problem(where, f"expected an object of block names, got {_show(values)}")]
    from resnet_studio.core.params import check_params

    types = _block_types()
    by_name = {b.name: b for _, b in spec.walk() if b.name}
    problems: list[Problem] = []
    for name, params in values.items():
        block = by_name.get(name)
        if block is None:
            known = ", ".join(sorted(by_name)) or "none"
            problems.append(Problem(f"{where}.{name}", f"{spec.name} has no block named "
                                                       f'"{name}" (named blocks: {known})'))
            continue
        bt = types.get(block.type)
        if bt is not None:
            problems.extend(check_params(bt.params, params, f"{where}.{name}"))
    return problems


# --------------------------------------------------------------------------- parsing
def _text(data: Mapping[str, Any], key: str, where: str, problems: list[Problem]) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        problems.append(Problem(f"{where}{key}", f"expected text, got {_show(value)}"))
        return ""
    return value


def experiment_from_dict(data: Any, source: str,
                         base: ArchitectureSpec | None = None) -> Experiment:
    """Validates parsed JSON; raises ExperimentError listing every problem.

    Args:
        base: The base architecture to check the arms against, instead of loading
            `preset` (a resumed experiment uses the one it saved).
    """
    from resnet_studio.core.training_config import check_training

    if not isinstance(data, Mapping):
        raise ExperimentError([Problem("", f"expected a JSON object, got {_show(data)}")], source)
    problems: list[Problem] = []
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            problems.append(Problem(str(key), "unknown field (known: "
                                              f"{', '.join(TOP_LEVEL_KEYS)})"))
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        problems.append(Problem("schema_version", f"expected {SCHEMA_VERSION}, got "
                                                  f"{_show(version)}"))
    name = data.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.append(Problem("name", "expected a name of letters, digits, - and _ "
                                        f"starting with a letter, got {_show(name)}"))
        name = "experiment"
    texts = {k: _text(data, k, "", problems) for k in ("title", "description", "claim",
                                                         "citation")}
    seeds = data.get("seeds", 1)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        problems.append(Problem("seeds", f"expected a whole number from 1 to {MAX_SEEDS}, got "
                                         f"{_show(seeds)}"))
        seeds = 1
    dataset = data.get("dataset")
    if dataset is not None and (not isinstance(dataset, str) or not dataset):
        problems.append(Problem("dataset", f"expected a dataset name, got {_show(dataset)}"))
        dataset = None
    preset = data.get("preset")
    spec: ArchitectureSpec | None = None
    if not isinstance(preset, str) or not preset:
        problems.append(Problem("preset", f"expected a preset name or file, got "
                                          f"{_show(preset)}"))
    else:
        spec = base if base is not None else _load_base(preset, source, problems)
    if dataset is None and spec is not None:
        dataset = spec.dataset
        if not dataset:
            problems.append(Problem("dataset", f"missing, and preset {preset} names none"))
    architecture = data.get("architecture", {})
    training = data.get("training", {})
    if spec is not None:
        problems.extend(_check_architecture(spec, architecture, "architecture"))
    problems.extend(check_training(training, "training"))
    arms = _parse_arms(data.get("arms"), spec, problems)
    if spec is not None and not problems:
        _check_arm_specs(spec, architecture, training, arms, problems)
    if problems:
        raise ExperimentError(problems, source)
    assert isinstance(preset, str) and isinstance(dataset, str)
    return Experiment(name=name, preset=preset, dataset=dataset, arms=arms, seeds=seeds,
                      architecture=dict(architecture), training=dict(training),
                      source=source, base=spec, **texts)


def _load_base(preset: str, source: str, problems: list[Problem]) -> ArchitectureSpec | None:
    from resnet_studio.core.presets import load_preset, preset_names

    target = preset
    if preset not in preset_names() and source and not Path(preset).is_absolute():
        sibling = Path(source).parent / preset  # a preset file next to the experiment file
        if sibling.exists():
            target = str(sibling)
    try:
        return load_preset(target)
    except SpecError as e:
        problems.append(Problem("preset", str(e)))
        return None


def _parse_arms(value: Any, spec: ArchitectureSpec | None,
                problems: list[Problem]) -> list[Arm]:
    from resnet_studio.core.training_config import check_training

    if not isinstance(value, list) or not value:
        problems.append(Problem("arms", f"expected a list of at least one arm, got "
                                        f"{_show(value)}"))
        return []
    if len(value) > MAX_ARMS:
        problems.append(Problem("arms", f"{len(value)} arms; at most {MAX_ARMS}"))
    arms: list[Arm] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        where = f"arms[{i}]"
        if not isinstance(item, Mapping):
            problems.append(Problem(where, f"expected an object, got {_show(item)}"))
            continue
        for key in item:
            if key not in ARM_KEYS:
                problems.append(Problem(f"{where}.{key}", "unknown field (known: "
                                                          f"{', '.join(ARM_KEYS)})"))
        name = item.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            problems.append(Problem(f"{where}.name", "expected a name of letters, digits, - "
                                                     f"and _, got {_show(name)}"))
            name = f"arm{i}"
        elif name in seen:
            problems.append(Problem(f"{where}.name", f'"{name}" names two arms'))
        seen.add(name)
        description = _text(item, "description", f"{where}.", problems)
        architecture = item.get("architecture", {})
        blocks = item.get("blocks", {})
        training = item.get("training", {})
        inserts = item.get("insert_after", {})
        if spec is not None:
            problems.extend(_check_architecture(spec, architecture, f"{where}.architecture"))
            problems.extend(_check_blocks(spec, blocks, f"{where}.blocks"))
            problems.extend(_check_inserts(spec, inserts, f"{where}.insert_after"))
        problems.extend(check_training(training, f"{where}.training"))
        arms.append(Arm(name, description,
                        dict(architecture) if isinstance(architecture, Mapping) else {},
                        {k: dict(v) for k, v in blocks.items() if isinstance(v, Mapping)}
                        if isinstance(blocks, Mapping) else {},
                        dict(training) if isinstance(training, Mapping) else {},
                        {k: [dict(b) for b in v] for k, v in inserts.items()
                         if isinstance(v, list) and all(isinstance(b, Mapping) for b in v)}
                        if isinstance(inserts, Mapping) else {}))
    return arms


def _check_arm_specs(spec: ArchitectureSpec, architecture: Mapping[str, Any],
                     training: Mapping[str, Any], arms: list[Arm],
                     problems: list[Problem]) -> None:
    """Each arm as a whole: its architecture, and its training settings merged over the
    preset's (e.g. step milestones of the preset that the arm's milestone unit rejects)."""
    from resnet_studio.core.training_config import check_training

    for i, arm in enumerate(arms):
        merged = {**spec.training, **training, **arm.training}
        problems.extend(check_training(merged, f"arms[{i}] ({arm.name}): training"))
        s = spec.copy()
        apply_architecture(s, architecture)
        apply_architecture(s, arm.architecture, arm.blocks)
        inserted: list[Problem] = []
        insert_blocks(s, arm.insert_after, inserted, f"arms[{i}].insert_after")
        problems.extend(inserted)
        try:
            s = spec_from_dict(s.to_dict(), f"arms[{i}]")
        except SpecError as e:
            problems.extend(Problem(f"arms[{i}] ({arm.name}): {p.location}", p.message)
                            for p in e.problems)
            continue
        problems.extend(Problem(f"arms[{i}] ({arm.name}): {p.location}", p.message)
                        for p in validate(s))


# --------------------------------------------------------------------------- files
def loads_experiment(text: str | bytes, source: str = "<experiment>") -> Experiment:
    """Parses experiment text (UTF-8 JSON, NaN/∞ refused)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ExperimentError([Problem("", f"not UTF-8 text (byte {e.start})")],
                                  source) from None
    if not text.strip():
        raise ExperimentError([Problem("", "the file is empty")], source)
    try:
        data = parse_json_text(text, source)
    except SpecError as e:
        raise ExperimentError(e.problems, source) from None
    return experiment_from_dict(data, source)


def load_experiment_file(path: str | Path) -> Experiment:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_FILE_BYTES:
            raise ExperimentError([Problem("", "file too large to be an experiment")], str(p))
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ExperimentError([Problem("", "no such file")], str(p)) from None
    except IsADirectoryError:
        raise ExperimentError([Problem("", "is a folder, not an experiment file")],
                              str(p)) from None
    except OSError as e:
        raise ExperimentError([Problem("", f"cannot read: {e.strerror or e}")],
                              str(p)) from None
    return loads_experiment(raw, str(p))


def _folder() -> Any:
    return resources.files("resnet_studio").joinpath("experiments")


def experiment_names() -> list[str]:
    """Names of the built-in experiments, sorted."""
    return sorted(p.name[:-5] for p in _folder().iterdir() if p.name.endswith(".json"))


def load_experiment(name_or_path: str) -> Experiment:
    """A built-in experiment by name, or an experiment file by path.

    Raises:
        ExperimentError: unknown name, unreadable or invalid file.
    """
    if name_or_path in experiment_names():
        text = _folder().joinpath(f"{name_or_path}.json").read_text(encoding="utf-8")
        return loads_experiment(text, f"experiment {name_or_path}")
    path = Path(name_or_path)
    if path.suffix == ".json" or path.exists() or "/" in name_or_path:
        return load_experiment_file(path)
    raise ExperimentError([Problem("", f"no experiment named {name_or_path!r} and no such file "
                                       f"(built-in: {', '.join(experiment_names())})")],
                          name_or_path)
