"""Property tests at the input edges: map text, training configs, and `qlearn train` flags.

Whatever is thrown at them, only two things may come out: a clean ``QlearnError`` (a
``ValueError`` with a one-line message) or a valid object (a world whose transition
rows are distributions, a config whose fields are in range).

Bugs these tests found (and that are now fixed) keep a plain regression test each at
the end of this file, so the smallest failing input stays checked on every run.
"""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qlearn
from qlearn import QlearnError, parse_map
from qlearn.configs.fields import config_from_mapping, load_config_file
from qlearn.configs.tabular_config import TABULAR_ALGOS, TD0_POLICIES, TabularConfig
from qlearn.core.schedules import EXPLORATIONS_ALLOWED
from qlearn.envs.grid import KINDS, grid_mdp
from qlearn.tabular.train import world_of

#: Deterministic in CI: the same examples on every run, no local example database.
DETERMINISTIC = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow],
)

#: Integers as YAML and configs may carry them, some at the edge of the float range
#: (2**1024 and above overflow; see test_huge_integers_in_a_map_are_refused_cleanly).
ANY_INTS = st.one_of(
    st.integers(-(10**12), 10**12),
    st.builds(lambda sign, n: sign * 2**n, st.sampled_from([1, -1]), st.integers(1020, 1030)),
)
ANY_FLOATS = st.floats(allow_nan=True, allow_infinity=True)


def assert_clean(exc: QlearnError) -> str:
    """A user-facing refusal: a QlearnError (so a ValueError) with a one-line message."""
    assert isinstance(exc, ValueError)
    msg = str(exc)
    assert msg.strip(), "empty error message"
    assert "\n" not in msg and "\r" not in msg, f"message is not one line: {msg!r}"
    assert len(msg.splitlines()) == 1, f"message is not one line: {msg!r}"
    assert "Traceback" not in msg
    return msg


# --- maps ----------------------------------------------------------------------------


def check_world(gmap: qlearn.GridMap, mdp: qlearn.FiniteMDP) -> None:
    """Everything a parsed map and its compiled MDP promise."""
    rows = gmap.rows
    assert rows and all(len(r) == len(rows[0]) for r in rows)
    assert all(ch in gmap.legend for r in rows for ch in r)
    kinds = [gmap.legend[ch].kind for r in rows for ch in r]
    assert kinds.count("start") == 1
    assert 0.0 <= gmap.gamma <= 1.0 and 0 <= gmap.slip <= 1 and gmap.max_steps >= 1
    assert math.isfinite(gmap.step_reward)

    n_s = sum(k not in ("wall", "cliff") for k in kinds)
    n_a = len(mdp.action_names)
    assert mdp.P.shape == mdp.R.shape == mdp.R_std.shape == (n_s, n_a, n_s)
    assert mdp.terminal.shape == mdp.start.shape == (n_s,)
    assert mdp.legal.shape == (n_s, n_a) and mdp.legal.all()
    assert len(mdp.state_names) == len(set(mdp.state_names)) == n_s
    assert np.isfinite(mdp.P).all() and np.isfinite(mdp.R).all()
    assert (mdp.P >= 0).all()
    np.testing.assert_allclose(mdp.P.sum(axis=2), 1.0, rtol=0, atol=1e-12)
    # Exactly one start state, with probability 1, on the S cell, and not terminal.
    (starts,) = np.nonzero(mdp.start)
    assert len(starts) == 1 and mdp.start[starts[0]] == 1.0
    s0 = int(starts[0])
    col, row = mdp.layout.positions[s0]
    assert gmap.legend[mdp.layout.char_at(col, row)].kind == "start"
    assert not mdp.terminal[s0]
    # Terminal states are absorbing; counts of terminals match the drawing.
    for s in np.flatnonzero(mdp.terminal):
        assert (mdp.P[s, :, s] == 1.0).all()
    assert mdp.terminal.sum() == kinds.count("terminal")
    # A terminal can be reached from the start (maps without one are refused).
    seen, frontier = {s0}, [s0]
    while frontier:
        s = frontier.pop()
        if mdp.terminal[s]:
            continue
        for t in np.flatnonzero(mdp.P[s].sum(axis=0) > 0):
            if t not in seen:
                seen.add(int(t))
                frontier.append(int(t))
    assert mdp.terminal[list(seen)].any()


