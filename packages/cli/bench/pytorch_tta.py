"""PyTorch DDP running ringtrain's recipe, for `npm run bench:tta`: the same model, data, schedule
and evaluation, so the two time-to-accuracy figures can stand side by side.

    python3 packages/cli/bench/pytorch_tta.py --world 2 --epochs 5 --seed 0 --lr 0.2 \
        --batch-size 256 --warmup-epochs 0.5 --momentum 0.9 --weight-decay 5e-4 \
        --label-smoothing 0.1 --augment --test-time-flip --zero-init-residual \
        --stem compact --width 0.5 [--ema-decay 0.999 --ema-warmup] \
        --targets 0.9,0.913,0.93 [--data-dir /usr/share/datasets/fashion-mnist] \
        [--limit-train k --limit-test k]

The recipe, as ringtrain defines it:
- ResNet-18 with one of ringtrain's stems (`--stem d2l|small|compact`) and its width multiplier
  (`--width`), from packages/model/bench/pytorch_reference.py; torchvision's init, as ringtrain's
  (convolutions He-normal with fan-out, linear layer as nn.Linear's default);
  `--zero-init-residual` sets the γ of each block's last batch norm to 0.
- Images scaled to [0, 1] and normalised with mean 0.286 and std 0.353; `--augment` pads
  `--crop-padding` (4) background pixels, crops 28x28 at random and flips half of them horizontally.
- SGD with Nesterov momentum; weight decay on convolution and linear weights only.
- One-cycle rate per step: from a third of the peak up to the peak over the warmup, then
  straight down to 0 at the last step.
- Cross-entropy with label smoothing; evaluation on all 10,000 test images after each epoch,
  with `--test-time-flip` the mean softmax of each image and its mirror.
- With `--ema-decay D` above 0, evaluation runs on an exponential moving average of the weights
  and batch-norm running statistics, updated after every step (`WeightAverage`, as ringtrain's
  packages/model/src/weight-average.ts and timm's ModelEmaV2).

Each of `--world` processes (gloo, one thread each) trains on its DistributedSampler shard of
batch-size/world images per step. Rank 0 prints one JSON object: the wall time from the start of
training to the end of the first evaluation that reached each target, and each epoch's accuracy.
"""

import argparse
import copy
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "model", "bench"))
from pytorch_reference import STEMS, resnet18  # noqa: E402

MEAN, STD = 0.286, 0.353


def read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(data_dir: str):
    def split(prefix: str):
        images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
        labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
        return torch.from_numpy(images.copy()).float().div_(255).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))

    return split("train"), split("t10k")


def augment(images: torch.Tensor, generator: torch.Generator, padding: int) -> torch.Tensor:
    n = images.shape[0]
    padded = F.pad(images, (padding, padding, padding, padding))  # background is 0 before normalisation
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    out = torch.empty_like(images)
    for i in range(n):
        out[i] = padded[i, :, dy[i] : dy[i] + 28, dx[i] : dx[i] + 28]
    flip = torch.rand(n, generator=generator) < 0.5
    out[flip] = out[flip].flip(3)
    return out


class WeightAverage:
    """e <- e + (1 - d)(w - e) over the whole state dict, buffers included, after every step, with
    d = min(D, (1 + s)/(10 + s)) after step s (0-based) when warmed up, else D; starts at the
    initial model. Integer buffers (batch norm's step counter) are copied."""

    def __init__(self, model: nn.Module, decay: float, warmup: bool) -> None:
        self.module = copy.deepcopy(model)
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.warmup = warmup

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step)) if self.warmup else self.decay
        for average, live in zip(self.module.state_dict().values(), model.state_dict().values()):
            if average.dtype.is_floating_point:
                average.lerp_(live, 1 - d)
            else:
                average.copy_(live)


def normalise(images: torch.Tensor) -> torch.Tensor:
    return (images - MEAN) / STD


def one_cycle(step: int, total: int, warmup: int, peak: float) -> float:
    if step < warmup:
        return peak * (1 / 3 + (2 / 3) * step / warmup)
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (1 - t)


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, flip: bool) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, images.shape[0], 500):
            x = normalise(images[start : start + 500])
            p = F.softmax(model(x), dim=1)
            if flip:
                p = (p + F.softmax(model(x.flip(3)), dim=1)) / 2
            correct += int((p.argmax(1) == labels[start : start + 500]).sum())
    model.train()
    return correct / images.shape[0]


