#!/usr/bin/env bash
# The whole pipeline on CPU: set up .venv, make a synthetic Cityscapes-format data set, time
# the first training iterations and plan the run, train, evaluate, predict on the toy
# validation images. Everything is written under output/demo/ and data/.
#
# Usage: bash scripts/demo.sh [--style easy|hard] [--time_budget MIN] [--iters N]
#   --style S          easy (default): flat-coloured scenes and the small toy config;
#                      hard: scenes colour alone does not explain and the hard-scene recipe
#                      (still learning little in this budget, see docs/benchmarks.md)
#   --time_budget MIN  minutes of training (default 15, or DEMO_TIME_BUDGET): the run trains
#                      as many iterations as the timed first ones say fit, at most --iters
#   --iters N          iterations (default: the config's, or DEMO_ITERS); with no time budget
#                      (--time_budget 0) exactly N
# Environment: DEMO_STYLE, DEMO_TIME_BUDGET, DEMO_ITERS, DEMO_WORKERS (loader workers, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

STYLE=${DEMO_STYLE:-easy}
BUDGET=${DEMO_TIME_BUDGET:-15}
ITERS=${DEMO_ITERS:-}
WORKERS=${DEMO_WORKERS:-2}
while [ $# -gt 0 ]; do
  case "$1" in
    --style) STYLE=${2:?--style needs easy or hard}; shift 2 ;;
    --time_budget) BUDGET=${2:?--time_budget needs minutes}; shift 2 ;;
    --iters) ITERS=${2:?--iters needs a number}; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

case "$STYLE" in
  easy) CONFIG=configs/quick_start/panoptic_deeplab_resnet18_os32_toy.yml
        DATA=data/toy_cityscapes
        MAKE=(--style easy) ;;
  hard) CONFIG=configs/quick_start/panoptic_deeplab_resnet18_os32_demo.yml
        DATA=data/toy_cityscapes_hard
        MAKE=(--style hard --height 128 --width 256 --num-train 200 --num-val 20) ;;
  *) echo "demo.sh: --style must be easy or hard, got $STYLE" >&2; exit 2 ;;
esac
bash scripts/setup_env.sh
PY=.venv/bin/python
OUT=output/demo
export PYTHONWARNINGS=ignore
start=$(date +%s)

echo "== data: $STYLE synthetic Cityscapes-format set -> $DATA"
$PY tools/make_toy_cityscapes.py --out "$DATA" "${MAKE[@]}"

echo "== timing the first training iterations of $CONFIG"
rm -rf "$OUT"
mkdir -p "$OUT"
PLAN=(--config "$CONFIG" --num_workers "$WORKERS" --device cpu --iters_file "$OUT/iters.txt")
[ -n "$ITERS" ] && PLAN+=(--iters "$ITERS")
[ "$BUDGET" != "0" ] && PLAN+=(--time_budget "$BUDGET")
$PY tools/time_training.py "${PLAN[@]}" 2>&1 | grep -v "^\S* \S* \[INFO\]"
ITERS=$(cat "$OUT/iters.txt")

echo "== training for $ITERS iterations on CPU -> $OUT"
SAVE=$(( ITERS / 2 > 0 ? ITERS / 2 : 1 ))
$PY tools/train.py --config "$CONFIG" --iters "$ITERS" --save_interval "$SAVE" --do_eval \
  --use_vdl --seed 0 --num_workers "$WORKERS" --log_iters 20 --device cpu --save_dir "$OUT"
$PY tools/plot_log.py "$OUT" --out "$OUT/curves.png"

echo "== evaluating $OUT/best_model on the toy validation set"
$PY tools/val.py --config "$CONFIG" --model_path "$OUT/best_model/model.pdparams" \
  --device cpu --save_json "$OUT/val_results.json"

echo "== predicting on the toy validation images -> $OUT/result"
$PY tools/predict.py --config "$CONFIG" --model_path "$OUT/best_model/model.pdparams" \
  --image_path "$DATA/leftImg8bit/val" --save_dir "$OUT/result" --device cpu

cat <<MSG

Demo finished in $(( $(date +%s) - start )) s ($ITERS training iterations).
  checkpoints and logs:  $OUT/ (VisualDL: visualdl --logdir $OUT)
  training curves:       $OUT/curves.png (from $OUT/metrics.jsonl; log: $OUT/train.log)
  metrics (JSON):        $OUT/val_results.json
  pictures:              $OUT/result/{panoptic,semantic,instance}/
  panoptic ids + JSON:   $OUT/result/{panoptic_ids,segments}/
MSG