def outcome_of_map(text: str) -> str:
    """Parse and compile ``text``; 'valid' or 'refused', anything else fails the test."""
    try:
        gmap = parse_map(text)
        mdp = grid_mdp(gmap)
    except QlearnError as exc:
        assert_clean(exc)
        return "refused"
    check_world(gmap, mdp)
    return "valid"


LEGEND_CHARS = "SSS.....##DPGHCF"
JUNK_CHARS = [" ", "\t", "x", "?", "é", "0", ":", "-", "|", "\u00a0"]


@st.composite
def grid_rows(draw) -> list[str]:
    """A grid drawn from the default legend, usually with one start, sometimes broken:
    no start or two, a junk character, a ragged row."""
    height = draw(st.integers(1, 5))
    width = draw(st.integers(1, 6))
    cell = st.sampled_from(".....##DPGHCF")
    grid = [[draw(cell) for _ in range(width)] for _ in range(height)]
    n_starts = draw(st.sampled_from([1, 1, 1, 1, 1, 0, 2]))
    for _ in range(n_starts):
        grid[draw(st.integers(0, height - 1))][draw(st.integers(0, width - 1))] = "S"
    if draw(st.integers(0, 7)) == 0:  # a junk character somewhere
        grid[draw(st.integers(0, height - 1))][draw(st.integers(0, width - 1))] = draw(
            st.sampled_from(JUNK_CHARS)
        )
    rows = ["".join(r) for r in grid]
    if draw(st.integers(0, 7)) == 0:  # ragged: a row one cell short or long
        i = draw(st.integers(0, height - 1))
        rows[i] = rows[i][:-1] if draw(st.booleans()) else rows[i] + draw(st.sampled_from("S.#D"))
    return rows


@st.composite
def bare_grid_text(draw) -> str:
    """A bare map file: the rows, with harmless padding now and then."""
    rows = draw(grid_rows())
    indent = draw(st.sampled_from(["", "", "", "  ", "\t"]))
    trailing = draw(st.sampled_from(["", "", "", " ", "\t "]))
    text = "\n".join(indent + r + trailing for r in rows)
    return draw(st.sampled_from(["", "", "\n", "\n\n"])) + text + draw(st.sampled_from(["", "\n"]))


#: Any short text (keys, names, descriptions, paths).
ANY_TEXT = st.text(max_size=12)
#: Text for values that may end up parsed as numbers, line breaks and control
#: characters included (see test_slip_error_message_is_one_line).
PLAIN_TEXT = st.text(max_size=12)
NUMBERISH = st.one_of(
    st.floats(0, 1), ANY_INTS, ANY_FLOATS, st.booleans(), st.none(), PLAIN_TEXT,
    st.sampled_from(["2/3", "1/3", "0", "1", "0.2", "3/2", "-1/2", "1/0", "x"]),
    st.lists(st.integers(0, 3), max_size=2),
)  # fmt: skip


@st.composite
def legend_specs(draw):
    """A legend entry: a kind name, or a mapping that is right or wrong in one way."""
    kind = st.sampled_from([*KINDS, "lava", "", "Terminal"])
    spec = draw(
        st.one_of(
            kind,
            st.fixed_dictionaries(
                {"kind": kind},
                optional={
                    "reward": NUMBERISH,
                    "slippery": st.one_of(st.booleans(), NUMBERISH),
                    "description": ANY_TEXT,
                    # Unknown keys, one not a string (see
                    # test_legend_entry_with_a_non_string_key_is_refused_cleanly).
                    "colour": ANY_TEXT,
                    1: ANY_TEXT,
                },
            ),
            ANY_INTS,
            st.lists(kind, max_size=2),
            st.none(),
        )
    )
    return spec


