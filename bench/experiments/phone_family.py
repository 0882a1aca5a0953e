"""Family table and Pareto plot: Dice against int8 latency for the U-Net widths and the phone models.

    .venv/bin/python bench/experiments/phone_family.py --size 144x192 --threads 2 \\
        --dice unet_w025=0.8599:"edgeseg eval, ISIC 2017 validation" --out runs/phone_family

Each model is built with random weights (latency does not depend on the weight values), counted
(params, MACs), written as fp32 and full-int8 TFLite (batch 1, int8 IO, as shipped) by the
project's format writer, and timed by the bench worker (LiteRT + XNNPACK, one process per
measurement). Int8 ranges are calibrated on real training images normalised as the models expect
((N, H, W, 3) float32 in [0, 1]). Timing rounds interleave the models, so machine load falls on
all of them alike; a model's figure is the lowest p50 over the rounds.

Accuracy is not measured here: trained checkpoints of every width are not on one machine, so
each Dice is passed as ``--dice NAME=VALUE:SOURCE`` and printed with its source. A model without
one is in the table but not on the plot.

Writes ``family.json`` (everything), ``family.md`` (the table) and ``pareto.png`` into ``--out``,
all at once (a new folder; nothing is overwritten).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import edgeseg  # noqa: E402
from edgeseg.errors import ConfigError, EdgesegError  # noqa: E402

DEFAULT_MODELS = ("unet_w100", "unet_w050", "unet_w025", "mnv2_unet", "mnv2_unet_s16")
DEFAULT_CALIB = Path(edgeseg.__file__).parent / "assets" / "isic2017_sample" / "train" / "images"
PRECISIONS = ("fp32", "int8")  # int8: recipe static_wi8_ai8, int8 IO (the shipped variant)


def parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size takes HxW, e.g. 144x192, not {text!r}") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"--size must be positive, got {text!r}")
    return h, w


def parse_dice(items: list[str], models: tuple[str, ...], where: str = "--models") -> dict[str, dict[str, Any]]:
    """``NAME=VALUE:SOURCE`` -> {name: {"dice": value, "source": source}}; raises on anything else."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        name, eq, rest = item.partition("=")
        value, colon, source = rest.partition(":")
        if not (eq and colon and source.strip()):
            raise ConfigError(f"--dice {item!r}: expected NAME=VALUE:SOURCE (the source says where the figure comes from)")
        if name not in models:
            raise ConfigError(f"--dice {item!r}: {name!r} is not among {where} ({', '.join(models)})")
        if name in out:
            raise ConfigError(f"--dice gives {name} twice")
        try:
            dice = float(value)
        except ValueError:
            raise ConfigError(f"--dice {item!r}: {value!r} is not a number") from None
        if not 0.0 <= dice <= 1.0:
            raise ConfigError(f"--dice {item!r}: Dice must be in [0, 1]")
        out[name] = {"dice": dice, "source": source.strip()}
    return out


def calibration_images(folder: Path, n: int, size: tuple[int, int]) -> tuple[Any, list[str]]:
    """The first ``n`` images of ``folder`` (sorted) as (n, H, W, 3) float32 in [0, 1]."""
    from edgeseg.config import Normalisation
    from edgeseg.data.images import list_images
    from edgeseg.quantize.calibration import calibration_array

    files = sorted(list_images(folder))[:n]
    if len(files) < n:
        raise ConfigError(f"--calib-dir {folder}: {len(files)} images, --calib asks for {n}")
    return calibration_array(files, size, Normalisation()), [str(f) for f in files]


def build_all(models: tuple[str, ...], size: tuple[int, int]) -> dict[str, Any]:
    """Every model at ``size`` (random weights), or one error naming each model that cannot take it."""
    from edgeseg.models import create_model

    built, problems = {}, []
    for name in models:
        try:
            built[name] = create_model(name, (*size, 3))
        except ConfigError as e:
            problems.append(str(e))
    if problems:
        raise ConfigError(f"--size {size[0]}x{size[1]}: " + "; ".join(problems)
                          + " (choose a size every model takes, or leave those models out of --models)")
    return built


