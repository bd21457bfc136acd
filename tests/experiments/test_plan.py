"""Planning with learned values, held against the exact optimum."""

import numpy as np
import pytest

import qlearn
from qlearn.core.errors import QlearnError
from qlearn.search.episodes import PLANNERS

MAZE = "maze:15x15:seed=1"


@pytest.mark.parametrize("world", ["classic", "cliff", "maze:9x9:seed=2"])
def test_with_the_exact_values_every_planner_is_optimal(world):
    result = qlearn.plan(world, q="exact", planner=PLANNERS, simulations=4)
    table = result.table
    assert list(table["planner"]) == list(PLANNERS)
    assert (table["regret_mean"] == 0).all() and (table["regret_high"] == 0).all()
    paths = table[table["planner"].isin(["astar", "dijkstra", "qstar"])]
    assert (paths["optimal_path_share"] == 1.0).all()
    assert (table["success_rate"] == 1.0).all()  # every episode ends at the best terminal


@pytest.fixture(scope="module")
def early_maze_run():
    """Q-learning stopped early on the 15x15 maze (the README's run): 60 episodes x 4 seeds,
    greedy optimal in about half the states, the greedy policy loops from many."""
    return qlearn.train(MAZE, episodes=60, seeds=4)


@pytest.mark.slow
def test_search_with_a_learned_table_beats_acting_greedily_on_it(early_maze_run):
    result = qlearn.plan(MAZE, q=early_maze_run.q, planner=["greedy", "mcts"],
                         simulations=[4, 16])  # fmt: skip
    uniform = qlearn.plan(MAZE, q=early_maze_run.q, planner="mcts", simulations=[4, 16],
                          prior="uniform")  # fmt: skip
    table = result.table.set_index(["planner", "simulations"], drop=False)
    greedy = table.iloc[0]["regret_mean"]
    assert greedy > 0.3  # the table is genuinely imperfect
    for sims, row in zip([4, 16], uniform.table.itertuples(), strict=True):
        learned = table.loc[("mcts", sims)]["regret_mean"]
        assert learned <= greedy
        assert learned <= row.regret_mean  # the learned prior helps at equal budgets


def test_astar_with_a_learned_heuristic_expands_fewer_nodes_than_dijkstra(early_maze_run):
    table = qlearn.plan(MAZE, q=early_maze_run.q, planner=["astar", "dijkstra", "qstar"]).table
    astar, dijkstra, qstar = table.to_dict("records")
    assert astar["nodes_expanded"] < dijkstra["nodes_expanded"]
    assert qstar["nodes_generated"] < astar["nodes_generated"]
    assert dijkstra["optimal_path_share"] == 1.0  # uniform cost: exact in a gamma-1 maze
    assert 0.0 <= astar["optimal_path_share"] <= 1.0


def test_the_same_seed_gives_the_same_numbers_on_a_slippery_maze():
    options = {"q": "exact", "planner": "gumbel", "simulations": 4, "episodes": 3, "seeds": 2}
    first = qlearn.plan("maze:9x9:seed=2:slip=0.2", **options)
    again = qlearn.plan("maze:9x9:seed=2:slip=0.2", **options)
    np.testing.assert_array_equal(first.per_state["gumbel@4"], again.per_state["gumbel@4"])
    assert 0.0 <= first.table["regret_mean"][0] < 0.5


def test_no_knowledge_searches_blind_and_pays_for_it():
    blind = qlearn.plan("maze:9x9:seed=2", q=None, planner=["greedy", "mcts"], simulations=4)
    greedy, mcts = blind.table["regret_mean"]
    assert greedy > 0.5 and mcts > 0  # acting on zeros walks into the first wall forever


@pytest.mark.parametrize(
    ("world", "options", "message"),
    [
        ("classic", {"planner": "beam"}, "unknown planner 'beam'"),
        ("classic", {"simulations": 0}, "--simulations must be whole numbers of at least 1"),
        ("frozenlake4x4", {"planner": "astar"}, "astar needs a deterministic world"),
        ("classic", {"start": "(4,3)"}, "is a terminal state"),
        ("maze:8x9", {}, "maze sides must be odd numbers"),
        ("maze:9x9:seed=x", {}, "must be seed=K"),
    ],
)
def test_bad_input_is_refused_in_one_line(world, options, message):
    with pytest.raises(QlearnError, match=message.replace("(", r"\(").replace(")", r"\)")):
        qlearn.plan(world, q="exact", **options)