@st.composite
def yaml_map_text(draw) -> str:
    """A YAML map: a header of parameters (good or bad) and a legend over a grid that
    uses some of its characters."""
    header = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "name": st.one_of(ANY_TEXT, ANY_INTS),
                "gamma": st.one_of(st.floats(0, 1), NUMBERISH),
                "step_reward": st.one_of(st.floats(-1, 1), NUMBERISH),
                "slip": NUMBERISH,
                "max_steps": st.one_of(st.integers(-2, 10**6), NUMBERISH),
                "description": ANY_TEXT,
                "legend": st.one_of(
                    st.dictionaries(
                        st.one_of(st.sampled_from(list("XYZS.#1")), ANY_TEXT, ANY_INTS),
                        legend_specs(),
                        max_size=3,
                    ),
                    NUMBERISH,
                ),
                "colour": NUMBERISH,
            },
        )
    )
    rows = draw(grid_rows())
    legend = header.get("legend")
    if isinstance(legend, dict) and legend and draw(st.booleans()):
        # Use a legend character in the grid.
        extra = [str(k) for k in legend if len(str(k)) == 1]
        if extra:
            i = draw(st.integers(0, len(rows) - 1))
            j = draw(st.integers(0, max(len(rows[i]) - 1, 0)))
            rows[i] = rows[i][:j] + draw(st.sampled_from(extra)) + rows[i][j + 1 :]
    grid = "\n".join(rows) + "\n"
    if draw(st.booleans()):
        return yaml.safe_dump({**header, "grid": grid}, allow_unicode=True)
    head = yaml.safe_dump(header, allow_unicode=True) if header else ""
    return head + "grid: |\n" + "".join(f"  {r}\n" for r in rows)


def test_near_valid_maps_give_valid_worlds_or_clean_errors():
    outcomes: Counter[str] = Counter()

    @DETERMINISTIC
    @given(text=st.one_of(bare_grid_text(), yaml_map_text()))
    def check(text):
        outcomes[outcome_of_map(text)] += 1

    check()
    # The strategy is worth its name only if it produces plenty of both.
    assert outcomes["valid"] >= 20 and outcomes["refused"] >= 20, outcomes


#: Dates, some impossible, which YAML reads as timestamps (see
#: test_yaml_timestamps_are_refused_cleanly).
DATES = st.from_regex(r"\A[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}( [0-9]{1,2}:[0-9]{2}:[0-9]{2})?\Z")
#: Deep nesting (see test_deeply_nested_yaml_is_refused_cleanly).
NESTING = st.builds(
    lambda opener, depth: opener * depth, st.sampled_from(["[", "{", "- "]), st.integers(0, 2000)
)


@settings(DETERMINISTIC, max_examples=300)
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.text(alphabet=LEGEND_CHARS + "\n\n\n \t:|-#{}[]'\"!&*?,.gridlen0123", max_size=80),
        DATES,
        DATES.map(lambda date: f"name: {date}\ngrid: SD\n"),
        NESTING,
    )
)
def test_random_text_gives_a_valid_world_or_a_clean_error(text):
    outcome_of_map(text)


@DETERMINISTIC
@given(rows=grid_rows())
def test_grid_params_overrides_keep_the_world_valid(rows):
    """with_params (what --gamma, --step-reward, --slip do) on a valid map."""
    try:
        gmap = parse_map("\n".join(rows))
    except QlearnError as exc:
        assert_clean(exc)
        return
    for gamma, step, slip in [(0.0, -1.0, "1"), (1.0, 0.5, "1/3"), (0.5, 0.0, 0.25)]:
        changed = gmap.with_params(gamma=gamma, step_reward=step, slip=slip)
        assert changed.slip == Fraction(str(slip))
        mdp = grid_mdp(changed)
        check_world(changed, mdp)
        assert mdp.gamma == gamma


# --- configs -------------------------------------------------------------------------

SCHEDULE_TEXT = st.one_of(
    st.builds(
        lambda parts: ":".join(parts),
        st.lists(
            st.one_of(
                st.floats(-0.5, 1.5).map(lambda x: f"{x:.3g}"),
                st.integers(-3, 1000).map(str),
                st.sampled_from(["", "nan", "inf", "-inf", "x", "1e3", "0.0", "1", "0"]),
            ),
            min_size=1,
            max_size=4,
        ),
    ),
    PLAIN_TEXT,
)
ALPHA_TEXT = st.one_of(
    st.floats(-0.5, 1.5).map(lambda x: f"{x:.3g}"),
    st.sampled_from(["1/n", "1/n^0.8", "1/n^1", "1/n^0", "1/n^1.5", "1/n^", "1 / n ^ 0.5",
                     "1/m", "nan", "inf", "0", "1", "0.5", "1/n^nan", "1/n^-1"]),
    st.floats(-2, 2).map(lambda w: f"1/n^{w:.3g}"),
    PLAIN_TEXT,
)  # fmt: skip