def export_all(built: dict[str, Any], calib: Any, folder: Path) -> dict[str, dict[str, Any]]:
    """fp32 and int8 .tflite of each model into ``folder``, with params, MACs and file sizes."""
    from edgeseg.export.formats import FORMATS, WriteOptions
    from edgeseg.models.stats import count_macs
    from edgeseg.quantize.recipes import RECIPES

    tflite = FORMATS.get("tflite")
    recipes = {"fp32": (RECIPES.get("fp32"), None, WriteOptions()),
               "int8": (RECIPES.get("static_wi8_ai8"), calib, WriteOptions(io="int8"))}
    info = {}
    for name, model in built.items():
        row: dict[str, Any] = {"params": int(model.count_params()), "macs": count_macs(model), "files": {}}
        for prec, (recipe, data, options) in recipes.items():
            file = folder / f"{name}_{prec}.tflite"
            print(f"  writing {file.name}", file=sys.stderr, flush=True)
            tflite.write(model, file, recipe, data, options)
            row["files"][prec] = file
            row[f"{prec}_bytes"] = file.stat().st_size
        info[name] = row
    return info


def time_all(info: dict[str, dict[str, Any]], threads: int, rounds: int, min_runs: int,
             min_seconds: float) -> None:
    """Interleaved rounds (every model and precision once per round); adds each one's p50s to ``info``."""
    from edgeseg.bench.measure import run_worker

    for r in range(rounds):
        for name, row in info.items():
            for prec in PRECISIONS:
                job = {"kind": "infer", "artifact": str(row["files"][prec]), "runtime": "tflite", "threads": threads,
                       "batch": 1, "warmup": 3, "min_runs": min_runs, "min_seconds": min_seconds}
                res = run_worker(job, threads, 1800)
                key = f"{prec}_p50s_ms"
                if res.get("ok"):
                    row.setdefault(key, []).append(res["timing"]["p50_ms"])
                    print(f"  round {r + 1}/{rounds} {name} {prec}: {res['timing']['p50_ms']:.2f} ms",
                          file=sys.stderr, flush=True)
                else:
                    row.setdefault(f"{prec}_errors", []).append(res.get("error", "unknown error"))
                    print(f"  round {r + 1}/{rounds} {name} {prec}: failed ({res.get('error')})", file=sys.stderr)
    for row in info.values():
        for prec in PRECISIONS:
            p50s = row.get(f"{prec}_p50s_ms")
            row[f"{prec}_p50_ms"] = min(p50s) if p50s else None
            row[f"{prec}_gops"] = 2 * row["macs"] / min(p50s) / 1e6 if p50s else None


def pareto_front(points: list[dict[str, Any]], x: str) -> list[dict[str, Any]]:
    """Points that nothing beats on both ``x`` (lower) and Dice (higher), fastest first."""
    front, best = [], -1.0
    for p in sorted(points, key=lambda p: (p[x], -p["dice"])):
        if p["dice"] > best:
            front.append(p)
            best = p["dice"]
    return front


