"""A PyTorch twin of edgeseg's U-Net, for GPU machines that have PyTorch but no TensorFlow.

The lent GPU machines carry PyTorch only, and TensorFlow's CUDA wheels are far over what can
travel there. This script trains the same architecture as ``edgeseg.models.unet`` (same layers,
'same' padding, BatchNorm eps 1e-3, BCE+Dice, the ranges of
``recipes/isic2017_unet_w025_focal_cosine.json`` except hue) on ISIC 2017 train, selects the epoch
on validation, and writes:

- ``summary.json``: per run, the epoch log and the best validation Dice (per image, mean, scored at
  the masks' 192x256 after a bilinear resize of the probabilities, threshold 0.5, as
  ``edgeseg eval`` does; a ported model scores within 0.001 of it there);
- ``<name>.npz``: the best weights under Keras layer names (``enc1_conv1/kernel`` ...), in Keras
  layouts, plus the float probabilities of the first 8 validation images, so a port can be
  checked (``bench/experiments/port_torch_unet.py``);
- ``maps_<k>.npz`` for the teacher run: its probabilities on every training image at 192x256
  (mean over identity, h-flip and v-flip), uint8 0..255, with the file stems.

Usage on the device machine (data copied to ``.gpu_data/isic2017/{train,validation}``)::

    python3 bench/experiments/gpu_torch_unet.py --data .gpu_data/isic2017 --out $OUT \
        --run w100:192x256:300s --run w025:144x192:200s --teacher w100

A run is ``WIDTH:HxW:BUDGET``: width w100/w050/w025, training size, and a time budget (``300s``)
or an epoch count (``40``). With a time budget the epoch count is set after one timed epoch so
the cosine schedule still ends at zero: epoch 1 warms up (and autotunes cuDNN), epoch 2 is timed.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import cv2
import numpy as np

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ModuleNotFoundError as e:  # edgeseg's .venv has no PyTorch; the lent GPU machine has
    raise SystemExit(f"gpu_torch_unet.py needs PyTorch ({e}); run it where torch is installed") from None

WIDTHS = {"w100": 1.0, "w050": 0.5, "w025": 0.25}
BASE = (64, 128, 256, 512)
AUG = {"rotation": 20.0, "zoom": 0.2, "shear": 5.0, "brightness": 0.15, "contrast": 0.15, "saturation": 0.2}


def round_channels(c: float, divisor: int = 8) -> int:  # copy of edgeseg.models.blocks.round_channels:
    # importing edgeseg would import TensorFlow, which the GPU machine lacks
    r = max(divisor, int(c + divisor / 2) // divisor * divisor)
    return r + divisor if r < 0.9 * c else r


class Block(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)

    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


class UNet(nn.Module):
    def __init__(self, width: float) -> None:
        super().__init__()
        ch = [round_channels(c * width) for c in BASE]
        self.ch = ch
        self.enc = nn.ModuleList([Block(3 if i == 0 else ch[i - 1], c) for i, c in enumerate(ch)])
        bott = round_channels(2 * BASE[-1] * width)
        self.bottleneck = Block(ch[-1], bott)
        ups, decs, prev = [], [], bott
        for c in reversed(ch):
            ups.append(nn.ConvTranspose2d(prev, c, 2, stride=2))
            decs.append(Block(2 * c, c))
            prev = c
        self.ups, self.decs = nn.ModuleList(ups), nn.ModuleList(decs)
        self.head = nn.Conv2d(ch[0], 1, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # Keras he_normal, zero bias
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x):
        skips = []
        for blk in self.enc:
            x = blk(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for up, dec, skip in zip(self.ups, self.decs, reversed(skips)):
            x = dec(torch.cat([up(x), skip], 1))  # Keras concatenates [upconv, skip]
        return self.head(x)  # logits

    def keras_weights(self) -> dict[str, np.ndarray]:
        """Weights under Keras names and layouts (conv HWIO, transposed conv HW-out-in)."""
        out: dict[str, np.ndarray] = {}

        def conv(name, m):
            out[f"{name}/kernel"] = m.weight.detach().float().permute(2, 3, 1, 0).cpu().numpy()
            out[f"{name}/bias"] = m.bias.detach().float().cpu().numpy()

        def block(name, b):
            for i in (1, 2):
                conv(f"{name}_conv{i}", getattr(b, f"conv{i}"))
                bn = getattr(b, f"bn{i}")
                for k, t in (("gamma", bn.weight), ("beta", bn.bias), ("moving_mean", bn.running_mean),
                             ("moving_variance", bn.running_var)):
                    out[f"{name}_bn{i}/{k}"] = t.detach().float().cpu().numpy()

        for level, blk in enumerate(self.enc, start=1):
            block(f"enc{level}", blk)
        block("bottleneck", self.bottleneck)
        for level, up, dec in zip(range(len(self.ch), 0, -1), self.ups, self.decs):
            # torch ConvTranspose2d weight is (in, out, kh, kw); Keras wants (kh, kw, out, in).
            out[f"dec{level}_upconv/kernel"] = up.weight.detach().float().permute(2, 3, 1, 0).cpu().numpy()
            out[f"dec{level}_upconv/bias"] = up.bias.detach().float().cpu().numpy()
            block(f"dec{level}", dec)
        conv("head_conv", self.head)
        return out


def load_split(root: Path, split: str, size: tuple[int, int]):
    """uint8 images (N, 3, h, w) at ``size``, masks (N, 1, h, w) {0,1} at ``size`` and at full size, stems."""
    stems = sorted(p.stem for p in (root / split / "images").glob("*.jpg"))
    h, w = size
    imgs, masks, full = [], [], []
    for s in stems:
        img = cv2.cvtColor(cv2.imread(str(root / split / "images" / f"{s}.jpg")), cv2.COLOR_BGR2RGB)
        m = (cv2.imread(str(root / split / "masks" / f"{s}.png"), cv2.IMREAD_GRAYSCALE) > 127).astype(np.uint8)
        full.append(m)
        if img.shape[:2] != (h, w):  # as edgeseg.data.pipeline.resize_image / resize_mask
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if img.shape[0] > h else cv2.INTER_LINEAR)
            m = (cv2.resize(m.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) >= 0.5).astype(np.uint8)
        imgs.append(img)
        masks.append(m)
    return (np.stack(imgs).transpose(0, 3, 1, 2), np.stack(masks)[:, None], full, stems)


def augment(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator):
    """Batch version of edgeseg.data.augment (hue left out): x (B,3,H,W) in [0,1], y (B,1,H,W)."""
    b, _, h, w = x.shape
    dev = x.device

    def u(lo, hi):
        return torch.rand(b, device=dev, generator=gen) * (hi - lo) + lo

    a = u(-math.radians(AUG["rotation"]), math.radians(AUG["rotation"]))
    s = u(-math.radians(AUG["shear"]), math.radians(AUG["shear"]))
    z = u(1 - AUG["zoom"], 1 + AUG["zoom"])
    c, sn, t = torch.cos(a), torch.sin(a), torch.tan(s)
    m00, m01, m10, m11 = c * z, (c * t - sn) * z, sn * z, (sn * t + c) * z
    # Pixel-space matrix -> normalised coordinates (x spans w, y spans h).
    theta = torch.stack([torch.stack([m00, m01 * h / w, torch.zeros_like(a)], 1),
                         torch.stack([m10 * w / h, m11, torch.zeros_like(a)], 1)], 1)
    grid = F.affine_grid(theta, (b, 4, h, w), align_corners=False)
    both = F.grid_sample(torch.cat([x, y], 1), grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    x, y = both[:, :3], (both[:, 3:] > 0.5).float()
    for dim in (3, 2):
        flip = (torch.rand(b, device=dev, generator=gen) < 0.5).view(b, 1, 1, 1)
        x, y = torch.where(flip, x.flip(dim), x), torch.where(flip, y.flip(dim), y)
    x = x + u(-AUG["brightness"], AUG["brightness"]).view(b, 1, 1, 1)
    mean = x.mean((1, 2, 3), keepdim=True)
    x = (x - mean) * u(1 - AUG["contrast"], 1 + AUG["contrast"]).view(b, 1, 1, 1) + mean
    x = x.clamp(0, 1)
    gray = (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    x = gray + (x - gray) * u(1 - AUG["saturation"], 1 + AUG["saturation"]).view(b, 1, 1, 1)
    return x.clamp(0, 1), y


def bce_dice(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits = logits.float()
    p = torch.sigmoid(logits)
    inter = (p * y).sum((1, 2, 3))
    total = p.sum((1, 2, 3)) + y.sum((1, 2, 3))
    return F.binary_cross_entropy_with_logits(logits, y) + (1 - (2 * inter + 1) / (total + 1)).mean()


@torch.no_grad()
def predict(model: nn.Module, imgs: torch.Tensor, tta: bool = False, bs: int = 64) -> torch.Tensor:
    model.eval()
    outs = []
    for i in range(0, len(imgs), bs):
        x = imgs[i:i + bs].float().div(255).contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            p = torch.sigmoid(model(x).float())
            if tta:
                p = (p + torch.sigmoid(model(x.flip(3)).float()).flip(3) + torch.sigmoid(model(x.flip(2)).float()).flip(2)) / 3
        outs.append(p.float())
    model.train()
    return torch.cat(outs)


def val_dice(prob: torch.Tensor, full_masks: list[np.ndarray]) -> float:
    """Mean per-image Dice at the masks' own size (bilinear resize of the probabilities, >= 0.5)."""
    fh, fw = full_masks[0].shape
    up = F.interpolate(prob, size=(fh, fw), mode="bilinear", align_corners=False)[:, 0] >= 0.5
    gt = torch.from_numpy(np.stack(full_masks)).to(prob.device).bool()
    inter = (up & gt).sum((1, 2)).float()
    total = up.sum((1, 2)).float() + gt.sum((1, 2)).float()
    d = torch.where(total > 0, 2 * inter / total.clamp(min=1), torch.ones_like(total))
    return float(d.mean())