def field_values(name: str):
    """Values of the field's own type, in range or not."""
    choices = {
        "world": st.one_of(st.none(), st.sampled_from(["classic", "cliff", "maxbias"]), ANY_TEXT),
        "map_file": st.one_of(st.none(), ANY_TEXT),
        "algo": st.sampled_from([*TABULAR_ALGOS, "dqn", "Q-learning", ""]),
        "episodes": st.integers(-3, 10**6),
        "alpha": ALPHA_TEXT,
        "gamma": st.one_of(st.none(), ANY_FLOATS, st.integers(-2, 3), ANY_INTS),
        "epsilon": SCHEDULE_TEXT,
        "decay": st.sampled_from(["linear", "exponential", "constant", ""]),
        "decay_unit": st.sampled_from(["episodes", "steps", "seconds"]),
        "explore": st.sampled_from([*EXPLORATIONS_ALLOWED, "softmax"]),
        "temperature": SCHEDULE_TEXT,
        "q_init": st.one_of(st.floats(-1e6, 1e6), ANY_FLOATS, ANY_INTS),
        "seeds": st.integers(-2, 2**33),
        "seed": st.integers(-2, 2**33),
        "max_steps": st.one_of(st.none(), st.integers(-2, 10**6)),
        "policy": st.sampled_from([*TD0_POLICIES, "greedy"]),
        "snapshots": st.lists(st.integers(-2, 600), max_size=3).map(tuple),
        "step_reward": st.one_of(st.none(), ANY_FLOATS, ANY_INTS),
        "slip": st.one_of(st.none(), st.sampled_from(["0", "2/3", "1/0", "x", "2"]), PLAIN_TEXT),
    }
    return choices[name]


FIELDS = [
    "world", "map_file", "algo", "episodes", "alpha", "gamma", "epsilon", "decay",
    "decay_unit", "explore", "temperature", "q_init", "seeds", "seed", "max_steps",
    "policy", "snapshots", "step_reward", "slip",
]  # fmt: skip


def check_config(cfg: TabularConfig) -> None:
    """The invariants of a config that validated, checked field by field."""
    assert cfg.algo in TABULAR_ALGOS and cfg.policy in TD0_POLICIES
    assert cfg.decay in ("linear", "exponential") and cfg.decay_unit in ("episodes", "steps")
    assert cfg.explore in EXPLORATIONS_ALLOWED
    for name, low in (("episodes", 1), ("seeds", 1), ("seed", 0)):
        value = getattr(cfg, name)
        assert isinstance(value, int) and not isinstance(value, bool) and value >= low
    assert cfg.seed + cfg.seeds <= 2**32
    assert cfg.max_steps is None or (type(cfg.max_steps) is int and cfg.max_steps >= 1)
    lr = cfg.learning_rate
    assert 0 < lr.alpha <= 1
    assert lr.omega is None or 0 < lr.omega <= 1
    if cfg.gamma is not None:
        assert not isinstance(cfg.gamma, bool) and 0.0 <= cfg.gamma <= 1.0
    eps = cfg.epsilon_schedule()
    temp = cfg.temperature_schedule()
    for sched, low, high in ((eps, 0.0, 1.0), (temp, 0.0, math.inf)):
        ends = [sched.start, sched.start if sched.end is None else sched.end]
        assert all(math.isfinite(v) and low <= v <= high for v in ends), sched
        if sched.kind != "constant":
            assert sched.duration > 0
        if sched.kind == "exponential":
            assert min(ends) > 0
    assert temp.start > 0 and (temp.end is None or temp.end > 0)
    assert not isinstance(cfg.q_init, bool) and math.isfinite(cfg.q_init)
    assert all(type(e) is int and 1 <= e <= cfg.episodes for e in cfg.snapshots)
    assert cfg.world is not None or cfg.map_file is not None
    # A valid config round-trips through its own mapping.
    assert config_from_mapping(TabularConfig, cfg.to_dict(), "round trip") == cfg


def test_tabular_config_is_valid_or_refused_cleanly():
    outcomes: Counter[str] = Counter()

    @DETERMINISTIC
    @given(st.fixed_dictionaries({}, optional={f: field_values(f) for f in FIELDS}))
    def check(kwargs):
        try:
            cfg = TabularConfig(**kwargs)
        except QlearnError as exc:
            assert_clean(exc)
            outcomes["refused"] += 1
            return
        check_config(cfg)
        outcomes["valid"] += 1

    check()
    assert outcomes["valid"] >= 20 and outcomes["refused"] >= 20, outcomes


