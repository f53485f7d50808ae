#!/usr/bin/env bash
# The whole pipeline on CPU: set up .venv, make a synthetic Cityscapes-format data set, train
# for a time budget (the run times its iterations and plans how many fit), evaluate, predict
# on the toy validation images. Everything is written under output/demo/ and data/.
#
# Usage: bash scripts/demo.sh [--style hard|easy] [--time_budget MIN] [--iters N] [--nproc P]
#   --style S          hard (default): scenes colour alone does not explain (per-region looks
#                      shared between classes, per-instance colours, shared textures, groups of
#                      overlapping people and cars) and the CPU quick-start recipe;
#                      easy: flat-coloured scenes and the small toy config
#   --time_budget MIN  minutes of training (default 15, or DEMO_TIME_BUDGET): the run times
#                      its iterations and trains as many as fit, at most --iters, ending its
#                      learning-rate schedule there; 0: no budget
#   --iters N          iterations (default: the config's, or DEMO_ITERS); with no time budget
#                      (--time_budget 0) exactly N
#   --nproc P          training processes, one per CPU core (default: 2 when the machine has
#                      2 or more cores, else 1; or DEMO_NPROC); the config's batch of 8 is
#                      shared between them
# Environment: DEMO_STYLE, DEMO_TIME_BUDGET, DEMO_ITERS, DEMO_NPROC.
set -euo pipefail
cd "$(dirname "$0")/.."

STYLE=${DEMO_STYLE:-hard}
BUDGET=${DEMO_TIME_BUDGET:-15}
ITERS=${DEMO_ITERS:-}
CORES=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
NPROC=${DEMO_NPROC:-$(( CORES >= 2 ? 2 : 1 ))}
while [ $# -gt 0 ]; do
  case "$1" in
    --style) STYLE=${2:?--style needs hard or easy}; shift 2 ;;
    --time_budget) BUDGET=${2:?--time_budget needs minutes}; shift 2 ;;
    --iters) ITERS=${2:?--iters needs a number}; shift 2 ;;
    --nproc) NPROC=${2:?--nproc needs a number}; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

case "$STYLE" in
  hard) CONFIG=configs/quick_start/panoptic_deeplab_mobilenetv3_os32_demo.yml
        DATA=data/toy_cityscapes_hard
        PRESET=demo ;;
  easy) CONFIG=configs/quick_start/panoptic_deeplab_resnet18_os32_toy.yml
        DATA=data/toy_cityscapes
        PRESET=toy ;;
  *) echo "demo.sh: --style must be hard or easy, got $STYLE" >&2; exit 2 ;;
esac
case "$NPROC" in
  1|2|4|8) ;;
  *) echo "demo.sh: --nproc must be 1, 2, 4 or 8 (it shares the batch of 8), got $NPROC" >&2
     exit 2 ;;
esac
start=$(date +%s)
bash scripts/setup_env.sh
PY=.venv/bin/python
OUT=output/demo
export PYTHONWARNINGS=ignore PYTHONUNBUFFERED=1
SIZES=$("$PY" -c "import sys
from paddleseg_panoptic.cvlibs import Config
c = Config(sys.argv[1]); print(c.batch_size, c.iters)" "$CONFIG")
read -r CONFIG_BATCH CONFIG_ITERS <<< "$SIZES"
BATCH=$(( CONFIG_BATCH / NPROC > 0 ? CONFIG_BATCH / NPROC : 1 ))
ITERS=${ITERS:-$CONFIG_ITERS}
# The launcher's and Paddle's start-up chatter (the training log itself is kept).
NOISE='^LAUNCH|^[IWE][0-9]{4} |FLAGS|^=+$'
if [ "$NPROC" -gt 1 ]; then
  RUN=("$PY" -m paddle.distributed.launch --nproc_per_node "$NPROC" --log_dir "$OUT/launch")
  WORKERS=0  # every core trains; each process reads its own samples
else
  RUN=("$PY")
  WORKERS=1
fi

echo "== data: the '$PRESET' synthetic Cityscapes-format set -> $DATA"
$PY tools/make_toy_cityscapes.py --out "$DATA" --preset "$PRESET"

rm -rf "$OUT"
mkdir -p "$OUT"
TRAIN=(--config "$CONFIG" --iters "$ITERS" --batch_size "$BATCH" --save_interval
       "$(( ITERS / 2 > 0 ? ITERS / 2 : 1 ))" --do_eval --use_vdl --seed 0 --num_workers
       "$WORKERS" --log_iters 50 --device cpu --save_dir "$OUT")
if [ "$BUDGET" != "0" ]; then
  TRAIN+=(--time_budget "$BUDGET")
  LENGTH="$BUDGET minutes, at most $ITERS iterations"
else
  LENGTH="$ITERS iterations"
fi
echo "== training on CPU for $LENGTH ($NPROC process(es) x batch $BATCH) -> $OUT"
"${RUN[@]}" tools/train.py "${TRAIN[@]}" 2>&1 | grep --line-buffered -Ev "$NOISE"
$PY tools/plot_log.py "$OUT" --out "$OUT/curves.png"

echo "== evaluating $OUT/best_model on the toy validation set"
$PY tools/val.py --config "$CONFIG" --model_path "$OUT/best_model/model.pdparams" \
  --device cpu --save_json "$OUT/val_results.json"

echo "== predicting on the toy validation images -> $OUT/result"
$PY tools/predict.py --config "$CONFIG" --model_path "$OUT/best_model/model.pdparams" \
  --image_path "$DATA/leftImg8bit/val" --save_dir "$OUT/result" --device cpu

DONE=$($PY -c "import json, sys; print(json.load(open(sys.argv[1]))['iteration'])" \
  "$OUT/train_summary.json")
RESULT=$($PY -c "import json, sys; p = json.load(open(sys.argv[1]))['pan_seg']
print('PQ {:.1f}, things PQ {:.1f}, stuff PQ {:.1f}'.format(
    *(100 * p[k]['pq'] for k in ('All', 'Things', 'Stuff'))))" "$OUT/val_results.json")
cat <<MSG

Demo finished in $(( $(date +%s) - start )) s ($DONE training iterations, $NPROC process(es)).
  toy-val result:        $RESULT (best checkpoint)
  checkpoints and logs:  $OUT/ (VisualDL: visualdl --logdir $OUT)
  training curves:       $OUT/curves.png (from $OUT/metrics.jsonl; log: $OUT/train.log)
  metrics (JSON):        $OUT/val_results.json
  pictures:              $OUT/result/{panoptic,semantic,instance}/
  panoptic ids + JSON:   $OUT/result/{panoptic_ids,segments}/
MSG
