"""The paper's reference models, rebuilt here in plain torch with the reference code's module names.

Their ``state_dict()`` therefore has the reference checkpoint key layout (``layer1.0.weight``,
``classifier.1.bias``, ``pre_conv.fwd.1.running_var``, ...), and their forward is the reference
forward: normalise, repeat T times, fold time into the batch, its LIFSpike (``mem = mem*tau + x``,
spike on ``mem - 1 >= 0``, ``mem = (1 - spike) * mem``), output ``[T, B, classes]``. Nothing from
snnsec is used. ``width`` narrows every layer so tests stay small; the key layout is unchanged.
"""

from __future__ import annotations

import torch
from torch import nn


class LIFSpike(nn.Module):
    def __init__(self, T: int, tau: float) -> None:
        super().__init__()
        self.T, self.tau = T, tau

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(self.T, x.shape[0] // self.T, *x.shape[1:])
        mem, out = 0.0, []
        for t in range(self.T):
            mem = mem * self.tau + x[t]
            spike = ((mem - 1.0) >= 0).float()
            mem = (1 - spike) * mem
            out.append(spike)
        return torch.stack(out).flatten(0, 1)


VGG_CFG = {
    "vgg11": [[64, "A"], [128, 256, "A"], [512, 512, 512, "A"], [512, 512], []],
    "vggdvs": [[64, 128, "A"], [256, 256, "A"], [512, 512, "A"], [512, 512, "A"]],
}


class RefVGG(nn.Module):
    """Reference VGG (CIFAR: classifier Flatten, Linear, LIF, Linear, LIF, Linear)."""

    def __init__(self, name: str, T: int, num_class: int, tau: float, width: float,
                 norm: tuple | None = ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))) -> None:
        super().__init__()
        self.T, self.norm = T, norm
        c = 3
        stages = VGG_CFG[name]
        for k, stage in enumerate(stages, start=1):
            layers: list[nn.Module] = []
            for v in stage:
                if v == "A":
                    layers.append(nn.AvgPool2d(2))
                else:
                    v = int(v * width)
                    layers += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.BatchNorm2d(v), LIFSpike(T, tau)]
                    c = v
            setattr(self, f"layer{k}", nn.Sequential(*layers))
        h = int(4096 * width)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(c * 16, h), LIFSpike(T, tau), nn.Linear(h, h),
                                        LIFSpike(T, tau), nn.Linear(h, num_class))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = (torch.tensor(v)[None, :, None, None] for v in self.norm)
        x = x.sub(mean).div(std)
        x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1).flatten(0, 1)
        for k in range(1, 6):
            x = getattr(self, f"layer{k}")(x)
        out = self.classifier(x)
        return out.view(self.T, -1, out.shape[-1])


class RefConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int, padding: int) -> None:
        super().__init__()
        self.fwd = nn.Sequential(nn.Conv2d(cin, cout, k, stride, padding, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fwd(x)


class RefBlock(nn.Module):
    def __init__(self, cin: int, cout: int, T: int, tau: float, stride: int = 1, shortcut: nn.Module | None = None):
        super().__init__()
        self.conv1 = RefConv(cin, cout, 3, stride, 1)
        self.neuron1 = LIFSpike(T, tau)
        self.conv2 = RefConv(cout, cout, 3, 1, 1)
        self.neuron2 = LIFSpike(T, tau)
        self.right = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.neuron1(self.conv1(x)))
        out = out + (x if self.right is None else self.right(x))
        return self.neuron2(out)


class RefResNet17(nn.Module):
    """Reference ResNet17 (``stages=None``) or, with ResNet19's stages, ResNet19."""

    def __init__(self, T: int, tau: float, num_class: int, width: float, stem: int = 64,
                 stages: tuple = ((64, 3, 2), (128, 4, 2))) -> None:
        super().__init__()
        self.T = T
        c, h = int(stem * width), int(256 * width)
        self.pre_conv = RefConv(3, c, 3, 1, 1)
        self.neuron1 = LIFSpike(T, tau)
        for k, (channels, blocks, stride) in enumerate(stages, start=1):
            out = int(channels * width)
            setattr(self, f"layer{k}", self.make_layer(c, out, blocks, stride, T, tau))
            c = out
        self.n_stages = len(stages)
        self.pool = nn.AvgPool2d(2, 2)
        self.fc1 = nn.Sequential(nn.Linear(c * 4 * 4, h), nn.BatchNorm1d(h))
        self.fc2 = nn.Linear(h, num_class)

    @staticmethod
    def make_layer(cin: int, cout: int, blocks: int, stride: int, T: int, tau: float) -> nn.Sequential:
        layers = [RefBlock(cin, cout, T, tau, stride, RefConv(cin, cout, 1, stride, 0))]
        layers += [RefBlock(cout, cout, T, tau) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor((0.4914, 0.4822, 0.4465))[None, :, None, None]
        std = torch.tensor((0.2023, 0.1994, 0.2010))[None, :, None, None]
        x = x.sub(mean).div(std).unsqueeze(0).repeat(self.T, 1, 1, 1, 1).flatten(0, 1)
        x = self.neuron1(self.pre_conv(x))
        for k in range(1, self.n_stages + 1):
            x = getattr(self, f"layer{k}")(x)
        x = torch.flatten(self.pool(x), 1)
        out = self.fc2(self.fc1(x))
        return out.view(self.T, -1, out.shape[-1])


def randomise_batchnorm(model: nn.Module, seed: int) -> nn.Module:
    """Trained-looking BN statistics, so neurons fire at different rates."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.3, 0.3, generator=g)
            m.running_var.uniform_(0.5, 2.0, generator=g)
            m.weight.data.uniform_(0.5, 2.0, generator=g)
            m.bias.data.uniform_(0.0, 0.8, generator=g)
            m.num_batches_tracked.fill_(1234)
    return model.eval()


class RefVGGDVS(nn.Module):
    """Reference VGGDVS: layer1..layer4 from the cfg, classifier.0 = Linear; input [T, B, 2, 48, 48]."""

    def __init__(self, T: int, num_class: int, tau: float, width: float, init_s: int = 48) -> None:
        super().__init__()
        self.T, c = T, 2
        for k, stage in enumerate(VGG_CFG["vggdvs"], start=1):
            layers: list[nn.Module] = []
            for v in stage:
                if v == "A":
                    layers.append(nn.AvgPool2d(2))
                else:
                    v = int(v * width)
                    layers += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.BatchNorm2d(v), LIFSpike(T, tau)]
                    c = v
            setattr(self, f"layer{k}", nn.Sequential(*layers))
        W = int(init_s / (1 << 4)) ** 2
        self.classifier = nn.Sequential(nn.Linear(c * W, num_class))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [T, B, C, H, W] (the reference transposes)
        out = x.flatten(0, 1)
        for k in range(1, 5):
            out = getattr(self, f"layer{k}")(out)
        out = self.classifier(torch.flatten(out, 1))
        return out.view(self.T, -1, out.shape[-1])


class RefCNNDVS(nn.Module):
    def __init__(self, T: int, num_class: int, tau: float, init_s: int = 48) -> None:
        super().__init__()
        self.T = T
        w = int(int((int((init_s + 2 - 5) / 2) + 1) / 2) / 2)
        self.layer = nn.Sequential(
            nn.Conv2d(2, 16, 5, 2, 1), nn.BatchNorm2d(16), LIFSpike(T, tau), nn.AvgPool2d(2, 2), LIFSpike(T, tau),
            nn.Conv2d(16, 32, 3, 1, 1), nn.BatchNorm2d(32), LIFSpike(T, tau), nn.AvgPool2d(2, 2), LIFSpike(T, tau))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * w * w, 512), LIFSpike(T, tau), nn.Linear(512, num_class))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.classifier(self.layer(x.flatten(0, 1)))
        return out.view(self.T, -1, out.shape[-1])
