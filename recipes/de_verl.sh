#!/bin/bash
# ProUIE Deep Exploration on verl 0.9.1: DE_ner -> DE_re -> DE_ee (paper Eq. 1, Appendix A.3), each
# phase starting from the previous phase's model, the first from the SA checkpoint. The same
# settings as recipes/de_{ner,re,ee}.yaml (EasyR1) in verl's Hydra keys.
#
# Write the data first (one parquet per phase and split):
#   prouie export-rl --target verl --task ner --num-samples 80000 --input ner_train.jsonl --out ${DATA_DIR}/ner_train.parquet
#   prouie export-rl --target verl --task ner --split test --input ner_dev.jsonl --out ${DATA_DIR}/ner_dev.parquet
#   (likewise re with --num-samples 50000 and ee with --num-samples 9991)
# then, from the root of a prouie clone, in an environment with verl and prouie installed:
#   SA_MODEL=saves/prouie/sa DATA_DIR=data/de bash recipes/de_verl.sh [key=value ...]
# The reward can also be loaded without the file:
#   reward.custom_reward_function.path=pkg://prouie.integrations.verl_reward

set -euo pipefail

SA_MODEL=${SA_MODEL:?set SA_MODEL to the SA checkpoint}  # CHANGE ME
DATA_DIR=${DATA_DIR:-data/de}  # CHANGE ME: folder of <task>_train.parquet / <task>_dev.parquet
OUT_DIR=${OUT_DIR:-checkpoints/prouie}  # CHANGE ME: where the phases save
PHASES=${PHASES:-"ner re ee"}  # paper order

model=${SA_MODEL}
for task in ${PHASES}; do
    case ${task} in
        ner) n=4; epochs=2 ;;  # paper A.3: rollout n = 4, 2 epochs (80,000 instances)
        re) n=8; epochs=3 ;;   # paper A.3: rollout n = 8, 3 epochs (50,000 instances)
        ee) n=8; epochs=3 ;;   # paper A.3: rollout n = 8, 3 epochs (9,991 instances)
        *) echo "unknown DE phase ${task}" >&2; exit 2 ;;
    esac
    ckpt=${OUT_DIR}/de_${task}
    python3 -m verl.trainer.main_ppo \
        algorithm.adv_estimator=grpo \
        algorithm.use_kl_in_reward=False \
        data.train_files=${DATA_DIR}/${task}_train.parquet \
        data.val_files=${DATA_DIR}/${task}_dev.parquet \
        data.prompt_key=prompt \
        data.train_batch_size=512 \
        data.max_prompt_length=2048 \
        data.max_response_length=512 \
        data.filter_overlong_prompts=True \
        data.truncation=error \
        actor_rollout_ref.model.path=${model} \
        actor_rollout_ref.model.use_remove_padding=True \
        actor_rollout_ref.model.enable_gradient_checkpointing=True \
        actor_rollout_ref.actor.optim.lr=1e-6 \
        actor_rollout_ref.actor.ppo_mini_batch_size=128 \
        actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4 \
        actor_rollout_ref.actor.use_kl_loss=True \
        actor_rollout_ref.actor.kl_loss_coef=0.01 \
        actor_rollout_ref.actor.kl_loss_type=low_var_kl \
        actor_rollout_ref.actor.entropy_coeff=0 \
        actor_rollout_ref.rollout.name=vllm \
        actor_rollout_ref.rollout.n=${n} \
        actor_rollout_ref.rollout.temperature=1.0 \
        actor_rollout_ref.rollout.tensor_model_parallel_size=1 \
        actor_rollout_ref.rollout.gpu_memory_utilization=0.6 \
        actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=8 \
        actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=8 \
        reward.custom_reward_function.path=rewards/sfr_verl.py \
        reward.custom_reward_function.name=compute_score \
        +reward.custom_reward_function.reward_kwargs.variant=sfr \
        +reward.custom_reward_function.reward_kwargs.clip=True \
        trainer.project_name=prouie \
        trainer.experiment_name=de_${task} \
        trainer.logger='["console"]' \
        trainer.nnodes=1 \
        trainer.n_gpus_per_node=8 \
        trainer.total_epochs=${epochs} \
        trainer.save_freq=50 \
        trainer.test_freq=10 \
        trainer.default_local_dir=${ckpt} \
        "$@"
    # verl records the last saved step; its merger turns the FSDP shards into a Hugging Face model.
    step=$(cat "${ckpt}/latest_checkpointed_iteration.txt")
    python3 -m verl.model_merger merge --backend fsdp \
        --local_dir "${ckpt}/global_step_${step}/actor" --target_dir "${ckpt}/hf"
    model=${ckpt}/hf
done
echo "DE finished: ${model}"