def train_run(spec: str, root: Path, args, out: Path, log: dict) -> tuple[UNet, tuple[int, int]]:
    wname, size_s, budget = spec.split(":")
    size = tuple(int(v) for v in size_s.split("x"))
    torch.manual_seed(args.seed)
    gen = torch.Generator(device="cuda").manual_seed(args.seed)
    tr_x, tr_y, _, _ = load_split(root, "train", size)
    va_x, _, va_full, _ = load_split(root, "validation", size)
    tr_x, tr_y = torch.from_numpy(tr_x).cuda(), torch.from_numpy(tr_y).cuda()
    va_x = torch.from_numpy(va_x).cuda()
    model = UNet(WIDTHS[wname]).cuda().to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
    n, bs = len(tr_x), args.batch
    steps = n // bs
    entry = {"width": wname, "size": list(size), "params": sum(p.numel() for p in model.parameters()),
             "batch": bs, "lr": args.lr, "augment": dict(AUG), "epochs": [], "seed": args.seed}
    log[spec] = entry
    total_epochs = int(budget) if not budget.endswith("s") else None
    best, best_state, epoch, t0 = -1.0, None, 0, time.time()
    while total_epochs is None or epoch < total_epochs:
        te = time.time()
        perm = torch.randperm(n, device="cuda", generator=gen)
        losses = []
        for k in range(steps):
            # Cosine over all steps after a one-epoch linear warm-up (until the epoch count is known,
            # the first epoch is the warm-up).
            done = epoch * steps + k
            if epoch == 0:
                lr = args.lr * (k + 1) / steps
            elif total_epochs is None:  # the timed epoch, before the schedule is known
                lr = args.lr
            else:
                lr = 0.5 * args.lr * (1 + math.cos(math.pi * (done - steps) / max(1, (total_epochs - 1) * steps)))
            for g in opt.param_groups:
                g["lr"] = lr
            idx = perm[k * bs:(k + 1) * bs]
            x, y = augment(tr_x[idx].float().div(255), tr_y[idx].float(), gen)
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = bce_dice(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        epoch += 1
        torch.cuda.synchronize()
        dt = time.time() - te
        if total_epochs is None and epoch == 2:  # epoch 1 carries cuDNN's autotuning; time epoch 2
            total_epochs = max(3, 2 + int((float(budget[:-1]) - (time.time() - t0)) / (dt * 1.1)))
            entry["epochs_planned"] = total_epochs
        d = val_dice(predict(model, va_x), va_full) if (epoch % args.val_every == 0 or epoch > (total_epochs or 10**9) - 20) else None
        entry["epochs"].append({"epoch": epoch, "loss": float(torch.stack(losses).mean()), "val_dice": d,
                                "seconds": round(dt, 2), "lr_end": lr})
        if d is not None and d > best:
            best, best_state = d, {k: v.detach().clone() for k, v in model.state_dict().items()}
            entry["best"] = {"epoch": epoch, "val_dice": d}
        print(f"{spec} epoch {epoch}/{total_epochs} loss {entry['epochs'][-1]['loss']:.4f} val {d} {dt:.1f}s", flush=True)
    entry["train_seconds"] = round(time.time() - t0, 1)
    model.load_state_dict(best_state)
    pv = predict(model, va_x)
    entry["best_val_dice_recheck"] = val_dice(pv, va_full)
    entry["best_val_dice_tta"] = val_dice(predict(model, va_x, tta=True), va_full)
    weights = model.keras_weights()
    if WIDTHS[wname] <= 0.25 or args.save_all:
        np.savez(out / f"{wname}_{size_s}.npz", val_prob=pv[:8, 0].cpu().numpy().astype(np.float32), **weights)
    return model, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--run", action="append", required=True, help="WIDTH:HxW:BUDGET, e.g. w100:192x256:300s")
    ap.add_argument("--teacher", help="write training-set maps from this run's width (e.g. w100)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--val-every", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-all", action="store_true")
    ap.add_argument("--rotation", type=float, default=AUG["rotation"], help="max rotation, degrees")
    ap.add_argument("--zoom", type=float, default=AUG["zoom"], help="scale range 1 +- zoom")
    args = ap.parse_args()
    AUG.update(rotation=args.rotation, zoom=args.zoom)
    torch.backends.cudnn.benchmark = True
    args.out.mkdir(parents=True, exist_ok=True)
    log: dict = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}
    for spec in args.run:
        model, size = train_run(spec, args.data, args, args.out, log)
        if args.teacher and spec.startswith(args.teacher + ":"):
            tr_x, _, tr_full, stems = load_split(args.data, "train", size)
            prob = predict(model, torch.from_numpy(tr_x).cuda(), tta=True)
            fh, fw = tr_full[0].shape
            prob = F.interpolate(prob, size=(fh, fw), mode="bilinear", align_corners=False)[:, 0]
            maps = (prob.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
            log[spec]["train_dice_tta"] = val_dice(prob[:, None], tr_full)
            for k, lo in enumerate(range(0, len(maps), 500)):
                np.savez_compressed(args.out / f"maps_{k}.npz", maps=maps[lo:lo + 500], stems=np.array(stems[lo:lo + 500]))
        del model
        torch.cuda.empty_cache()
        (args.out / "summary.json").write_text(json.dumps(log, indent=1))
    print(json.dumps({k: (v.get("best"), v.get("best_val_dice_tta"), v.get("train_seconds")) if isinstance(v, dict) else v
                      for k, v in log.items()}, indent=1))


if __name__ == "__main__":
    main()
