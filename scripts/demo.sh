#!/usr/bin/env bash
# The whole pipeline on CPU in about ten minutes: set up .venv, make a synthetic
# Cityscapes-format data set, train the small config, evaluate it, predict on the toy
# validation images. Everything is written under output/demo/ and data/toy_cityscapes/.
# Environment: DEMO_ITERS (default: the config's 300), DEMO_WORKERS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
PY=.venv/bin/python
CONFIG=configs/quick_start/panoptic_deeplab_resnet18_os32_toy.yml
OUT=output/demo
ITERS=${DEMO_ITERS:-300}
WORKERS=${DEMO_WORKERS:-2}
export PYTHONWARNINGS=ignore
start=$(date +%s)

echo "== 1/4 synthetic Cityscapes-format data set -> data/toy_cityscapes"
$PY tools/make_toy_cityscapes.py --out data/toy_cityscapes

echo "== 2/4 training $CONFIG for $ITERS iterations on CPU -> $OUT"
rm -rf "$OUT"
$PY tools/train.py --config "$CONFIG" --iters "$ITERS" --save_interval 100 --do_eval \
  --use_vdl --seed 0 --num_workers "$WORKERS" --log_iters 20 --device cpu --save_dir "$OUT"
$PY tools/plot_log.py "$OUT" --out "$OUT/curves.png"

echo "== 3/4 evaluating $OUT/best_model on the toy validation set"
$PY tools/val.py --config "$CONFIG" --model_path "$OUT/best_model/model.pdparams" \
  --device cpu --save_json "$OUT/val_results.json"

echo "== 4/4 predicting on the toy validation images -> $OUT/result"
$PY tools/predict.py --config "$CONFIG" --model_path "$OUT/best_model/model.pdparams" \
  --image_path data/toy_cityscapes/leftImg8bit/val --save_dir "$OUT/result" --device cpu

cat <<MSG

Demo finished in $(( $(date +%s) - start )) s.
  checkpoints and logs:  $OUT/ (VisualDL: visualdl --logdir $OUT)
  training curves:       $OUT/curves.png (from $OUT/metrics.jsonl; log: $OUT/train.log)
  metrics (JSON):        $OUT/val_results.json
  pictures:              $OUT/result/{panoptic,semantic,instance}/
  panoptic ids + JSON:   $OUT/result/{panoptic_ids,segments}/
MSG