def plot(result: dict[str, Any], out_png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [m for m in result["models"] if m.get("dice") is not None and m.get("int8_p50_ms")]
    fig, ax = plt.subplots(figsize=(8, 5))
    for m in pts:
        if m.get("fp32_p50_ms"):
            ax.plot([m["int8_p50_ms"], m["fp32_p50_ms"]], [m["dice"]] * 2, color="0.7", lw=0.8, zorder=1)
            ax.scatter(m["fp32_p50_ms"], m["dice"], marker="o", facecolors="none", edgecolors="tab:blue", s=40,
                       zorder=2)
        ax.scatter(m["int8_p50_ms"], m["dice"], marker="o", color="tab:orange", edgecolors="black", s=60, zorder=3)
        # Below-right of the point: the front runs up-right from it, so a label above would sit on it.
        ax.annotate(f"{m['name']}\n{m['gmacs']:.2f} GMACs", (m["int8_p50_ms"], m["dice"]), fontsize=8,
                    xytext=(7, -20), textcoords="offset points")
    front = pareto_front(pts, "int8_p50_ms")
    ax.plot([p["int8_p50_ms"] for p in front], [p["dice"] for p in front], "k--", lw=1, zorder=2,
            label="Pareto front (int8)")
    ax.scatter([], [], marker="o", color="tab:orange", edgecolors="black", label="int8 TFLite (p50)")
    ax.scatter([], [], marker="o", facecolors="none", edgecolors="tab:blue", label="fp32 TFLite (p50)")
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.set_xlabel(f"p50 latency, ms (log), LiteRT + XNNPACK, batch 1, {result['threads']} threads")
    ax.set_ylabel("Dice (source per model in family.md)")
    h, w = result["size"]
    vnni = "VNNI" if any("vnni" in f for f in result["machine"]["cpu_flags"]) else "no VNNI"
    ax.set_title(f"Dice vs latency at {h}x{w}, {result['machine']['cpu']} ({vnni}); "
                 "latency of random-weight models, Dice as given", fontsize=9)
    missing = [m["name"] for m in result["models"] if m.get("dice") is None]
    if missing:
        fig.text(0.01, 0.01, "timed, no Dice given (not plotted): " + ", ".join(missing), fontsize=7, color="0.4")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    ys = [m["dice"] for m in pts]
    if ys:
        pad = max(0.005, (max(ys) - min(ys)) * 0.3)
        ax.set_ylim(min(ys) - pad, max(ys) + pad)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def markdown(result: dict[str, Any]) -> str:
    h, w = result["size"]
    m = result["machine"]
    lines = [
        f"# Model family at {h}x{w}: latency and Dice",
        "",
        f"CPU: {m['cpu']} ({m['cores']} cores usable; flags: {', '.join(m['cpu_flags'])}). "
        f"LiteRT + XNNPACK, batch 1, {result['threads']} threads; lowest p50 of {result['rounds']} interleaved "
        f"rounds. Models have **random weights** (latency does not depend on them); int8 is `static_wi8_ai8` "
        f"with int8 IO, calibrated on {result['calibration']['n']} training images. GFLOP/s and GOP/s count "
        "2 × MACs per image.",
        "",
        "| model | params | GMACs | fp32 p50 ms | fp32 GFLOP/s | int8 p50 ms | int8 GOP/s | fp32/int8 | Dice | Dice source |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["models"]:
        def ms(key: str) -> str:
            return f"{r[key]:.2f}" if r.get(key) else "failed"

        def rate(key: str) -> str:
            return f"{r[key]:.0f}" if r.get(key) else "–"

        ratio = f"{r['fp32_p50_ms'] / r['int8_p50_ms']:.2f}×" if r.get("fp32_p50_ms") and r.get("int8_p50_ms") else "–"
        dice = f"{r['dice']:.4f}" if r.get("dice") is not None else "–"
        lines.append(f"| {r['name']} | {r['params']:,} | {r['gmacs']:.3f} | {ms('fp32_p50_ms')} | {rate('fp32_gops')} | "
                     f"{ms('int8_p50_ms')} | {rate('int8_gops')} | {ratio} | {dice} | {r.get('dice_source') or 'not given'} |")
    front = [p["name"] for p in pareto_front(
        [r for r in result["models"] if r.get("dice") is not None and r.get("int8_p50_ms")], "int8_p50_ms")]
    lines += ["", f"Pareto front (int8 latency, Dice): {', '.join(front) or '–'}.", "",
              "Spread of p50 across rounds (ms): "
              + "; ".join(f"{r['name']} fp32 {min(r['fp32_p50s_ms']):.2f}–{max(r['fp32_p50s_ms']):.2f}, "
                          f"int8 {min(r['int8_p50s_ms']):.2f}–{max(r['int8_p50s_ms']):.2f}"
                          for r in result["models"] if r.get("fp32_p50s_ms") and r.get("int8_p50s_ms")) + ".", "",
              f"Command: `{result['command']}`", ""]
    if result.get("measured_by"):
        lines[-1:] = ["", f"Latency measured by: `{result['measured_by']}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), metavar="NAME",
                    help=f"registered model names (default: {' '.join(DEFAULT_MODELS)})")
    ap.add_argument("--size", type=parse_size, default=(192, 256), metavar="HxW",
                    help="input size for every model (default 192x256, the ISIC 2017 size, where every model builds: mnv2_unet needs H and W divisible by 32)")
    ap.add_argument("--threads", type=int, default=2, help="LiteRT threads (default 2)")
    ap.add_argument("--dice", action="append", default=[], metavar="NAME=VALUE:SOURCE",
                    help="a model's Dice and where it comes from; repeat per model")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds; the lowest p50 is kept (default 3)")
    ap.add_argument("--min-runs", type=int, default=15, help="timed calls per round and file (default 15)")
    ap.add_argument("--min-seconds", type=float, default=0.5, help="and at least this long (default 0.5)")
    ap.add_argument("--calib", type=int, default=16, help="int8 calibration images (default 16)")
    ap.add_argument("--calib-dir", type=Path, default=DEFAULT_CALIB,
                    help="calibration images (default: the packaged ISIC 2017 sample's train images)")
    ap.add_argument("--from", dest="reuse", type=Path, metavar="FAMILY_JSON",
                    help="reuse the measurements of an earlier family.json (no building or timing): "
                         "to add or change --dice figures; a --dice replaces that model's old one")
    ap.add_argument("--out", type=Path, default=Path("runs/phone_family"),
                    help="output folder, new or empty (default runs/phone_family)")
    a = ap.parse_args(argv)
    if a.reuse is not None:  # measurement options mean nothing when nothing is measured: refuse them
        given = [f"--{d.replace('_', '-')}" for d in ("models", "size", "threads", "rounds", "min_runs", "min_seconds",
                                                       "calib", "calib_dir") if getattr(a, d) != ap.get_default(d)]
        if given:
            ap.error(f"--from reuses an earlier run's measurements; {', '.join(given)} cannot apply")
    try:
        return run(a, argv if argv is not None else sys.argv[1:])
    except EdgesegError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code


def run(a: argparse.Namespace, argv: list[str]) -> int:
    import shlex

    from edgeseg.bench.system import all_cpu_flags, machine_info
    from edgeseg.models import list_models

    # Every option is checked before anything is built or written.
    if a.reuse is not None:
        return rejoin(a, argv)
    models = tuple(dict.fromkeys(a.models))
    unknown = [m for m in models if m not in list_models()]
    if unknown:
        raise ConfigError(f"--models: unknown {', '.join(unknown)}; registered: {', '.join(list_models())}")
    if a.threads < 1 or a.rounds < 1 or a.min_runs < 1 or a.calib < 1 or a.min_seconds < 0:
        raise ConfigError("--threads, --rounds, --min-runs and --calib must be >= 1, --min-seconds >= 0")
    dice = parse_dice(a.dice, models)
    if a.out.exists() and not (a.out.is_dir() and not any(a.out.iterdir())):
        raise ConfigError(f"--out {a.out} exists and is not an empty folder; choose a new one (nothing is overwritten)")
    if not a.calib_dir.is_dir():
        raise ConfigError(f"--calib-dir {a.calib_dir}: not a folder")
    built = build_all(models, a.size)
    calib, calib_files = calibration_images(a.calib_dir, a.calib, a.size)

    print(f"exporting {len(built)} models at {a.size[0]}x{a.size[1]} (fp32, int8)", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="phone_family_") as tmp:
        info = export_all(built, calib, Path(tmp))
        del built
        print(f"timing: {a.rounds} rounds, {a.threads} threads", file=sys.stderr, flush=True)
        time_all(info, a.threads, a.rounds, a.min_runs, a.min_seconds)

    rows = []
    for name, r in info.items():
        r.pop("files")
        d = dice.get(name, {})
        rows.append({"name": name, **r, "gmacs": r["macs"] / 1e9, "dice": d.get("dice"), "dice_source": d.get("source")})
    machine = machine_info()
    result = {
        "what": "params, MACs and LiteRT + XNNPACK latency (random weights) per model; Dice as given by --dice",
        "command": "python bench/experiments/phone_family.py " + " ".join(shlex.quote(v) for v in argv),
        "size": list(a.size), "threads": a.threads, "rounds": a.rounds, "min_runs": a.min_runs,
        "min_seconds": a.min_seconds, "weights": "random (latency only)",
        "int8": {"recipe": "static_wi8_ai8", "io": "int8"},
        "calibration": {"n": len(calib_files), "normalisation": "float32 in [0, 1] (pixel / 255)",
                        "images": [os.path.relpath(f) for f in calib_files]},
        "machine": machine, "cpu_flags_all": sorted(all_cpu_flags()),
        "models": rows,
    }
    write_outputs(result, a.out)
    return 0


def write_outputs(result: dict[str, Any], out: Path) -> None:
    from edgeseg.io import atomic_dir, write_json, write_text

    with atomic_dir(out) as tmp:  # the three files appear together or not at all
        write_json(tmp / "family.json", result)
        write_text(tmp / "family.md", markdown(result))
        plot(result, tmp / "pareto.png")
    print(markdown(result))
    print(f"wrote {out}/family.json, family.md, pareto.png", file=sys.stderr)


def rejoin(a: argparse.Namespace, argv: list[str]) -> int:
    """``--from``: an earlier run's measurements with the Dice figures of this command laid over them."""
    import json
    import shlex

    try:
        result = json.loads(a.reuse.read_text())
        rows = result["models"]
        names = tuple(r["name"] for r in rows)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"--from {a.reuse}: not a family.json written by this script ({e})") from None
    dice = parse_dice(a.dice, names, f"the models of {a.reuse}")
    if a.out.exists() and not (a.out.is_dir() and not any(a.out.iterdir())):
        raise ConfigError(f"--out {a.out} exists and is not an empty folder; choose a new one (nothing is overwritten)")
    for r in rows:
        if r["name"] in dice:
            r.update(dice=dice[r["name"]]["dice"], dice_source=dice[r["name"]]["source"])
    result.setdefault("measured_by", result["command"])
    result["command"] = "python bench/experiments/phone_family.py " + " ".join(shlex.quote(v) for v in argv)
    write_outputs(result, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
