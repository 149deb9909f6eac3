#!/usr/bin/env bash
# The whole job from the shell, with the default (packaged) backbone: train AFA and plain fine-tuning on
# 2,000 SST-2 sentences, score both on the dev split, look at where they look, inspect a model folder, and
# score a file. A few minutes per model on a laptop CPU.
#
#   bash examples/command_line.sh [DATA_DIR] [WORK_DIR] [RESULTS_DIR]
#
# DATA_DIR holds train.csv and dev.csv with columns text,label (default: the shared SST-2 sentences);
# models and scored files go to WORK_DIR; what each command printed, and the HTML report, to RESULTS_DIR
# (the documentation's command-line page quotes docs/_static/cli).
set -euo pipefail
DATA=${1:-../shared/datasets/sst2_sentence}
WORK=${2:-cli_example}
RESULTS=${3:-$WORK}
mkdir -p "$WORK" "$RESULTS"

head -n 2001 "$DATA/train.csv" > "$WORK/train.csv"   # header + 2,000 sentences (the file is shuffled)

skafa train "$WORK/train.csv" --output "$WORK/afa" --epochs 2 --valid-fraction 0.1 --overwrite \
    > "$RESULTS/train_afa.txt" 2> "$RESULTS/train_afa.log"
skafa train "$WORK/train.csv" --output "$WORK/plain" --epochs 2 --valid-fraction 0.1 --no-afa --overwrite \
    > "$RESULTS/train_plain.txt" 2> "$RESULTS/train_plain.log"

skafa evaluate "$WORK/afa" "$DATA/dev.csv" > "$RESULTS/evaluate_afa.txt"
skafa evaluate "$WORK/plain" "$DATA/dev.csv" > "$RESULTS/evaluate_plain.txt"

skafa report "$WORK/afa" "$DATA/dev.csv" --label-column label --compare "$WORK/plain" --n 40 \
    --output "$RESULTS/report.html" --overwrite --quiet > /dev/null

skafa info "$WORK/afa" > "$RESULTS/info_afa.txt"
cp "$WORK/afa/README.md" "$RESULTS/model_card_afa.md"

skafa predict "$WORK/afa" "$DATA/dev.csv" --output "$WORK/dev_scored.csv" --top-words 3 --overwrite \
    2> "$RESULTS/predict_afa.txt"
head -n 4 "$WORK/dev_scored.csv" > "$RESULTS/predict_head.csv"