def run(rank: int, args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    dist.init_process_group("gloo", rank=rank, world_size=args.world)
    torch.manual_seed(args.seed)
    (train_x, train_y), (test_x, test_y) = load(args.data_dir)
    if args.limit_train is not None:
        train_x, train_y = train_x[: args.limit_train], train_y[: args.limit_train]
    if args.limit_test is not None:
        test_x, test_y = test_x[: args.limit_test], test_y[: args.limit_test]
    model = resnet18(args.stem, args.width)
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    if args.zero_init_residual:
        for module in model.modules():
            if hasattr(module, "bn2") and hasattr(module, "conv2"):
                nn.init.zeros_(module.bn2.weight)
    # The average starts from the weights DDP has broadcast from rank 0, the ones every rank trains.
    model = nn.parallel.DistributedDataParallel(model)
    average = WeightAverage(model.module, args.ema_decay, args.ema_warmup) if args.ema_decay > 0 else None
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0}],
        lr=args.lr, momentum=args.momentum, nesterov=args.momentum > 0,
    )
    per_rank = args.batch_size // args.world
    sampler = torch.utils.data.distributed.DistributedSampler(range(train_x.shape[0]), num_replicas=args.world, rank=rank, shuffle=True, seed=args.seed)
    steps_per_epoch = len(sampler) // per_rank + (1 if len(sampler) % per_rank else 0)
    total = steps_per_epoch * args.epochs
    warmup = min(total - 1, round(args.warmup_epochs * steps_per_epoch))
    targets = sorted(float(t) for t in args.targets.split(",") if t)
    reached: dict = {}
    history = []
    generator = torch.Generator().manual_seed(args.seed * 1000 + rank)
    dist.barrier()
    started = time.perf_counter()
    step = 0
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        order = torch.tensor(list(iter(sampler)))
        for start in range(0, order.shape[0], per_rank):
            idx = order[start : start + per_rank]
            x = train_x[idx]
            if args.augment:
                x = augment(x, generator, args.crop_padding)
            for group in optimizer.param_groups:
                group["lr"] = one_cycle(step, total, warmup, args.lr)
            loss = F.cross_entropy(model(normalise(x)), train_y[idx], label_smoothing=args.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if average is not None:
                average.update(model.module, step)
            step += 1
        # Every rank evaluates the whole test set (replicas are identical), as ringtrain's ranks
        # evaluate shares of it; only rank 0 reports.
        accuracy = evaluate(model.module if average is None else average.module, test_x, test_y, args.test_time_flip)
        wall = time.perf_counter() - started
        history.append({"epoch": epoch + 1, "testAccuracy": accuracy, "wallSeconds": wall})
        for target in targets:
            if accuracy >= target and target not in reached:
                reached[target] = {"target": target, "epoch": epoch + 1, "wallSeconds": wall, "testAccuracy": accuracy}
    if rank == 0:
        print(json.dumps({
            "framework": "pytorch-ddp",
            "version": torch.__version__,
            "world": args.world,
            "seed": args.seed,
            "steps": step,
            "testAccuracy": history[-1]["testAccuracy"],
            "wallSeconds": time.perf_counter() - started,
            "timeToAccuracy": [reached[t] for t in targets if t in reached],
            "history": history,
        }))
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--warmup-epochs", type=float, default=0.5)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--augment", action="store_true")
    parser.add_argument("--crop-padding", type=int, default=4, help="with --augment, background pixels on each side before the crop")
    parser.add_argument("--test-time-flip", action="store_true")
    parser.add_argument("--zero-init-residual", action="store_true")
    parser.add_argument("--stem", choices=sorted(STEMS), default="d2l")
    parser.add_argument("--width", type=float, default=1.0, help="width multiplier of the stem and every stage")
    parser.add_argument("--ema-decay", type=float, default=0.0, help="decay of the weight average evaluated (0: none)")
    parser.add_argument("--ema-warmup", action="store_true", help="ramp the decay up as min(D, (1 + step)/(10 + step))")
    parser.add_argument("--limit-train", type=int, help="train on the first k training images (default: all)")
    parser.add_argument("--limit-test", type=int, help="evaluate on the first k test images (default: all)")
    parser.add_argument("--targets", default="0.9,0.913,0.93")
    parser.add_argument("--port", type=int, default=29517)
    parser.add_argument("--data-dir", default=os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
    args = parser.parse_args()
    if args.batch_size % args.world != 0:
        parser.error(f"--batch-size {args.batch_size} does not split over --world {args.world}")
    if not args.width > 0:
        parser.error(f"--width must be above 0, got {args.width}")
    if not 0 <= args.ema_decay <= 1:
        parser.error(f"--ema-decay must be in [0, 1] (0: no weight average), got {args.ema_decay}")
    if args.ema_warmup and args.ema_decay == 0:
        parser.error("--ema-warmup needs --ema-decay above 0")
    for flag, value in (("--limit-train", args.limit_train), ("--limit-test", args.limit_test)):
        if value is not None and value < 1:
            parser.error(f"{flag} must be at least 1, got {value}")
    os.environ["MASTER_PORT"] = str(args.port)
    mp.spawn(run, args=(args,), nprocs=args.world, join=True)


if __name__ == "__main__":
    main()
