#!/bin/bash
# ProUIE Deep Exploration on EasyR1: DE_ner -> DE_re -> DE_ee (paper Eq. 1, Appendix A.3), each
# phase starting from the previous phase's model, the first from the SA checkpoint.
#
# Run from the root of a prouie clone, in an environment with EasyR1 (which installs the `verl`
# package) and prouie installed, after writing the data with `prouie export-rl --target easyr1`
# (file names in recipes/de_{ner,re,ee}.yaml):
#   SA_MODEL=saves/prouie/sa EASYR1_DIR=~/EasyR1 bash recipes/de_easyr1.sh [key=value ...]
# Extra key=value arguments override every phase's config (EasyR1 / OmegaConf syntax).

set -euo pipefail

SA_MODEL=${SA_MODEL:?set SA_MODEL to the SA checkpoint}  # CHANGE ME
EASYR1_DIR=${EASYR1_DIR:?set EASYR1_DIR to an EasyR1 clone (for scripts/model_merger.py)}  # CHANGE ME
OUT_DIR=${OUT_DIR:-checkpoints/prouie}  # CHANGE ME: where the phases save
PHASES=${PHASES:-"ner re ee"}  # paper order; a subset resumes a chain (set SA_MODEL to the last model)

model=${SA_MODEL}
for task in ${PHASES}; do
    ckpt=${OUT_DIR}/de_${task}
    python3 -m verl.trainer.main \
        config=recipes/de_${task}.yaml \
        worker.actor.model.model_path=${model} \
        trainer.save_checkpoint_path=${ckpt} \
        "$@"
    # EasyR1 records the last saved actor in checkpoint_tracker.json; its merger writes the
    # Hugging Face model to <actor>/huggingface, which the next phase starts from.
    actor=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["last_actor_path"])' \
        "${ckpt}/checkpoint_tracker.json")
    python3 "${EASYR1_DIR}/scripts/model_merger.py" --local_dir "${actor}"
    model=${actor}/huggingface
done
echo "DE finished: ${model}"
