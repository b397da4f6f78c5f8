#!/usr/bin/env bash
# The long runs of issue #28 on one GPU (the device tool), time-boxed and resumable, then back here.
#
#   bash data/in_progress/device.sh prepare            # here: wheels for Keras on PyTorch, and MNIST, into .device/
#   device run: command "bash data/in_progress/device.sh train 8 gru_1x128-longer",
#               carry [".device"], timeout_s 600       # there: each run trains for at most 8 minutes
#   bash data/in_progress/device.sh unpack FILES_AT    # here: the runs' folders and summaries from $OUT
#
# A RUN is an id of `python -m helpers.experiments --status` (it trains into data/in_progress/RUN/). Never name a
# run that is training here at the same time.
set -euo pipefail
cd "$(dirname "$0")/../.."

train_one() {  # RUN MINUTES: one run, its log in $OUT
  python3 -m helpers.experiments --only "$1" --out data/in_progress --max-minutes-now "$2" > "$OUT/$1.log" 2>&1
}

case ${1:-} in
  prepare)
    mkdir -p .device/wheels
    pip download -q --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
      -d .device/wheels keras==3.15.1 namex optree
    cp data/mnist.npz .device/mnist.npz 2>/dev/null || cp ../shared/data/mnist.npz .device/mnist.npz
    du -sh .device ;;
  train)
    if [[ $# -lt 3 || -z ${OUT:-} ]]; then
      echo "error: device.sh train needs MINUTES and at least one RUN, and \$OUT set (the device tool sets it)" >&2
      exit 2
    fi
    minutes=$2; shift 2
    python3 -c "import keras" 2>/dev/null || python3 -m pip install -q --no-index --find-links .device/wheels keras==3.15.1
    [[ -f data/mnist.npz ]] || cp .device/mnist.npz data/mnist.npz
    export KERAS_BACKEND=${KERAS_BACKEND:-torch}  # the GPU image has PyTorch, not TensorFlow
    for run in "$@"; do train_one "$run" "$minutes" & done
    wait
    folders=(); for run in "$@"; do [[ -d data/in_progress/$run ]] && folders+=("data/in_progress/$run"); done
    tar czf "$OUT/runs.tgz" "${folders[@]}" data/experiments
    tail -n 3 "$OUT"/*.log ;;
  unpack)
    [[ -f ${2:-}/runs.tgz ]] || { echo "error: device.sh unpack FILES_AT: no runs.tgz in '${2:-}'" >&2; exit 2; }
    tar xzf "$2/runs.tgz"
    git status --short data/in_progress data/experiments ;;
  *)
    sed -n 2,10p "$0"; exit 2 ;;
esac
