"""Q-networks: an MLP, a dueling head, CNN torsos for pixel observations, noisy layers
and distributional heads.

Networks are flax linen modules used only through ``init`` and ``apply``, so their
parameters stay plain pytrees (nested dicts of arrays) that can be vmapped over seeds,
saved as ``.npz`` and compared leaf by leaf.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import traverse_util

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


def _scaled_noise(x: jnp.ndarray) -> jnp.ndarray:
    """f(x) = sign(x) sqrt(|x|) of standard normal draws: the factorised noise."""
    return jnp.sign(x) * jnp.sqrt(jnp.abs(x))


def draw_layer_noise(params: dict, key: jax.Array) -> dict:
    """The factorised noise of one call of a network with noisy layers: for each
    :class:`NoisyDense` in ``params``, ``(f(eps_in), f(eps_out))``, as the
    ``noise_draws`` collection the layers read.

    All layers' draws come from one normal draw of their total size, sliced: one
    random number generator in the compiled program per network call instead of four
    per layer, which made noisy networks' programs several times larger and slower to
    compile and run."""
    flat = traverse_util.flatten_dict(params["params"])
    layers = sorted(path[:-1] for path in flat if path[-1] == "mu_kernel")
    sizes = [n for path in layers for n in flat[(*path, "mu_kernel")].shape]
    draws = _scaled_noise(jax.random.normal(key, (sum(sizes),)))
    parts = jnp.split(draws, list(itertools.accumulate(sizes))[:-1])
    noise = {(*path, "eps"): (parts[2 * i], parts[2 * i + 1]) for i, path in enumerate(layers)}
    return traverse_util.unflatten_dict(noise)


class NoisyDense(nn.Module):
    """A dense layer with factorised Gaussian noise on its weights (Fortunato et al. 2018):
    ``w = mu_w + sigma_w * (f(eps_in) f(eps_out)^T)``, ``b = mu_b + sigma_b * f(eps_out)``.

    The noise comes in the ``noise_draws`` collection (:func:`draw_layer_noise`), so
    that the noise of many calls can be drawn at once, ahead; without it the layer uses
    its mean weights (greedy evaluation).
    """

    features: int
    sigma0: float = 0.5

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        fan_in = x.shape[-1]
        bound = 1.0 / jnp.sqrt(fan_in)

        def uniform(key, shape):
            return jax.random.uniform(key, shape, jnp.float32, -bound, bound)

        def constant(key, shape):
            return jnp.full(shape, self.sigma0 / jnp.sqrt(fan_in), jnp.float32)

        mu_w = self.param("mu_kernel", uniform, (fan_in, self.features))
        sigma_w = self.param("sigma_kernel", constant, (fan_in, self.features))
        mu_b = self.param("mu_bias", uniform, (self.features,))
        sigma_b = self.param("sigma_bias", constant, (self.features,))
        if not self.has_variable("noise_draws", "eps"):
            return x @ mu_w + mu_b
        eps_in, eps_out = self.get_variable("noise_draws", "eps")
        w = mu_w + sigma_w * jnp.outer(eps_in, eps_out)
        return x @ w + mu_b + sigma_b * eps_out


class QNetwork(nn.Module):
    """Maps a batch of observations to one Q value per action: (batch, *obs) -> (batch, A).

    ``torso`` picks the feature extractor: ``mlp`` flattens the observation;
    ``minatar`` is one 3x3 convolution (16 channels) as in Young & Tian (2019);
    ``nature`` is the three-layer CNN of Mnih et al. (2015) for 84x84 Atari frames,
    which arrive as uint8 and are scaled to [0, 1]. ``channels_first`` says the
    observation is (C, H, W) (Gymnasium's frame stack) rather than (H, W, C).
    With ``dueling`` the head splits into a state value and mean-centred advantages
    (Wang et al., 2016). ``atoms`` > 1 makes the head distributional: (batch, A, atoms)
    logits (C51) or quantiles (QR-DQN). ``noisy`` makes the dense layers
    :class:`NoisyDense`; ``layer_norm`` normalises every hidden layer (PQN).
    """

    n_actions: int
    hidden: Sequence[int] = (64, 64)
    dueling: bool = False
    torso: str = "mlp"
    channels_first: bool = False
    atoms: int = 1
    noisy: bool = False
    noisy_sigma: float = 0.5
    layer_norm: bool = False

    def dense(self, features: int, name: str | None = None) -> nn.Module:
        if self.noisy:
            return NoisyDense(features, self.noisy_sigma, name=name)
        return nn.Dense(features, name=name)

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
            x = self.dense(width)(x)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
            x = nn.relu(x)
        shape = (x.shape[0], self.n_actions) + ((self.atoms,) if self.atoms > 1 else ())
        if not self.dueling:
            return self.dense(self.n_actions * self.atoms)(x).reshape(shape)
        value = self.dense(self.atoms, name="value")(x).reshape((x.shape[0], 1, *shape[2:]))
        advantage = self.dense(self.n_actions * self.atoms, name="advantage")(x).reshape(shape)
        return value + advantage - advantage.mean(axis=1, keepdims=True)
