"""Every run writes TensorBoard events that read back as the metrics it reports."""

import numpy as np
import pandas as pd
import pytest
from conftest import run_json
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def test_tabular_run_events_match_its_metrics(tmp_path):
    out = tmp_path / "r"
    run_json("train", "classic", "--episodes", "60", "--seeds", "3", "--out", str(out))
    events = list(out.glob("events.out.tfevents.*"))
    assert len(events) == 1
    acc = EventAccumulator(str(out))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {
        "episode/return",
        "episode/length",
        "episode/gap_to_exact",
        "episode/optimal_share",
        "episode/epsilon",
        "episode/alpha",
    } <= tags
    metrics = pd.read_csv(out / "metrics.csv")
    mean = metrics.groupby("episode").mean(numeric_only=True)
    for tag, column in [
        ("episode/return", "return"),
        ("episode/gap_to_exact", "gap"),
        ("episode/epsilon", "epsilon"),
    ]:
        points = acc.Scalars(tag)
        assert [p.step for p in points] == list(range(1, 61))
        np.testing.assert_allclose([p.value for p in points], mean[column], rtol=1e-6, atol=1e-6)
    assert acc.Scalars("episode/alpha")[0].value == pytest.approx(0.5)
