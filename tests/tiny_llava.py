"""A tiny LLaVA built from transformers' real classes, saved as a hub-style model folder.

``make_tiny_llava(folder)`` builds, with fixed seeds and nothing downloaded:

* a tokenizer trained here with the ``tokenizers`` library (byte-level BPE on a few hundred
  crisis sentences made from templates), with ``<image>``, ``<pad>``, ``<s>``, ``</s>``,
  wrapped as a transformers fast tokenizer;
* a ``CLIPImageProcessor`` (32 x 32 input, CLIP mean/std) and a ``LlavaProcessor`` with a
  chat template in the LLaVA-1.5 style ("USER: <image>\\n... ASSISTANT:");
* ``LlavaForConditionalGeneration`` = a tiny CLIP vision tower (32 px, 8 px patches: 16
  image tokens) + a tiny Llama (hidden size 64 so bitsandbytes' 4-bit layers accept it,
  2 layers), random weights;

and writes them all with ``save_pretrained``: the folder loads back with
``AutoProcessor.from_pretrained`` / ``LlavaForConditionalGeneration.from_pretrained``
exactly as a downloaded model does. ``python tests/tiny_llava.py FOLDER`` writes one.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from pathlib import Path

IMAGE_SIZE = 32
PATCH_SIZE = 8
SPECIAL = ["<pad>", "<s>", "</s>", "<unk>", "<image>"]

# The same shape as llava-hf/llava-1.5-7b-hf's template: system text, "USER: <image>\n..."
# then "ASSISTANT:"; the image placeholder is a content part of type "image". Newlines
# are Jinja expressions: transformers renders with trim_blocks, which eats a newline
# written after a block tag.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}"
    "{% for part in message['content'] %}{{ part['text'] }}{% endfor %}{{ '\\n' }}"
    "{% elif message['role'] == 'user' %}USER: "
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>{{ '\\n' }}{% else %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{{ '\\n' }}"
    "{% else %}ASSISTANT: "
    "{% for part in message['content'] %}{{ part['text'] }}{% endfor %}</s>{{ '\\n' }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def domain_sentences() -> list[str]:
    """A few hundred crisis-imagery sentences (templates x words) to train the tokenizer."""
    subjects = ["A collapsed house", "The flooded road", "Rescue workers", "A damaged bridge",
                "Volunteers", "An overturned car", "Displaced families", "A burning building",
                "Power lines", "The hurricane"]
    verbs = ["is seen near", "block", "carry supplies to", "were hit by", "stand beside",
             "lies across", "wait at", "spread smoke over"]
    places = ["the river", "a shelter", "the highway", "the village", "a hospital",
              "the coast"]
    extra = ["USER: describe the image.", "ASSISTANT: the image shows damage.",
             "You are an analyst of disaster imagery.", "Post text: earthquake in Nepal",
             "Describe in detail what this image shows that matters for a crisis response.",
             "people injured trapped displaced in need; rescue relief volunteer work"]
    made = [f"{s} {v} {p}." for s, v, p in itertools.product(subjects, verbs, places)]
    return made + extra * 20


def build_tokenizer(vocab_size: int = 600, extra_texts: Sequence[str] = ()):
    """A byte-level BPE tokenizer trained offline, as a transformers fast tokenizer.
    ``extra_texts`` (e.g. the caption instruction, for the benchmark) join the training
    sentences; with a larger ``vocab_size`` they then encode in about as many tokens as a
    real LLaVA tokenizer gives them."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(domain_sentences() + list(extra_texts) * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
        unk_token="<unk>", extra_special_tokens={"image_token": "<image>"})
    fast.padding_side = "left"
    return fast


def build_processor(tokenizer, image_size: int = IMAGE_SIZE, patch_size: int = PATCH_SIZE):
    """CLIP image preprocessing (tiny input size unless told) + the LLaVA processor."""
    from transformers import CLIPImageProcessor, LlavaProcessor

    images = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size},
        do_center_crop=True, do_resize=True, resample=3,
        image_mean=[0.48145466, 0.4578275, 0.40821073],
        image_std=[0.26862954, 0.26130258, 0.27577711])
    return LlavaProcessor(image_processor=images, tokenizer=tokenizer, patch_size=patch_size,
                          vision_feature_select_strategy="default", chat_template=CHAT_TEMPLATE,
                          image_token="<image>", num_additional_image_tokens=1)


def build_model(tokenizer, seed: int = 0):
    """The tiny LlavaForConditionalGeneration with random weights (fixed seed)."""
    import torch
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
    )

    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=2, image_size=IMAGE_SIZE,
                              patch_size=PATCH_SIZE, projection_dim=32)
    text = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=4,
                       vocab_size=len(tokenizer), max_position_embeddings=512,
                       pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                       eos_token_id=tokenizer.eos_token_id)
    config = LlavaConfig(vision_config=vision, text_config=text,
                         image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                         projector_hidden_act="gelu", vision_feature_layer=-2,
                         vision_feature_select_strategy="default")
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model


def make_tiny_llava(folder: Path, seed: int = 0) -> Path:
    """Build the tiny LLaVA and save model + processor into ``folder``; return it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    processor = build_processor(tokenizer)
    model = build_model(tokenizer, seed)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


if __name__ == "__main__":
    print(make_tiny_llava(Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-llava")))
