#!/usr/bin/env python3
"""Build a tiny, random-weight Llama model directory fully offline.

Usage:  python make_tiny_model.py OUT_DIR   (default /tmp/probe/tiny-llama)

Produces (all deterministic for a given library version; fixed seeds):
  config.json              LlamaForCausalLM, hidden 128, 4 heads (head_dim 32),
                           4 kv heads, 2 layers, intermediate 256, max_pos 512
  model.safetensors        random weights (torch.manual_seed(0)), float32
  tokenizer.json           byte-level BPE trained locally with `tokenizers`
  tokenizer_config.json    PreTrainedTokenizerFast, bos/eos/pad, chat_template
  special_tokens_map.json
  generation_config.json   do_sample, temperature 0.7, top_p 0.6, top_k 20,
                           repetition_penalty 1.05, bos/eos ids

Needs: torch, transformers (>=4.4x, tested 5.19), tokenizers (tested 0.23),
safetensors.  No network access.
"""

import json
import os
import random
import sys

# Single-threaded BPE training so merges are reproducible.
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402

SEED = 0
VOCAB_SIZE = 1536
BOS, EOS, PAD = "<|begin_of_text|>", "<|end_of_text|>", "<|pad|>"
SPECIAL = [BOS, EOS, PAD]  # ids 0, 1, 2
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}{{ eos_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

WORDS = (
    "the a an of to and in is it that for on with as was by at from this be are "
    "or have not which one all were they we you he she there their will would can "
    "model token server request answer question number value cache memory engine "
    "sample random seed batch length prompt output input benchmark harness vllm "
    "llama rust cargo tokenizer chat system user assistant hello world quick brown "
    "fox jumps over lazy dog alpha beta gamma delta epsilon zeta theta lambda"
).split()


def make_corpus(rng: random.Random, n_lines: int = 4000) -> list[str]:
    lines = []
    for _ in range(n_lines):
        n = rng.randint(4, 18)
        words = [rng.choice(WORDS) for _ in range(n)]
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), str(rng.randint(0, 99999)))
        if rng.random() < 0.2:
            words.append(rng.choice(["?", "!", ".", ",", ":", ";", "-", "(x)", '"q"']))
        s = " ".join(words)
        if rng.random() < 0.5:
            s = s.capitalize()
        lines.append(s + ".")
    # make sure every printable ASCII char is seen
    lines.append("".join(chr(c) for c in range(32, 127)))
    return lines


def build_tokenizer(corpus: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    bos_id = tok.token_to_id(BOS)
    # Prepend BOS when add_special_tokens=True (Llama-style), keep byte-level offsets.
    tok.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single=f"{BOS} $A",
                pair=f"{BOS} $A {BOS} $B",
                special_tokens=[(BOS, bos_id)],
            ),
        ]
    )
    return tok


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/probe/tiny-llama"
    os.makedirs(out, exist_ok=True)
    random.seed(SEED)
    torch.manual_seed(SEED)

    # ---- tokenizer ----
    tok = build_tokenizer(make_corpus(random.Random(SEED)))
    tok.save(os.path.join(out, "tokenizer.json"))
    vocab = tok.get_vocab_size()
    bos_id, eos_id, pad_id = (tok.token_to_id(t) for t in SPECIAL)

    added = {
        str(tok.token_to_id(t)): {
            "content": t, "lstrip": False, "normalized": False,
            "rstrip": False, "single_word": False, "special": True,
        }
        for t in SPECIAL
    }
    tok_cfg = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": PAD,
        "add_bos_token": True,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 512,
        "added_tokens_decoder": added,
        "chat_template": CHAT_TEMPLATE,
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(tok_cfg, f, indent=2, sort_keys=True)
    with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": BOS, "eos_token": EOS, "pad_token": PAD}, f, indent=2)

    # ---- model ----
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        head_dim=32,
        max_position_embeddings=512,
        rms_norm_eps=1e-5,
        hidden_act="silu",
        tie_word_embeddings=False,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        initializer_range=0.02,
    )
    cfg.architectures = ["LlamaForCausalLM"]
    torch.manual_seed(SEED)
    model = LlamaForCausalLM(cfg).to(torch.float32).eval()
    model.save_pretrained(out, safe_serialization=True)

    # Write generation_config.json ourselves (save_pretrained may have written a
    # default one; overwrite with exactly the keys we want).
    gen = {
        "do_sample": True,
        "temperature": 0.7,
        "top_p": 0.6,
        "top_k": 20,
        "repetition_penalty": 1.05,
        "bos_token_id": bos_id,
        "eos_token_id": eos_id,
        "pad_token_id": pad_id,
    }
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2, sort_keys=True)

    # ---- self-check with transformers ----
    from transformers import AutoTokenizer

    t = AutoTokenizer.from_pretrained(out)
    ids = t("Hello world, the quick brown fox.")["input_ids"]
    assert ids[0] == bos_id, ids
    chat = t.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    n_params = sum(p.numel() for p in model.parameters())
    print(json.dumps({
        "out": out, "vocab_size": vocab, "bos": bos_id, "eos": eos_id, "pad": pad_id,
        "tokenizer_class": type(t).__name__, "example_ids": ids, "chat": chat,
        "n_params": n_params, "files": sorted(os.listdir(out)),
    }, indent=1))


if __name__ == "__main__":
    main()
