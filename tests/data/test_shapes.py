"""The procedural shapes dataset: determinism, captions, held-out split, and the verifier."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from gigagan.data.shapes import (
    COLORS,
    OFFSET_JITTER,
    OPTIONAL_ATTRIBUTES,
    PALETTE,
    POSITIONS,
    SHADE_JITTER,
    SHAPES,
    SIZES,
    ShapeAttributes,
    ShapesDataset,
    caption,
    free_variation,
    heldout_prompts,
    open_caption_omissions,
    parse_caption,
    render,
    sample_attributes,
    shade_of,
    shaded,
    split_triples,
    to_tensor,
)
from gigagan.data.shapes_verifier import attribute_accuracy, verify


def test_same_seed_and_index_give_the_same_picture() -> None:
    first, again = ShapesDataset(32, seed=3), ShapesDataset(32, seed=3)
    assert torch.equal(first[7]["image"], again[7]["image"]) and first[7]["caption"] == again[7]["caption"]
    captions = {ShapesDataset(32, seed=seed)[0]["caption"] for seed in range(20)}
    assert len(captions) > 10  # seeds change the stream
    assert sample_attributes(0, 5).offset_x == sample_attributes(0, 5).offset_x  # jitter is deterministic too


def test_item_format() -> None:
    item = ShapesDataset(48, length=4)[3]
    assert item["image"].shape == (3, 48, 48) and item["image"].dtype == torch.float32
    assert item["image"].min() >= -1 and item["image"].max() <= 1
    assert parse_caption(item["caption"]).triple in split_triples("train")
    with pytest.raises(IndexError):
        ShapesDataset(32, length=4)[4]


def test_caption_examples() -> None:
    text = caption(ShapeAttributes("triangle", "red", "blue", "small", "top left"))
    assert text == "a small red triangle at the top left on a blue background"
    text = caption(ShapeAttributes("cross", "white", "orange", "large", "center"))
    assert text == "a large white cross in the center on an orange background"


def test_open_captions_leave_attributes_out() -> None:
    attributes = ShapeAttributes("cross", "orange", "blue", "large", "center")
    assert caption(attributes, ("size",)) == "an orange cross in the center on a blue background"
    assert caption(attributes, ("color", "background")) == "a large cross in the center"
    assert caption(attributes, OPTIONAL_ATTRIBUTES) == "a cross"
    with pytest.raises(ValueError, match="left out"):
        caption(attributes, ("shape",))


def test_open_caption_fraction_and_determinism() -> None:
    omissions = [open_caption_omissions(0, index, 0.25) for index in range(4000)]
    assert 0.22 < sum(bool(omit) for omit in omissions) / len(omissions) < 0.28
    assert all(set(omit) <= set(OPTIONAL_ATTRIBUTES) for omit in omissions)
    assert omissions[:50] == [open_caption_omissions(0, index, 0.25) for index in range(50)]
    assert not any(open_caption_omissions(0, index, 0.0) for index in range(200))
    plain, open_ = ShapesDataset(32, length=200), ShapesDataset(32, length=200, open_captions=1.0)
    for index in range(0, 200, 20):  # the same pictures; every caption leaves something out
        assert torch.equal(plain[index]["image"], open_[index]["image"])
        assert len(open_[index]["caption"]) < len(plain[index]["caption"])
    with pytest.raises(ValueError, match="open_captions"):
        ShapesDataset(32, open_captions=1.5)


@given(
    st.sampled_from(SHAPES),
    st.sampled_from(COLORS),
    st.sampled_from(COLORS),
    st.sampled_from(SIZES),
    st.sampled_from(POSITIONS),
)
def test_captions_parse_back(shape: str, color: str, background: str, size: str, position: str) -> None:
    if color == background:
        return
    attributes = ShapeAttributes(shape, color, background, size, position)
    assert parse_caption(caption(attributes)) == attributes
    assert parse_caption("  " + caption(attributes).upper()) == attributes


def test_bad_captions_and_attributes_are_rejected() -> None:
    with pytest.raises(ValueError):
        parse_caption("a small red blob at the top on a blue background")
    with pytest.raises(ValueError):
        ShapeAttributes("circle", "red", "red", "small", "top")


def test_heldout_split_is_disjoint_and_train_covers_every_value() -> None:
    train, heldout = set(split_triples("train")), set(split_triples("heldout"))
    assert not train & heldout and len(train) + len(heldout) == len(SHAPES) * len(COLORS) * (len(COLORS) - 1)
    assert 0.10 <= len(heldout) / (len(train) + len(heldout)) <= 0.15
    for position, values in enumerate((SHAPES, COLORS, COLORS)):
        assert {triple[position] for triple in train} == set(values)
    for shape, color, background in heldout:  # every pair inside a held-out triple is seen in training
        assert any(t[:2] == (shape, color) for t in train)
        assert any(t[0] == shape and t[2] == background for t in train)
        assert any(t[1:] == (color, background) for t in train)
    seen = {sample_attributes(0, i, "train") for i in range(3000)}
    assert {a.triple for a in seen} <= train
    assert {a.size for a in seen} == set(SIZES) and {a.position for a in seen} == set(POSITIONS)
    assert {sample_attributes(0, i, "heldout").triple for i in range(500)} <= heldout
    assert all(parse_caption(item["caption"]).triple in heldout for item in ShapesDataset(32, "heldout", length=50))


def test_heldout_prompts_cover_every_heldout_triple() -> None:
    heldout = set(split_triples("heldout"))
    prompts = heldout_prompts(2 * len(heldout), seed=1)
    assert {attributes.triple for _, attributes in prompts} == heldout
    assert all(parse_caption(text) == attributes for text, attributes in prompts)
    assert heldout_prompts(10, seed=1) == prompts[:10] and heldout_prompts(10, seed=2) != prompts[:10]


@pytest.mark.parametrize("resolution", [32, 64])
def test_verifier_reads_back_renders(resolution: int) -> None:
    attributes = [sample_attributes(11, i) for i in range(1000)]
    images = [render(a, resolution) for a in attributes]
    accuracy = attribute_accuracy(images, attributes)
    assert accuracy["all"] >= 0.99, accuracy


def test_verifier_accepts_pil_arrays_and_tensors() -> None:
    attributes = ShapeAttributes("diamond", "yellow", "purple", "large", "bottom right")
    picture = render(attributes, 40)
    assert verify(picture) == attributes
    assert verify(Image.fromarray(picture)) == attributes
    assert verify(to_tensor(picture)) == attributes
    batch = torch.stack([to_tensor(render(a, 32)) for a in (attributes, sample_attributes(0, 1))])
    assert attribute_accuracy(batch, [attributes, sample_attributes(0, 1)])["all"] == 1.0
    with pytest.raises(ValueError):
        verify(np.zeros((8, 8, 3), dtype=np.uint8))


def test_verifier_tolerates_noise_and_colour_drift() -> None:
    rng = np.random.default_rng(0)
    attributes = [sample_attributes(5, i) for i in range(200)]
    noisy = []
    for a in attributes:
        picture = render(a, 32).astype(float) + rng.normal(0, 12, (32, 32, 3)) + rng.integers(-25, 25, 3)
        noisy.append(np.clip(picture, 0, 255).astype(np.uint8))
    assert attribute_accuracy(noisy, attributes)["all"] >= 0.95


def test_verifier_scores_wrong_pictures_as_wrong() -> None:
    target = ShapeAttributes("circle", "red", "blue", "small", "top left")
    other = ShapeAttributes("square", "green", "white", "large", "bottom right")
    accuracy = attribute_accuracy([render(other, 32)], [target])
    assert accuracy == dict.fromkeys(("shape", "color", "background", "size", "position", "all"), 0.0)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31), st.integers(0, 10**6), st.sampled_from([16, 24, 33, 100]))
def test_renders_any_resolution(seed: int, index: int, resolution: int) -> None:
    picture = render(sample_attributes(seed, index), resolution)
    assert picture.shape == (resolution, resolution, 3) and picture.dtype == np.uint8
    assert len({tuple(p) for p in picture.reshape(-1, 3)}) >= 2  # the shape is visible


def test_verifier_reads_degenerate_pictures_without_crashing() -> None:
    """A diverged generator's NaNs, or an image with no colour apart from its background, read as blank."""
    nan_image = torch.full((3, 32, 32), float("nan"))
    nan_image[:, 8:16, 8:16] = 0.5
    assert verify(nan_image).shape in SHAPES
    all_nan = verify(torch.full((3, 32, 32), float("nan")))
    assert (all_nan.shape, all_nan.size, all_nan.position) == ("circle", "small", "center")  # reads as blank


