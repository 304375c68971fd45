"""CLIP towers through open_clip: tokenizer, layer choice, real weight loading from a local file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import open_clip
import pytest
import torch
from safetensors.torch import save_file

from gigagan import GigaGANError
from gigagan.config import CLIPConfig, ModelConfig
from gigagan.models import CLIPTextTower, Discriminator, Generator
from gigagan.models.clip import CLIPTokenizer, build_text_tower, build_vision_tower, clip_architecture
from gigagan.models.text import trim_padding


def test_tokenizer_gives_77_tokens_and_truncates(tiny: ModelConfig) -> None:
    tokenizer = CLIPTokenizer(tiny.generator.text.clip)
    ids = tokenizer(["a red circle", "word " * 200])
    assert ids.shape == (2, 77)
    assert tokenizer.count_tokens("word " * 200) > 77
    eot = ids.argmax(dim=-1)
    assert eot[0] == 4 and eot[1] == 76  # <start> a red circle <end>; the long one ends at the limit
    assert torch.all(ids[0, 5:] == 0)


def test_trimmed_padding_leaves_every_real_token_unchanged(tiny: ModelConfig) -> None:
    generator = Generator(tiny.generator).eval()
    ids = generator.tokenize(["a red circle", "a small blue triangle at the top left on a green background"])
    (short,) = trim_padding(ids)
    assert short.shape == (2, int(ids.argmax(dim=-1).max()) + 1) and short.shape[1] < 77
    assert generator.text_encoder.clip.is_causal
    full, cut = generator.text_encoder(ids), generator.text_encoder(short)
    real = full.mask[:, : short.shape[1]]
    assert torch.equal(real, cut.mask)
    assert torch.allclose(full.local[:, : short.shape[1]][real], cut.local[real], atol=1e-5)
    assert torch.allclose(full.global_, cut.global_, atol=1e-5)
    z = torch.randn(2, tiny.generator.z_dim)
    images_full, images_cut = (generator(z, t, noise_mode="const")[0] for t in (ids, short))
    assert torch.allclose(images_full, images_cut, atol=1e-4)


def test_tower_returns_chosen_layer_with_padding_mask(tiny: ModelConfig) -> None:
    clip_config = dataclasses.replace(tiny.generator.text.clip, text_overrides={"width": 32, "layers": 3, "heads": 2})
    torch.manual_seed(0)
    last = CLIPTextTower(clip_config, layer=-1)
    torch.manual_seed(0)
    penultimate = CLIPTextTower(clip_config, layer=-2)
    ids = CLIPTokenizer(clip_config)(["a red circle", "a blue square on a green background"])
    a, b = last(ids), penultimate(ids)
    assert a.tokens.shape == (2, 77, 32)
    assert not torch.allclose(a.tokens, b.tokens)
    assert a.mask[0].sum() == 5 and a.mask[0, :5].all() and not a.mask[0, 5:].any()
    assert torch.equal(a.eot_index, ids.argmax(dim=-1))
    assert not any(p.requires_grad for p in last.parameters())


def test_token_embedding_features_are_per_token_and_normalised(tiny: ModelConfig) -> None:
    clip_config = tiny.generator.text.clip
    tower = CLIPTextTower(clip_config, features="token_embeddings")
    tokenizer = CLIPTokenizer(clip_config)
    ids = tokenizer(["a small red circle on a blue background", "a small green circle on a blue background"])
    out = tower(ids)
    expected = tower.tower.token_embedding(ids) + tower.tower.positional_embedding
    assert torch.allclose(out.tokens, torch.nn.functional.layer_norm(expected, (expected.shape[-1],)), atol=1e-6)
    assert torch.allclose(out.tokens.std(dim=-1, unbiased=False), torch.ones(2, 77), atol=0.03)  # LayerNorm eps
    # each token sees only itself: the captions differ in one word (position 3), so only it differs
    differs = (out.tokens[0] - out.tokens[1]).abs().amax(dim=-1) > 0
    assert differs.nonzero().flatten().tolist() == [3]
    assert tower.is_causal  # so training may cut the padding
    (short,) = trim_padding(ids)
    assert torch.equal(tower(short).tokens, out.tokens[:, : short.shape[1]])
    with pytest.raises(ValueError, match="clip_features"):
        CLIPTextTower(clip_config, features="blocks")


def test_quickstart_text_layers_read_token_embeddings() -> None:
    from gigagan import get_preset

    generator = Generator(get_preset("quickstart").generator)
    assert generator.text_encoder.clip.features == "token_embeddings"


def write_clip_checkpoint(config: CLIPConfig, path: Path) -> torch.nn.Module:
    """A full open_clip CLIP state dict on disk, like a downloaded checkpoint (random weights)."""
    torch.manual_seed(42)
    model = open_clip.CLIP(**clip_architecture(config))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return model


def test_text_and_image_towers_load_a_local_checkpoint(tiny: ModelConfig, tmp_path: Path) -> None:
    config = dataclasses.replace(tiny.generator.text.clip, pretrained=str(tmp_path / "clip.safetensors"))
    source = write_clip_checkpoint(config, tmp_path / "clip.safetensors")
    text = build_text_tower(config)
    assert torch.equal(text.token_embedding.weight, source.token_embedding.weight)
    assert torch.equal(text.transformer.resblocks[0].mlp.c_fc.weight, source.transformer.resblocks[0].mlp.c_fc.weight)
    vision = build_vision_tower(config)
    assert torch.equal(vision.conv1.weight, source.visual.conv1.weight)
    torch.manual_seed(0)
    random_text = build_text_tower(dataclasses.replace(config, pretrained=None))
    assert not torch.equal(random_text.token_embedding.weight, source.token_embedding.weight)


def test_models_use_the_checkpoint_and_saved_models_no_longer_need_it(tiny: ModelConfig, tmp_path: Path) -> None:
    clip_path = tmp_path / "clip.safetensors"
    clip = dataclasses.replace(tiny.generator.text.clip, pretrained=str(clip_path))
    source = write_clip_checkpoint(clip, clip_path)
    tiny.generator.text.clip = clip
    tiny.discriminator.vision_aided.clip = clip
    generator, discriminator = Generator(tiny.generator), Discriminator(tiny.discriminator)
    assert torch.equal(generator.text_encoder.clip.tower.token_embedding.weight, source.token_embedding.weight)
    assert torch.equal(discriminator.vision_aided.clip.conv1.weight, source.visual.conv1.weight)
    generator.save_pretrained(tmp_path / "model")
    clip_path.unlink()  # a released model carries its CLIP weights in its own safetensors
    loaded = Generator.from_pretrained(tmp_path / "model")
    assert torch.equal(loaded.text_encoder.clip.tower.token_embedding.weight, source.token_embedding.weight)


def test_bad_clip_sources_are_refused(tiny: ModelConfig, tmp_path: Path) -> None:
    with pytest.raises(GigaGANError, match="not found"):
        build_text_tower(dataclasses.replace(tiny.generator.text.clip, pretrained=str(tmp_path / "missing.pt")))
    with pytest.raises(GigaGANError, match="no open_clip weights"):
        build_text_tower(dataclasses.replace(tiny.generator.text.clip, pretrained="no-such-tag"))
    with pytest.raises(GigaGANError, match="unknown open_clip architecture"):
        clip_architecture(CLIPConfig(model_name="ViT-Z-99"))
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 64)
    with pytest.raises(GigaGANError, match="cannot read CLIP checkpoint"):
        build_text_tower(dataclasses.replace(tiny.generator.text.clip, pretrained=str(broken)))


def test_trainable_clip_option_lets_gradients_in(tiny: ModelConfig) -> None:
    tiny.generator.text.train_clip = True
    generator = Generator(tiny.generator)
    ids = generator.tokenize(["a red circle"])
    generator(torch.randn(1, tiny.generator.z_dim), ids)[0].mean().backward()
    assert generator.text_encoder.clip.tower.token_embedding.weight.grad is not None
