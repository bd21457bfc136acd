"""Token-level training and decoding speed: qlearn's JAX (jit + lax.scan) against the same
model and loss written plainly in PyTorch, on the same logged walks, side by side.

    .venv/bin/python bench/text_train.py [--steps 200] [--method ilql]

Both sides: the default graph-walk transformer (width 64, 2 blocks, 4 heads, pre-norm,
GELU MLP, LayerNorm; LM head, two Q heads, V head, two target Q heads), minibatches of
128 whole walks (10 positions), Adam at 1e-3 with gradients clipped at norm 1, ILQL's loss
with trlx's coefficients (or behaviour cloning). Decoding: 20 x 128 walks sampled token by
token from the LM head, the whole prefix re-read at each step (no cache on either side).
Tokens/s counts the positions processed (batch x 10 per step; walks x 9 when decoding).
Compilation (JAX) and a warm-up step (PyTorch) are left out and reported separately.
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from qlearn.text.decoding import sample_walks
from qlearn.text.fitting import FitSettings, init_state, run_steps, training_batch
from qlearn.text.graph_tasks import make_task, random_walks
from qlearn.text.logged import walks_from_lists
from qlearn.text.transformer import ModelSize

WIDTH, DEPTH, HEADS, BATCH = 64, 2, 4, 128


class TorchBlock(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )

    def forward(self, x, mask):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class TorchNet(nn.Module):
    """The same network as :mod:`qlearn.text.transformer`, in PyTorch."""

    def __init__(self, vocab: int, length: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, WIDTH)
        self.pos = nn.Parameter(torch.randn(length, WIDTH) * 0.02)
        self.blocks = nn.ModuleList(TorchBlock(WIDTH, HEADS) for _ in range(DEPTH))
        self.ln = nn.LayerNorm(WIDTH)
        self.lm = nn.Linear(WIDTH, vocab)

        def q() -> nn.Module:
            return nn.Sequential(
                nn.Linear(WIDTH, 2 * WIDTH), nn.ReLU(), nn.Linear(2 * WIDTH, vocab)
            )

        # noqa: E731
        self.q1, self.q2, self.t1, self.t2 = q(), q(), q(), q()
        self.t1.load_state_dict(self.q1.state_dict())
        self.t2.load_state_dict(self.q2.state_dict())
        for p in [*self.t1.parameters(), *self.t2.parameters()]:
            p.requires_grad_(False)
        self.v = nn.Linear(WIDTH, 1)

    def hidden(self, tokens):
        t = tokens.shape[1]
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
        x = self.embed(tokens) + self.pos[:t]
        for block in self.blocks:
            x = block(x, mask)
        return self.ln(x)


def torch_ilql_loss(net: TorchNet, tokens, lengths, rewards, method: str):
    """trlx's ILQL loss (tau 0.8, gamma 0.99, cql 0.1, awac 1), or BC's cross-entropy."""
    h = net.hidden(tokens)
    actions = tokens[:, 1:]
    t = torch.arange(tokens.shape[1] - 1)[None]
    last = (lengths - 2)[:, None]
    exists, final, goes_on = (t <= last).float(), (t == last).float(), (t < last).float()
    n = exists.sum().clamp(min=1)
    logits = net.lm(h)[:, :-1]
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), actions.reshape(-1),
                         reduction="none").reshape(actions.shape)  # fmt: skip
    if method == "bc":
        return (ce * exists).sum() / n
    pick = lambda q: q[:, :-1].gather(-1, actions[..., None])[..., 0]  # noqa: E731
    qs = [net.q1(h), net.q2(h)]
    with torch.no_grad():
        hd = h.detach()
        tq = torch.minimum(pick(net.t1(hd)), pick(net.t2(hd)))
    v = net.v(h)[..., 0]
    v_now, v_next = v[:, :-1], v[:, 1:] * goes_on
    backup = rewards[:, None] * final + 0.99 * v_next.detach()
    loss_q = sum((((pick(q) - backup) ** 2) * exists).sum() / n for q in qs)
    d = tq - v_now
    loss_v = ((torch.where(d >= 0, 0.8, 0.2) * d**2) * exists).sum() / n
    cql = sum(
        (F.cross_entropy(q[:, :-1].reshape(-1, q.shape[-1]), actions.reshape(-1), reduction="none")
         .reshape(actions.shape) * exists).sum() / n for q in qs
    )  # fmt: skip
    return loss_q + loss_v + 0.1 * cql + (ce * exists).sum() / n


def torch_train(walks, steps: int, method: str, vocab: int, length: int) -> float:
    torch.manual_seed(0)
    net = TorchNet(vocab, length)
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-3)
    tokens = torch.as_tensor(walks.tokens, dtype=torch.long)
    lengths = torch.as_tensor(walks.lengths, dtype=torch.long)
    r = torch.as_tensor(walks.rewards)
    rewards = (r - r.mean()) / (r.std(unbiased=False) + 1e-8)
    gen = torch.Generator().manual_seed(0)

    def step(i: int) -> None:
        idx = torch.randint(0, len(tokens), (BATCH,), generator=gen)
        loss = torch_ilql_loss(net, tokens[idx], lengths[idx], rewards[idx], method)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        if method == "ilql" and (i + 1) % 5 == 0:
            with torch.no_grad():
                for t, q in ((net.t1, net.q1), (net.t2, net.q2)):
                    for pt, pq in zip(t.parameters(), q.parameters(), strict=True):
                        pt.mul_(0.9).add_(0.1 * pq)

    step(0)  # warm-up
    started = time.perf_counter()
    for i in range(steps):
        step(i + 1)
    return time.perf_counter() - started


def torch_decode(vocab: int, length: int, prompts: np.ndarray) -> float:
    torch.manual_seed(0)
    net = TorchNet(vocab, length).eval()
    tokens = torch.zeros((len(prompts), length), dtype=torch.long)
    tokens[:, 0] = torch.as_tensor(prompts)
    started = time.perf_counter()
    with torch.no_grad():
        for t in range(length - 1):
            logits = net.lm(net.hidden(tokens)[:, t])
            tokens[:, t + 1] = torch.multinomial(F.softmax(logits, -1), 1)[:, 0]
    return time.perf_counter() - started


def jax_train(walks, steps: int, method: str, size: ModelSize) -> tuple[float, float]:
    settings = FitSettings(steps=steps, batch=BATCH)
    data = training_batch(walks, method, settings)
    state = init_state(size, settings, jax.random.key(0))
    started = time.perf_counter()
    run = lambda s, n: run_steps(s, jax.random.key(1), data, size=size, settings=settings,  # noqa: E731
                                 method=method, count=n)  # fmt: skip
    jax.block_until_ready(run(state, steps))  # compiles (and runs once)
    compile_and_run = time.perf_counter() - started
    started = time.perf_counter()
    jax.block_until_ready(run(state, steps))
    seconds = time.perf_counter() - started
    return seconds, compile_and_run - seconds


def jax_decode(size: ModelSize, prompts: np.ndarray) -> float:
    params = init_state(size, FitSettings(), jax.random.key(0)).params

    def go():
        return sample_walks(
            "lm", size, {"policy": params}, 0.0, jnp.asarray(prompts), jax.random.key(2)
        )

    jax.block_until_ready(go())
    started = time.perf_counter()
    jax.block_until_ready(go())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--method", choices=("ilql", "bc"), default="ilql")
    args = parser.parse_args()
    cores = torch.get_num_threads()
    task = make_task()
    walks = walks_from_lists(task, random_walks(task, 1000))
    size = ModelSize(task.vocab, task.max_length, WIDTH, DEPTH, HEADS)
    prompts = np.repeat(task.starts, 128)
    print(f"machine: {platform.processor() or platform.machine()}, {cores} cores; "
          f"jax {jax.__version__}, torch {torch.__version__}")  # fmt: skip
    print(
        f"training {args.method}: {args.steps} steps x {BATCH} walks x {task.max_length} positions"
    )
    tokens = args.steps * BATCH * task.max_length
    j, compile_s = jax_train(walks, args.steps, args.method, size)
    # PyTorch at 1 thread and at every core (intra-op threads contend on a busy machine):
    # the faster counts
    times = {}
    for threads in sorted({1, cores}):
        torch.set_num_threads(threads)
        times[threads] = torch_train(walks, args.steps, args.method, task.vocab, task.max_length)
    best = min(times, key=times.get)
    t = times[best]
    print(
        f"  qlearn (JAX, jit + scan): {tokens / j:12,.0f} tokens/s  ({j:.2f} s; "
        f"compile {compile_s:.1f} s)"
    )
    for threads, secs in times.items():
        print(
            f"  PyTorch (eager, {threads} thr)  : {tokens / secs:12,.0f} tokens/s  ({secs:.2f} s)"
        )
    print(f"  ratio (against the faster PyTorch): {t / j:.2f}x")
    gen = len(prompts) * (task.max_length - 1)
    torch.set_num_threads(best)
    jd, td = jax_decode(size, prompts), torch_decode(task.vocab, task.max_length, prompts)
    print(f"decoding: {len(prompts):,} walks x {task.max_length - 1} tokens")
    print(f"  qlearn (JAX): {gen / jd:12,.0f} tokens/s  ({jd:.3f} s)")
    print(f"  PyTorch ({best} thr): {gen / td:12,.0f} tokens/s  ({td:.3f} s)")
    print(f"  ratio: {td / jd:.2f}x")


if __name__ == "__main__":
    main()
