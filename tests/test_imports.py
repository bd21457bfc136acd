"""What each kind of command loads before its work starts: start-up time users feel."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path


def loaded_after(*modules: str) -> set[str]:
    """Top-level packages in ``sys.modules`` after importing ``modules`` in a fresh process."""
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules)
    code += "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(proc.stdout.split())


def test_the_dqn_command_path_does_not_load_numba_and_the_tabular_loop_does():
    dqn = loaded_after("qlearn", "qlearn.cli", "qlearn.runs.job", "qlearn.deep.train")
    assert "numba" not in dqn and "jax" in dqn
    assert "numba" in loaded_after("qlearn.tabular.loop")


def test_the_tabular_command_path_does_not_load_jax():
    assert "jax" not in loaded_after("qlearn", "qlearn.cli", "qlearn.tabular.train")


# The house, lowest floor first. A module may import its own floor and the floors below,
# never one above; the algorithm cores are side by side and do not import each other.
FLOORS: list[tuple[str, ...]] = [
    ("qlearn.core",),
    ("qlearn.mdp", "qlearn.exact", "qlearn.judge", "qlearn.textview", "qlearn.returns"),
    ("qlearn.envs",),
    ("qlearn.configs",),
    ("qlearn.tabular", "qlearn.deep", "qlearn.search", "qlearn.text"),
    ("qlearn.viz",),
    ("qlearn.runs",),
    ("qlearn.experiments",),
    ("qlearn.cli", "qlearn.tour", "qlearn.precompile", "qlearn"),
]
CORES = FLOORS[4]
SRC = Path(__file__).resolve().parents[1] / "src" / "qlearn"


def module_name(path: Path, src: Path = SRC) -> str:
    parts = ("qlearn", *path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def existing_module(name: str, src: Path) -> str:
    """``name`` cut back to the module or package that defines it (``a.b.func`` -> ``a.b``)."""
    while name != "qlearn":
        relative = Path(*name.split(".")[1:])
        if (src / relative).with_suffix(".py").exists() or (src / relative).is_dir():
            return name
        name = name.rsplit(".", 1)[0]
    return name


def imports_of(path: Path, src: Path = SRC) -> set[str]:
    """Every qlearn module ``path`` imports, at the top or inside a function."""
    me = module_name(path, src)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    ours = {name for name in found if name == "qlearn" or name.startswith("qlearn.")}
    return {existing_module(name, src) for name in ours}


def floor_of(module: str) -> tuple[int, str]:
    """(floor, room): the floor of the longest matching room; the facade is ``qlearn``."""
    best = None
    for level, rooms in enumerate(FLOORS):
        for room in rooms:
            if module == room or module.startswith(room + "."):
                if best is None or len(room) > len(best[1]):
                    best = (level, room)
    if best is None:
        raise AssertionError(f"{module} has no floor: add it to FLOORS")
    return best


def direction_violations(src: Path = SRC) -> list[str]:
    found = []
    for path in sorted(src.rglob("*.py")):
        me = module_name(path, src)
        my_floor, my_room = floor_of(me)
        for target in sorted(imports_of(path, src)):
            if target == "qlearn":  # ``import qlearn``: the facade, on the top floor
                if my_floor < len(FLOORS) - 1:
                    found.append(f"{me} imports the qlearn facade")
                continue
            floor, room = floor_of(target)
            if floor > my_floor:
                found.append(f"{me} imports {target} (floor {floor} over {my_floor})")
            elif floor == my_floor and room != my_room and room in CORES:
                found.append(f"{me} imports another algorithm core: {target}")
    return found


def test_every_import_runs_down_the_house():
    assert direction_violations() == []


def test_the_direction_test_catches_an_import_of_a_higher_floor(tmp_path):
    """A planted ``from qlearn.viz.grid_figures import ...`` inside a function of a core module."""
    shutil.copytree(SRC, tmp_path / "qlearn")
    rules = tmp_path / "qlearn" / "tabular" / "rules.py"
    rules.write_text(
        rules.read_text() + "\n\ndef _draw():\n    from qlearn.viz.grid_figures import q_figure\n"
    )
    found = direction_violations(tmp_path / "qlearn")
    assert found == ["qlearn.tabular.rules imports qlearn.viz.grid_figures (floor 5 over 4)"]


def test_algorithm_cores_write_no_files_and_draw_nothing():
    for core in ("tabular", "deep"):
        for path in (SRC / core).rglob("*.py"):
            text = path.read_text()
            for word in (
                "import matplotlib",
                "from matplotlib",
                "atomic_write",
                "save_npz",
                ".write_text(",
                "open(",
            ):
                assert word not in text, f"{path.relative_to(SRC)} names {word}"


def test_every_package_has_an_init():
    for folder in SRC.rglob("*"):
        if folder.is_dir() and any(folder.glob("*.py")):
            assert (folder / "__init__.py").exists(), (
                f"{folder.relative_to(SRC)} has no __init__.py"
            )


def test_no_module_is_longer_than_600_lines_and_the_commands_fit_in_500():
    for path in SRC.rglob("*.py"):
        lines = len(path.read_text().splitlines())
        assert lines <= 600, f"{path.relative_to(SRC)} has {lines} lines"
    assert len((SRC / "cli" / "commands.py").read_text().splitlines()) <= 500


def test_no_two_modules_share_a_name():
    """Except ``train``: each algorithm core's entry point, the same job for its family."""
    names: dict[str, Path] = {}
    for path in SRC.rglob("*.py"):
        if path.name == "__init__.py" or (
            path.stem == "train" and path.parent.name in {"tabular", "deep"}
        ):
            continue
        assert path.stem not in names, f"{path.relative_to(SRC)} and {names[path.stem]}"
        names[path.stem] = path.relative_to(SRC)


def import_circles(src: Path = SRC) -> list[list[str]]:
    """Groups of modules that reach each other through their imports (any circle)."""
    graph = {module_name(path, src): imports_of(path, src) for path in src.rglob("*.py")}
    graph = {
        m: {t for t in ts if t in graph and t != m and t != "qlearn"} for m, ts in graph.items()
    }

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    reachable = {m: reach(m) for m in graph}
    circles = {frozenset({m} | {o for o in reachable[m] if m in reachable[o]})
               for m in graph if m in reachable[m]}  # fmt: skip
    return sorted(sorted(c) for c in circles)


def test_no_modules_import_each_other_even_within_a_room():
    assert import_circles() == []


def test_the_circle_test_catches_two_modules_that_import_each_other(tmp_path):
    shutil.copytree(SRC, tmp_path / "qlearn")
    rules = tmp_path / "qlearn" / "tabular" / "rules.py"
    rules.write_text(rules.read_text() + "\n\ndef _late():\n    from qlearn.tabular import loop\n")
    assert import_circles(tmp_path / "qlearn") == [["qlearn.tabular.loop", "qlearn.tabular.rules"]]
