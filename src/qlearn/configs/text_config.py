"""The configuration of a token-level run (``qlearn text train`` / ``compare``), validated
once: the task, the logged data, the network, the training and the decoding settings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from qlearn.configs.fields import check_int
from qlearn.core.errors import QlearnError

TEXT_TASKS = ("graph-walk", "star-graph")
TEXT_METHODS = ("bc", "filtered-bc", "ilql", "value-guided", "best-of-n")

#: What ``None`` means for ``episodes``, ``steps`` and ``batch``, per task: graph-walk,
#: trlx's 1,000 walks; star-graph, 5,000 instances (each graph is new, so the model must
#: learn to read the prefix) and smaller minibatches of its longer sequences, so that
#: ``qlearn text compare --task star-graph --seeds 5`` takes a few minutes on 2 cores.
TASK_DEFAULTS = {
    "graph-walk": {"episodes": 1000, "steps": 400, "batch": 128},
    "star-graph": {"episodes": 5000, "steps": 500, "batch": 64},
}


@dataclass(frozen=True)
class TextConfig:
    """How to train and evaluate a method on a sequence task. Every field has a default."""

    task: str = "graph-walk"
    """The task: graph-walk (trlx's randomwalks) or star-graph (a path-star graph)."""
    nodes: int | None = None
    """graph-walk: nodes of the graph (node 0 is the goal; None: 21); star-graph: node
    labels drawn per instance (None: exactly the 1 + arms * arm_length needed)."""
    graph_seed: int = 1000
    """graph-walk: the graph's seed (trlx's default 1000); star-graph: the instances' seed."""
    arms: int | None = None
    """star-graph: arms at the fork (None: 2)."""
    arm_length: int | None = None
    """star-graph: nodes per arm (None: 3)."""
    method: str = "ilql"
    """bc, filtered-bc, ilql, value-guided or best-of-n."""
    data: str | None = None
    """A walks CSV file (``qlearn text data``); None logs trlx's random walks afresh."""
    episodes: int | None = None
    """Walks logged when no data file is given (None: the task's default, see TASK_DEFAULTS)."""
    seeds: int = 5
    """Independent networks per method; seed k uses ``seed + k``."""
    seed: int = 0
    """Seed of the first network."""
    steps: int | None = None
    """Gradient steps per network (None: the task's default)."""
    batch: int | None = None
    """Walks per minibatch (None: the task's default)."""
    lr: float = 1e-3
    """Adam learning rate."""
    width: int = 64
    """Transformer width."""
    depth: int = 2
    """Transformer blocks."""
    heads: int = 4
    """Attention heads."""
    top_percent: float = 30.0
    """filtered-bc: the share of walks, best scores first, it clones."""
    tau: float = 0.8
    """ILQL: expectile of V."""
    gamma: float = 0.99
    """ILQL: discount per token."""
    cql_scale: float = 0.1
    """ILQL: weight of the CQL term."""
    awac_scale: float = 1.0
    """ILQL: weight of the AWAC (behaviour-cloning) term."""
    polyak: float = 0.1
    """ILQL: target heads move this far towards the Q heads ..."""
    target_every: int = 5
    """ILQL: ... every this many steps."""
    samples: int = 32
    """Answers per evaluation prompt and setting."""
    betas: tuple[float, ...] = (0.0, 1.0, 100.0)
    """ILQL decoding: advantage weights."""
    top_k: int = 10
    """ILQL decoding: tokens kept."""
    lambdas: tuple[float, ...] = (10.0,)
    """Value-guided tokenwise decoding: weights of V."""
    etas: tuple[float, ...] = (0.1,)
    """Q#-style reweighting: temperatures."""
    blocks: tuple[int, ...] = (4, 3)
    """Blockwise value-guided decoding: K candidates, M tokens per block."""
    best_of: tuple[int, ...] = (1, 4, 16, 64)
    """Best-of-n: candidate counts."""
    pool: int = 128
    """Best-of-n: BC samples per prompt the candidates are drawn from."""

    def __post_init__(self) -> None:
        if self.task not in TEXT_TASKS:
            raise QlearnError(f"unknown task {self.task!r}; choose one of: {', '.join(TEXT_TASKS)}")
        for name, value in TASK_DEFAULTS[self.task].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)  # resolved once, here
        if self.method not in TEXT_METHODS:
            raise QlearnError(
                f"unknown method {self.method!r}; choose one of: {', '.join(TEXT_METHODS)}"
            )
        for name, low in (("episodes", 1), ("seeds", 1), ("steps", 1),
                          ("batch", 1), ("width", 4), ("depth", 1), ("heads", 1),
                          ("target_every", 1), ("samples", 1), ("top_k", 1),
                          ("pool", 1)):  # fmt: skip
            check_int(
                getattr(self, name),
                f"--{name.replace('_', '-')}",
                low,
                "see `qlearn text train --help`",
            )
        for name, low in (("nodes", 3), ("arms", 2), ("arm_length", 1)):
            if getattr(self, name) is not None:
                check_int(getattr(self, name), f"--{name.replace('_', '-')}", low,
                          "see `qlearn text train --help`")  # fmt: skip
        if self.task == "graph-walk" and (self.arms, self.arm_length) != (None, None):
            raise QlearnError("--arms and --arm-length apply to star-graph only")
        check_int(self.seed, "--seed", 0, "e.g. --seed 0")
        check_int(self.graph_seed, "--graph-seed", 0, "e.g. --graph-seed 1000")
        if self.width % self.heads:
            raise QlearnError(f"--width {self.width} must be a multiple of --heads {self.heads}")
        _in_range("lr", self.lr, 0.0, 1.0, open_low=True)
        _in_range("top_percent", self.top_percent, 0.0, 100.0, open_low=True)
        _in_range("tau", self.tau, 0.0, 1.0, open_low=True, open_high=True)
        _in_range("gamma", self.gamma, 0.0, 1.0)
        _in_range("polyak", self.polyak, 0.0, 1.0, open_low=True)
        for name in ("cql_scale", "awac_scale"):
            _in_range(name, getattr(self, name), 0.0, float("inf"))
        for beta in self.betas:
            if not beta >= 0:
                raise QlearnError(f"--beta must be 0 or more, got {beta:g}; e.g. --beta 0,1,100")
        for lam in self.lambdas:
            if not lam >= 0:
                raise QlearnError(f"--lambda must be 0 or more, got {lam:g}")
        for eta in self.etas:
            if not eta > 0:
                raise QlearnError(f"--eta must be above 0, got {eta:g}")
        if len(self.blocks) != 2 or min(self.blocks) < 1:
            raise QlearnError(f"--blocks must be K,M with both at least 1, got {self.blocks}")
        if not self.best_of or min(self.best_of) < 1:
            raise QlearnError(
                f"--best-of needs counts of at least 1, e.g. 1,4,16; got {self.best_of}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain YAML-ready values (tuples as lists)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    def replace(self, **changes: Any) -> TextConfig:
        return dataclasses.replace(self, **changes)


def _in_range(name: str, value: float, low: float, high: float, open_low: bool = False,
              open_high: bool = False) -> None:  # fmt: skip
    flag = f"--{name.replace('_', '-')}"
    below = value <= low if open_low else value < low
    above = value >= high if open_high else value > high
    if not isinstance(value, int | float) or value != value or below or above:
        lo, hi = ("(" if open_low else "["), (")" if open_high else "]")
        raise QlearnError(f"{flag} must be in {lo}{low:g}, {high:g}{hi}, got {value}")


def text_config_from(data: dict[str, Any]) -> TextConfig:
    """A config from a mapping (a run folder's config.yaml): unknown keys refused, lists
    turned back into tuples."""
    known = {f.name for f in dataclasses.fields(TextConfig)}
    extra = sorted(set(data) - known - {"kind", "qlearn_version"})
    if extra:
        raise QlearnError(f"unknown text option {extra[0]!r} in the run's config.yaml")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
    try:
        return TextConfig(**values)
    except TypeError as exc:
        raise QlearnError(f"the run's config.yaml is damaged: {exc}") from None
