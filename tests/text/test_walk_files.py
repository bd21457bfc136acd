"""Walks files: written by `qlearn text data`, read back with one-line errors."""

import numpy as np
import pytest

from qlearn.core.errors import QlearnError
from qlearn.runs.text_results import read_walks, write_walks
from qlearn.text.graph_tasks import make_task, random_walks
from qlearn.text.logged import walks_from_lists

TASK = make_task()


@pytest.fixture
def walks_file(tmp_path):
    walks = walks_from_lists(TASK, random_walks(TASK, 50))
    return write_walks(tmp_path / "walks.csv", TASK, walks, "random"), walks


def test_a_walks_file_round_trips(walks_file):
    path, walks = walks_file
    back = read_walks(path, TASK)
    assert np.array_equal(back.tokens, walks.tokens)
    assert np.array_equal(back.lengths, walks.lengths)
    assert np.allclose(back.rewards, walks.rewards)
    lines = path.read_text().splitlines()
    assert lines[1] == "episode,position,token,reward,done"
    assert len(lines) == 2 + int(walks.lengths.sum())


def _body(path):
    return path.read_text().splitlines()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda ls: ls[:2], "has no rows"),
        (lambda ls: ls[:1], "is empty"),
        (
            lambda ls: [ls[0], ls[1], ls[2].replace(",", ";")] + ls[3:],
            "not a readable CSV|lacks the column|no number",
        ),
        (lambda ls: ls[:-1] + [ls[-1].rsplit(",", 2)[0] + ","], "no number in column"),
        (lambda ls: [ls[0], ls[1], "0,0,99,0,0"] + ls[3:], "not a node"),
        (lambda ls: [ls[0], ls[1], "0,3,5,0,0"] + ls[3:], "position 3 where 0"),
        (lambda ls: [ls[0].replace("nodes=21", "nodes=30")] + ls[1:], "nodes 30, not 21"),
        (
            lambda ls: [ls[0].replace("task=graph-walk", "task=star-graph")] + ls[1:],
            "task star-graph",
        ),
    ],
)
def test_malformed_empty_or_foreign_files_are_one_line_errors(walks_file, edit, message):
    path, _ = walks_file
    path.write_text("\n".join(edit(_body(path))) + "\n")
    with pytest.raises(QlearnError, match=message) as err:
        read_walks(path, TASK)
    assert "\n" not in str(err.value)


def test_walks_logged_on_another_graph_are_refused_without_the_comment_line(tmp_path):
    other = make_task(seed=7)
    path = write_walks(
        tmp_path / "w.csv", other, walks_from_lists(other, random_walks(other, 30)), "random"
    )
    path.write_text("\n".join(path.read_text().splitlines()[1:]) + "\n")  # drop the comment
    with pytest.raises(QlearnError, match="edge this graph lacks|scores|not a node"):
        read_walks(path, TASK)