#: Any value YAML (or a caller) could put under a key.
ANY_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), ANY_INTS, ANY_FLOATS, PLAIN_TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(ANY_TEXT, inner, max_size=2)
    ),
    max_leaves=5,
)
KEYS = st.one_of(
    st.sampled_from(FIELDS), st.sampled_from(FIELDS), st.sampled_from(["kind", "qlearn_version"]),
    ANY_TEXT, ANY_INTS, st.none(), st.tuples(st.integers()),
)  # fmt: skip


@pytest.fixture(scope="module")
def map_files(tmp_path_factory):
    """A valid map file, an invalid one, and a path to nothing."""
    folder = tmp_path_factory.mktemp("maps")
    good, bad = folder / "good.txt", folder / "bad.yaml"
    good.write_text("S.D\n.#P\n", encoding="utf-8")
    bad.write_text("grid: |\n  S.X\n", encoding="utf-8")
    return [str(good), str(bad), str(folder / "missing.txt"), str(folder)]


@settings(DETERMINISTIC, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_config_from_mapping_is_valid_or_refused_cleanly(data, map_files):
    """Random keys with values of random types; on success, world_of (as the CLI does
    next) also gives an MDP or a clean refusal."""
    # Mostly plausible values per field (so that many configs are valid), plus junk.
    plausible = data.draw(st.fixed_dictionaries({}, optional={f: field_values(f) for f in FIELDS}))
    junk = data.draw(st.dictionaries(KEYS, ANY_VALUE, max_size=2))
    mapping = {**plausible, **junk} if data.draw(st.booleans()) else plausible
    if "map_file" in mapping and mapping["map_file"] is not None and data.draw(st.booleans()):
        mapping["map_file"] = data.draw(st.sampled_from(map_files))
        mapping["world"] = None
    try:
        cfg = config_from_mapping(TabularConfig, mapping, "test")
    except QlearnError as exc:
        assert_clean(exc)
        return
    check_config(cfg)
    try:
        mdp = world_of(cfg)
    except QlearnError as exc:
        assert_clean(exc)
        return
    assert isinstance(mdp, qlearn.FiniteMDP)
    if cfg.gamma is not None:
        assert mdp.gamma == cfg.gamma


# --- the command line -----------------------------------------------------------------

NO_DIGITS = st.text(alphabet="abcxyzNnIiFf !?@_\n", min_size=0, max_size=8)


def bad_train_flags():
    """(flag, value) pairs `qlearn train` must refuse."""
    outside_unit = st.one_of(st.floats(1.0001, 1e6), st.floats(-1e6, -0.0001))
    return st.one_of(
        st.tuples(st.just("--episodes"), st.one_of(st.integers(-100, 0).map(str), NO_DIGITS)),
        st.tuples(st.just("--seeds"), st.integers(-100, 0).map(str)),
        st.tuples(st.just("--seed"), st.integers(-100, -1).map(str)),
        st.tuples(st.just("--max-steps"), st.integers(-100, 0).map(str)),
        st.tuples(st.just("--alpha"), st.one_of(outside_unit.map(repr), NO_DIGITS)),
        st.tuples(st.just("--epsilon"), st.one_of(outside_unit.map(repr), NO_DIGITS)),
        st.tuples(st.just("--gamma"), st.one_of(outside_unit.map(repr), NO_DIGITS)),
        st.tuples(st.just("--temperature"), st.one_of(st.floats(-10, 0).map(repr), NO_DIGITS)),
        st.tuples(st.just("--q-init"),
                  st.one_of(NO_DIGITS, st.sampled_from(["nan", "inf", "-inf", "1e400"]))),
        st.tuples(st.just("--slip"), st.one_of(st.floats(1.0001, 10).map(repr), NO_DIGITS)),
        st.tuples(st.just("--algo"), NO_DIGITS),
        st.tuples(st.just("--decay"), NO_DIGITS),
        st.tuples(st.just("world"), NO_DIGITS.filter(lambda s: s and not s.startswith("-"))),
    )  # fmt: skip


@settings(DETERMINISTIC, max_examples=20, suppress_health_check=list(HealthCheck))
@given(flag=bad_train_flags())
def test_cli_train_refuses_bad_values_in_one_line(flag, capsys, tmp_path_factory):
    from qlearn import cli

    runs = tmp_path_factory.mktemp("runs")
    option, value = flag
    argv = ["train", value] if option == "world" else ["train", "classic", f"{option}={value}"]
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        cli.main([*argv, "--runs", str(runs), "--quiet"])
    out, err = capsys.readouterr()
    assert info.value.code == 2, (argv, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert not any(runs.iterdir()), "a refused run left a folder behind"


# --- regressions (bugs the properties above found, now fixed) -------------------------


def assert_refused(fn) -> None:
    with pytest.raises(QlearnError) as info:
        fn()
    assert_clean(info.value)


@pytest.mark.parametrize("text", ["2001-13-14", "name: 2001-13-14\ngrid: SD\n"])
def test_yaml_timestamps_are_refused_cleanly(text):
    # PyYAML builds a datetime.date for '2001-13-14' and raised a bare ValueError
    # ("month must be in 1..12") that parse_map did not catch.
    assert_refused(lambda: parse_map(text))


def test_legend_entry_with_a_non_string_key_is_refused_cleanly():
    # _legend_entry sorted the unknown keys, comparing an int key with a str key.
    assert_refused(lambda: parse_map("legend:\n  X: {kind: terminal, 1: a, b: c}\ngrid: SX\n"))


@pytest.mark.parametrize(
    "text",
    [
        "gamma: 1" + "0" * 400 + "\ngrid: SD\n",
        "step_reward: -1" + "0" * 400 + "\ngrid: SD\n",
        "legend:\n  X: {kind: terminal, reward: 1" + "0" * 400 + "}\ngrid: SX\n",
        "gamma: 1" + "0" * 5000 + "\ngrid: SD\n",  # beyond Python's int-parsing limit
    ],
)
def test_huge_integers_in_a_map_are_refused_cleanly(text):
    # json_number called np.isfinite(10**400), a TypeError (object array).
    assert_refused(lambda: parse_map(text))


@pytest.mark.parametrize("text", ["[" * 1000, "{" * 1000, "- " * 1000, "a: " * 1000])
def test_deeply_nested_yaml_is_refused_cleanly(text):
    assert_refused(lambda: parse_map(text))


def test_slip_error_message_is_one_line():
    # _probability printed the raw string "5\n" in "... must be in [0, 1], got 5\n".
    assert_refused(lambda: parse_map('slip: "5\\n"\ngrid: SD\n'))


@pytest.mark.parametrize("key", ["gamma", "q_init", "step_reward"])
@pytest.mark.parametrize(
    "value", [10**400, -(10**400), 10**5000], ids=["1e400", "-1e400", "1e5000"]
)
def test_huge_integer_for_a_float_option_is_refused_cleanly(key, value):
    # _coerce called float(10**400), an OverflowError.
    assert_refused(lambda: config_from_mapping(TabularConfig, {key: value}, "test"))
    assert_refused(lambda: TabularConfig(**{key: value}))


@pytest.mark.parametrize("key", ["q_init", "step_reward"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_q_init_must_be_finite(key, value):
    # TabularConfig(q_init=nan) validated; qlearn.train(..., q_init=nan) then learned an
    # all-NaN table and reported max |Q - Q*| = 0.0 (NaN is lost in max()).
    assert_refused(lambda: TabularConfig(**{key: value}))


def test_map_file_with_a_nul_byte_is_refused_cleanly():
    # load_map caught OSError and UnicodeDecodeError, not the ValueError of a NUL byte
    # (reachable from a config file: map_file: "a\0b").
    assert_refused(lambda: world_of(TabularConfig(world=None, map_file="a\x00b")))


@pytest.mark.parametrize(
    "text", ["episodes: 2001-13-14\n", "seed: !!timestamp 2001-02-30\n", "[" * 1000]
)
def test_config_files_with_bad_dates_or_deep_nesting_are_refused_cleanly(text, tmp_path):
    # load_config_file had parse_map's YAML timestamp and recursion bugs.
    path = tmp_path / "run.yaml"
    path.write_text(text, encoding="utf-8")
    assert_refused(lambda: load_config_file(path))
    assert_refused(lambda: load_config_file(tmp_path / "a\x00b.yaml"))


def test_message_helper_rejects_multiline_messages():
    with pytest.raises(AssertionError):
        assert_clean(QlearnError("two\nlines"))
    assert assert_clean(QlearnError("one line")) == "one line"
