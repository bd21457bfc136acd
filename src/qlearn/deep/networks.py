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


class PatchConv(nn.Module):
    """A VALID 2-D convolution (NHWC) written as patches times a matrix.

    The same function, and the same parameters, as ``flax.linen.Conv`` with
    ``padding="VALID"``; but the patches are strided slices and the product is one
    matrix multiplication, whose gradient is too. XLA's CPU backend runs the
    gradient of its own convolutions about ten times slower inside a loop (and
    the trainers loop: ``lax.scan`` over steps), while matrix products stay fast.
    """

    features: int
    kernel_size: tuple[int, int]
    strides: tuple[int, int] = (1, 1)

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        kh, kw = self.kernel_size
        sh, sw = self.strides
        cin = x.shape[-1]
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (kh, kw, cin, self.features))
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        out_h = (x.shape[1] - kh) // sh + 1
        out_w = (x.shape[2] - kw) // sw + 1
        patches = jnp.concatenate(
            [
                x[:, i : i + sh * (out_h - 1) + 1 : sh, j : j + sw * (out_w - 1) + 1 : sw, :]
                for i in range(kh)
                for j in range(kw)
            ],
            axis=-1,
        )  # (batch, out_h, out_w, kh * kw * cin), ordered as the kernel's (kh, kw, cin)
        return patches @ kernel.reshape(kh * kw * cin, self.features) + bias


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
                x = nn.relu(PatchConv(32, (8, 8), (4, 4))(x))
                x = nn.relu(PatchConv(64, (4, 4), (2, 2))(x))
                x = nn.relu(PatchConv(64, (3, 3), (1, 1))(x))
            else:
                x = nn.relu(PatchConv(16, (3, 3), (1, 1))(x))
            x = x.reshape((x.shape[0], -1))
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        if not self.dueling:
            return nn.Dense(self.n_actions)(x)
        value = nn.Dense(1, name="value")(x)  # (batch, 1)
        advantage = nn.Dense(self.n_actions, name="advantage")(x)  # (batch, A)
        return value + advantage - advantage.mean(axis=-1, keepdims=True)
