"""PyTorch reference for ringtrain's model benchmark: the same ResNet-18, the same step.

    python3 packages/model/bench/pytorch_reference.py [--threads 1] [--batch 128]
                                                      [--image-size 28] [--steps 10] [--warmup 3]

The model is ringtrain's ResNet-18 with the d2l stem, as in the d2l chapter on ResNet: a 7x7/2
convolution to 64 channels without bias, batch norm, ReLU, a 3x3/2 max-pool with padding 1; four
stages of two basic blocks at 64/128/256/512 channels (a 1x1 projection shortcut where stride or
width changes); adaptive average pooling; a linear layer to 10 classes. Inputs are 28x28x1.

A timed step is forward, cross-entropy loss, backward and an SGD update with momentum 0.9 and
weight decay 1e-4 (ringtrain's Trainer defaults), on one fixed synthetic batch. Warm-up steps
are not timed; the figure is the median of the timed steps. The thread count is set with
torch.set_num_threads, so run one process per thread count: OpenMP keeps its first pool size.

Prints one JSON object on stdout: framework, version, oneDNN, threads, batchSize, imageSize,
examplesPerSecond, stepMs, peakRssBytes (ru_maxrss of this process) and cpuShare (CPU time per
wall-clock second and thread while timed; well below 1 means the cores were shared).
"""

import argparse
import json
import math
import resource
import statistics
import sys
import time

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm; a 1x1 projection shortcut when the shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (x if self.shortcut is None else self.shortcut(x)))


# ringtrain's stems (packages/model/src/resnet-table.ts, STEMS): kernel, stride, 3x3/2 max-pool.
STEMS = {"d2l": (7, 2, True), "small": (3, 1, False), "compact": (3, 1, True)}


def scale_width(width: int, multiplier: float) -> int:
    """ringtrain's `scaleWidth`: JavaScript's Math.round (halves up, unlike Python's round), at least 1."""
    return max(1, math.floor(width * multiplier + 0.5))


def resnet18(stem: str = "d2l", width: float = 1.0, channels: int = 1, classes: int = 10) -> nn.Module:
    """ResNet-18 with one of ringtrain's stems and its width multiplier on the stem and every stage.

    Stride-2 layers pad 1 on every side, where ringtrain's 'same' padding pads only the bottom and
    right of an even input: the shapes agree, the windows sit one pixel apart.
    """
    kernel, stride, max_pool = STEMS[stem]
    stem_width = scale_width(64, width)
    layers = [
        nn.Conv2d(channels, stem_width, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(stem_width),
        nn.ReLU(),
    ]
    if max_pool:
        layers.append(nn.MaxPool2d(3, stride=2, padding=1))
    stages = []
    in_channels = stem_width
    for index, stage_width in enumerate((64, 128, 256, 512)):
        out_channels = scale_width(stage_width, width)
        first_stride = 1 if index == 0 else 2
        stages.append(BasicBlock(in_channels, out_channels, first_stride))
        stages.append(BasicBlock(out_channels, out_channels, 1))
        in_channels = out_channels
    return nn.Sequential(nn.Sequential(*layers), *stages, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_channels, classes))


def resnet18_d2l(channels: int = 1, classes: int = 10) -> nn.Module:
    return resnet18("d2l", 1.0, channels, classes)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=positive_int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--batch", type=positive_int, default=128, help="batch size (default 128)")
    parser.add_argument("--image-size", type=positive_int, default=28, help="image side in pixels (default 28)")
    parser.add_argument("--steps", type=positive_int, default=10, help="timed steps (default 10)")
    parser.add_argument("--warmup", type=non_negative_int, default=3, help="untimed steps first (default 3)")
    parser.add_argument(
        "--autocast-bf16", action="store_true",
        help="forward and backward in bfloat16 under torch.autocast('cpu'), f32 master weights (mixed precision)",
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = resnet18_d2l()
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    # The same deterministic batch as the TypeScript benchmark: sin(0.7 i) * 1.5, labels i mod 10.
    count = args.batch * args.image_size * args.image_size
    images = torch.tensor([math.sin(i * 0.7) * 1.5 for i in range(count)], dtype=torch.float32)
    images = images.reshape(args.batch, args.image_size, args.image_size, 1).permute(0, 3, 1, 2).contiguous()
    labels = torch.arange(args.batch) % 10

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.autocast_bf16):
            loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        loss.item()

    for _ in range(args.warmup):
        step()
    times_ms = []
    cpu_before = time.process_time()
    wall_before = time.perf_counter()
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times_ms.append((time.perf_counter() - start) * 1000)
    cpu_seconds = time.process_time() - cpu_before
    wall_seconds = time.perf_counter() - wall_before
    step_ms = statistics.median(times_ms)
    mkldnn = torch.backends.mkldnn.is_available()
    onednn = torch.__config__.show().split("MKL-DNN v", 1)[1].split()[0] if mkldnn else None
    json.dump(
        {
            "framework": "pytorch",
            "version": torch.__version__,
            "oneDNN": onednn,
            "threads": torch.get_num_threads(),
            "batchSize": args.batch,
            "imageSize": args.image_size,
            "precision": "bf16 autocast" if args.autocast_bf16 else "f32",
            "examplesPerSecond": args.batch * 1000 / step_ms,
            "stepMs": step_ms,
            # ru_maxrss is in KiB on Linux: the peak over this process's life.
            "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "cpuShare": cpu_seconds / wall_seconds / args.threads,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
