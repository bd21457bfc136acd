"""Q-networks: an MLP, a dueling head, and CNN torsos for pixel observations.

Networks are flax linen modules used only through ``init`` and ``apply``, so their
parameters stay plain pytrees (nested dicts of arrays) that can be vmapped over seeds,
saved as ``.npz`` and compared leaf by leaf.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp

#: Torsos: how an observation becomes a feature vector before the dense layers.
TORSOS = ("mlp", "minatar", "nature")


class QNetwork(nn.Module):
    """Maps a batch of observations to one Q value per action: (batch, *obs) -> (batch, A).

    ``torso`` picks the feature extractor: ``mlp`` flattens the observation;
    ``minatar`` is one 3x3 convolution (16 channels) as in Young & Tian (2019);
    ``nature`` is the three-layer CNN of Mnih et al. (2015) for 84x84 Atari frames,
    which arrive as uint8 and are scaled to [0, 1]. ``channels_first`` says the
    observation is (C, H, W) (Gymnasium's frame stack) rather than (H, W, C).
    With ``dueling`` the head splits into a state value and mean-centred advantages
    (Wang et al., 2016).
    """

    n_actions: int
    hidden: Sequence[int] = (64, 64)
    dueling: bool = False
    torso: str = "mlp"
    channels_first: bool = False

    @nn.compact
    def __call__(self, obs: jnp.ndarray) -> jnp.ndarray:
        x = obs.astype(jnp.float32)
        if self.torso == "mlp":
            x = x.reshape((x.shape[0], -1))
        else:
            if self.channels_first:
                x = jnp.moveaxis(x, 1, -1)  # (batch, H, W, C)
            if self.torso == "nature":
                x = x / 255.0
                x = nn.relu(nn.Conv(32, (8, 8), strides=(4, 4), padding="VALID")(x))
                x = nn.relu(nn.Conv(64, (4, 4), strides=(2, 2), padding="VALID")(x))
                x = nn.relu(nn.Conv(64, (3, 3), strides=(1, 1), padding="VALID")(x))
            else:
                x = nn.relu(nn.Conv(16, (3, 3), strides=(1, 1), padding="VALID")(x))
            x = x.reshape((x.shape[0], -1))
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        if not self.dueling:
            return nn.Dense(self.n_actions)(x)
        value = nn.Dense(1, name="value")(x)  # (batch, 1)
        advantage = nn.Dense(self.n_actions, name="advantage")(x)  # (batch, A)
        return value + advantage - advantage.mean(axis=-1, keepdims=True)
