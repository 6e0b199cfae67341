"""A small, independent NIR interpreter (no snnsec code): the standard's equations, forward Euler.

Each step, every node in topological order reads the sum of its predecessors' outputs of the same
step (NIR sums a node's inputs); neurons keep their membrane across steps. Shapes are one sample
with a leading batch dimension. Semantics, from the NIR 1.0 node definitions:

- ``Conv2d``: cross-correlation with bias; ``Affine``: ``W x + b``; ``Linear``: ``W x``;
- ``Flatten``: over the sample's dimensions (``start_dim`` counts from the unbatched shape);
- ``AvgPool2d`` / ``SumPool2d``: mean / sum over each window; ``Scale``: elementwise product;
- ``IF``: ``v += r * I``; ``LIF``: ``v += (dt / tau) * (v_leak - v + r * I)``;
- fire ``z = v > v_threshold``; where ``z``: ``v = v_reset``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def _t(a, dtype):
    return torch.as_tensor(np.asarray(a), dtype=dtype)


def _pair(v):
    a = np.atleast_1d(np.asarray(v)).astype(int).tolist()
    return tuple(a * 2 if len(a) == 1 else a)


def run(graph, x_steps: torch.Tensor, dt: float = 1.0, dtype=torch.float64) -> torch.Tensor:
    """Outputs of the ``Output`` node for input steps ``[T, B, ...]``: ``[T, B, ...]``."""
    nodes, edges = graph.nodes, [tuple(e) for e in graph.edges]
    preds = {n: [a for a, b in edges if b == n] for n in nodes}
    order, done = [], set()
    while len(order) < len(nodes):  # Kahn's algorithm
        ready = [n for n in nodes if n not in done and all(p in done for p in preds[n])]
        assert ready, "cycle"
        for n in sorted(ready):
            order.append(n)
            done.add(n)
    state: dict[str, torch.Tensor] = {}
    outputs = []
    for t in range(x_steps.shape[0]):
        val: dict[str, torch.Tensor] = {}
        for name in order:
            node = nodes[name]
            kind = type(node).__name__
            if kind == "Input":
                val[name] = x_steps[t].to(dtype)
                continue
            inp = sum(val[p] for p in preds[name])
            if kind == "Conv2d":
                pad = node.padding if isinstance(node.padding, str) else _pair(node.padding)
                val[name] = F.conv2d(inp, _t(node.weight, dtype), _t(node.bias, dtype), stride=_pair(node.stride),
                                     padding=pad, dilation=_pair(node.dilation), groups=int(node.groups))
            elif kind == "Affine":
                val[name] = inp @ _t(node.weight, dtype).T + _t(node.bias, dtype)
            elif kind == "Linear":
                val[name] = inp @ _t(node.weight, dtype).T
            elif kind in ("AvgPool2d", "SumPool2d"):
                k, st, pd = _pair(node.kernel_size), _pair(node.stride), _pair(node.padding)
                pooled = F.avg_pool2d(inp, k, st, pd, count_include_pad=True)
                val[name] = pooled * (k[0] * k[1]) if kind == "SumPool2d" else pooled
            elif kind == "Scale":
                val[name] = inp * _t(node.scale, dtype)
            elif kind == "Flatten":
                start, end = int(node.start_dim), int(node.end_dim)
                val[name] = inp.flatten(start + 1 if start >= 0 else start, end + 1 if end >= 0 else end)
            elif kind in ("IF", "LIF"):
                v = state.get(name, torch.zeros_like(inp))
                if kind == "IF":
                    v = v + _t(node.r, dtype) * inp
                else:
                    v = v + (dt / _t(node.tau, dtype)) * (_t(node.v_leak, dtype) - v + _t(node.r, dtype) * inp)
                z = (v > _t(node.v_threshold, dtype)).to(dtype)
                state[name] = torch.where(z.bool(), _t(node.v_reset, dtype).expand_as(v), v)
                val[name] = z
            elif kind == "Output":
                val[name] = inp
                outputs.append(inp)
            else:
                raise NotImplementedError(kind)
    return torch.stack(outputs)