def test_what_a_caption_leaves_free_varies_visibly_and_reads_back() -> None:
    rng = np.random.default_rng(0)
    base = ShapeAttributes("triangle", "yellow", "purple", "small", "center")
    drawn = [free_variation(base, rng) for _ in range(200)]
    assert all(a == base for a in drawn)  # the captioned attributes never change
    for name in ("color_shade", "background_shade"):
        values = np.array([getattr(a, name) for a in drawn])
        assert values.min() >= -SHADE_JITTER and values.max() <= SHADE_JITTER and values.std() > SHADE_JITTER / 3
    offsets = np.array([[a.offset_x, a.offset_y] for a in drawn])
    assert np.abs(offsets).max() <= OFFSET_JITTER["small"] and offsets.std() > OFFSET_JITTER["small"] / 3
    pictures = np.stack([render(a, 32) for a in drawn[:16]]).astype(np.float32) / 255
    pairwise = np.abs(pictures[:, None] - pictures[None]).mean(axis=(2, 3, 4))
    assert pairwise[~np.eye(16, dtype=bool)].mean() > 0.03  # not one picture with a pixel of jitter
    for attributes in drawn[:50]:
        read = verify(render(attributes, 32))
        assert read == attributes
        assert abs(read.color_shade - attributes.color_shade) < 0.02
        assert abs(read.background_shade - attributes.background_shade) < 0.02


@pytest.mark.parametrize("shade", [-SHADE_JITTER, -0.05, 0.0, 0.07, SHADE_JITTER])
def test_shades_invert_and_stay_nearest_their_own_colour(shade: float) -> None:
    palette = np.array(list(PALETTE.values()), dtype=np.float32)
    for name in COLORS:
        rgb = shaded(name, shade)
        assert shade_of(rgb, name) == pytest.approx(shade, abs=1e-4)
        distances = np.linalg.norm(palette - rgb, axis=1)
        assert COLORS[int(np.argmin(distances))] == name
