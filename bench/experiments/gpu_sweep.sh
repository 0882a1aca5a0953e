#!/usr/bin/env bash
# Several gpu_torch_unet.py runs at once on one GPU (each alone is launch-bound and leaves it
# idle), then one merged summary, a table, and the best runs' weights under OUT.
# Run from the repo root on the device machine:
#   bash bench/experiments/gpu_sweep.sh [--work DIR] [--out DIR] DATA SECONDS 'TAG:ARGS' ...
# e.g. 'geo_s1:--seed 1 --rotation 180 --zoom 0.3'. Without --run in ARGS a run is
# w025:144x192 for SECONDS of training. Each run's files and log go to WORK/TAG (default
# runs/gpu_sweep); sweep.json and the best three runs' .npz go to OUT (default $OUT, else WORK).
set -u
usage() { sed -n '2,8s/^# \{0,1\}//p' "$0"; }
work=runs/gpu_sweep; out=${OUT:-}
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --work) work=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) break ;;
  esac
done
[ $# -ge 3 ] || { usage >&2; exit 2; }
data=$1; budget=$2; shift 2
out=${out:-$work}
mkdir -p "$work" "$out"
for spec in "$@"; do
  tag=${spec%%:*}; args=${spec#*:}
  case " $args " in *" --run "*) ;; *) args="--run w025:144x192:${budget}s $args" ;; esac
  mkdir -p "$work/$tag"
  # shellcheck disable=SC2086  # ARGS is a word list on purpose
  PYTHONUNBUFFERED=1 python3 bench/experiments/gpu_torch_unet.py --data "$data" --out "$work/$tag" $args \
    > "$work/$tag.log" 2>&1 &
done
wait
SWEEP_WORK=$work SWEEP_OUT=$out python3 - <<'PY'
import glob, json, os, shutil
work, out = os.environ["SWEEP_WORK"], os.environ["SWEEP_OUT"]
merged = {d.split("/")[-2]: json.load(open(d)) for d in sorted(glob.glob(f"{work}/*/summary.json"))}
json.dump(merged, open(f"{out}/sweep.json", "w"), indent=1)
rows = sorted(((e["best"]["val_dice"], tag, spec, e["best"]["epoch"], e.get("epochs_planned"), e["best_val_dice_tta"])
               for tag, log in merged.items() for spec, e in log.items() if isinstance(e, dict)), reverse=True)
for r in rows:
    print(f"{r[1]:10s} {r[2]:22s} best {r[0]:.4f} at {r[3]}/{r[4]}  tta {r[5]:.4f}")
for r in rows[:3]:  # the device reply brings back at most 8 files of 16 MB
    for f in glob.glob(f"{work}/{r[1]}/*.npz"):
        if os.path.getsize(f) < 16e6:
            shutil.copy(f, f"{out}/{r[1]}_{os.path.basename(f)}")
PY
grep -L '"device"' "$work"/*.log | xargs -r tail -n 5  # logs of runs that did not finish
