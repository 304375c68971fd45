"""GigaGAN's objective. One object owns every loss term; the training loop calls one method per
phase (G main, D main, D regularisation) and gets back a scalar loss and named statistics.

- Adversarial: non-saturating logistic loss on every MS-I/O prediction (averaged over positions
  and over predictions, so the learning rate does not depend on the number of levels), or the
  relativistic pairing loss of R3GAN (each real logit against the logit of the fake drawn for the
  same caption).
- Matching-aware (D and G): a real image shown with another sample's caption counts as fake for D;
  G is also rewarded when D rejects its image under a wrong caption, which pushes G to make images
  specific to their own caption.
- Contrastive (optional, D and G): InfoNCE over the batch's captions on D's dense-head embeddings.
- Lazy R1 on real images (all pyramid levels), every `r1_interval` D steps, scaled by the interval;
  optionally R2, the same penalty on the fakes.
- Vision-aided discriminator heads on frozen CLIP features, and a CLIP contrastive (InfoNCE) loss
  on generated images; both only where real CLIP weights are configured.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from gigagan.config import MISMATCH_STRATEGIES, CLIPConfig, LossConfig
from gigagan.errors import GigaGANError
from gigagan.models import Discriminator, Generator
from gigagan.models.clip import CLIPTokenizer, build_clip_model, clip_image_size, clip_preprocess
from gigagan.models.discriminator import DenseHead, DiscriminatorOutput
from gigagan.models.text import CLIPTextFeatures, TextEncoding
from gigagan.nn import image_pyramid
from gigagan.training.augment import AugmentParams, augment_pyramid


@dataclass
class TrainingBatch:
    """One rank's share of a global batch plus the random draws that must agree across ranks."""

    images: Tensor  # real images [B, 3, R, R] in [-1, 1]
    captions: list[str]
    tokens: Tensor  # G's CLIP token ids [B, L], padding after the last EOT cut off
    mismatched_tokens: Tensor  # tokens of a different caption for every sample [B, L']
    mismatch_valid: Tensor  # [B] bool: False where no different caption existed in the batch
    z: Tensor  # [B, z_dim] for the G phase
    z_discriminator: Tensor  # [B, z_dim] for the D phase
    augment: AugmentParams | None = None
    low_res: Tensor | None = None  # the upsampler's input [B, 3, r, r] in [-1, 1] (upsampler training only)
    # frozen-CLIP features of `tokens` / `mismatched_tokens`, filled in once and shared by the phases
    clip_features: CLIPTextFeatures | None = None
    mismatched_clip_features: CLIPTextFeatures | None = None
    generator_fakes: list[Tensor] | None = None  # the G phase's pyramid, kept for D (reuse_generator_fakes)


def _item(value: Tensor) -> float:
    return float(value.detach())


def _word_overlap(a: str, b: str) -> float:
    """Jaccard similarity of two captions' lower-case word sets."""
    words_a, words_b = set(a.lower().split()), set(b.lower().split())
    return len(words_a & words_b) / max(len(words_a | words_b), 1)


def mismatched_indices(
    captions: list[str], generator: torch.Generator | None = None, strategy: str = "random"
) -> tuple[Tensor, Tensor]:
    """For every caption, the index of a random *different* caption in the batch; with
    `strategy="similar"` a random one among the different captions that share the most words, and
    with `strategy="mixed"` either of the two, chosen per caption by a fair coin.

    Returns (indices [B], valid [B]); valid is False (and the index points to itself) where every
    caption in the batch is the same as this one.
    """
    if strategy not in MISMATCH_STRATEGIES:
        raise ValueError(f"mismatch must be one of {', '.join(MISMATCH_STRATEGIES)}, got {strategy!r}")
    count = len(captions)
    indices = torch.arange(count)
    valid = torch.zeros(count, dtype=torch.bool)
    draws = torch.rand(count, generator=generator)
    similar = torch.full((count,), strategy == "similar")
    if strategy == "mixed":
        similar = torch.rand(count, generator=generator) < 0.5
    for i, caption in enumerate(captions):
        candidates = [j for j, other in enumerate(captions) if other != caption]
        if candidates and similar[i]:
            overlaps = [_word_overlap(caption, captions[j]) for j in candidates]
            highest = max(overlaps)
            candidates = [j for j, overlap in zip(candidates, overlaps) if overlap == highest]
        if candidates:
            indices[i] = candidates[min(int(draws[i] * len(candidates)), len(candidates) - 1)]
            valid[i] = True
    return indices, valid


def _swap_one_phrase(caption: str, donor: str, draw: float) -> str:
    """`caption` with one of the phrases in which it differs from `donor` (words aligned by
    difflib) replaced by the donor's phrase there; the donor itself where nothing can be swapped.
    A run of differing words as long in both is swapped one word at a time. Differences only in
    words of one or two letters ("a" / "an", "in" / "at") are left alone:
    swapping them rarely changes the meaning."""
    words, donor_words = caption.split(), donor.split()
    matcher = difflib.SequenceMatcher(a=[w.lower() for w in words], b=[w.lower() for w in donor_words], autojunk=False)
    spans = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "replace":
            continue
        # a run of differing words of equal length is a run of one-word differences
        pieces = [(i, i + 1, j, j + 1) for i, j in zip(range(i1, i2), range(j1, j2))] if i2 - i1 == j2 - j1 else []
        for a1, a2, b1, b2 in pieces or [(i1, i2, j1, j2)]:
            if max(len(w) for w in words[a1:a2] + donor_words[b1:b2]) > 2:
                spans.append((a1, a2, b1, b2))
    if not spans:
        return donor
    i1, i2, j1, j2 = spans[min(int(draw * len(spans)), len(spans) - 1)]
    return " ".join([*words[:i1], *donor_words[j1:j2], *words[i2:]])


def mismatched_captions(
    captions: list[str], generator: torch.Generator | None = None, strategy: str = "random"
) -> tuple[list[str], Tensor]:
    """A wrong caption for every caption of the batch (see `LossConfig.mismatch`): another caption of
    the batch (`mismatched_indices`), or with "swap" the caption with one phrase taken from another
    caption where the two differ, so that it differs in a single attribute; "random+swap" picks one of
    the two by a fair coin per caption.

    Returns (captions, valid [B]); valid is False where every caption in the batch is the same."""
    if strategy not in ("swap", "random+swap"):
        indices, valid = mismatched_indices(captions, generator, strategy)
        return [captions[int(j)] for j in indices], valid
    indices, valid = mismatched_indices(captions, generator, "random")
    swap = torch.rand(len(captions), generator=generator) < (1.0 if strategy == "swap" else 0.5)
    draws = torch.rand(len(captions), generator=generator).tolist()
    wrong = []
    for i, caption in enumerate(captions):
        donor = captions[int(indices[i])]
        wrong.append(_swap_one_phrase(caption, donor, draws[i]) if valid[i] and swap[i] else donor)
    return wrong, valid


def adversarial_loss(logits: list[Tensor], real: bool, rows: Tensor | None = None) -> Tensor:
    """Mean over predictions of the non-saturating logistic loss (softplus(-l) for real, softplus(l)
    for fake), each averaged over positions and over the selected rows."""
    if not logits:
        return torch.zeros(())
    terms = []
    for prediction in logits:
        value = F.softplus(-prediction if real else prediction).mean(dim=1)
        terms.append(value[rows].mean() if rows is not None else value.mean())
    return torch.stack(terms).mean()


def relativistic_loss(preferred: list[Tensor], other: list[Tensor]) -> Tensor:
    """RpGAN's pairing loss: mean over predictions of softplus(other - preferred), each logit of
    `preferred` ([B, N]) against the same sample's and position's logit of `other`."""
    if not preferred:
        return torch.zeros(())
    return torch.stack([F.softplus(b - a).mean() for a, b in zip(preferred, other, strict=True)]).mean()


def contrastive_loss(
    image_embeddings: list[Tensor],
    caption_embedding: Tensor,
    captions: list[str],
    extra_negatives: Tensor | None = None,
    extra_valid: Tensor | None = None,
) -> Tensor:
    """Mean over predictions of the cross-entropy of scoring each image under every caption of the
    batch (logits <image_i, caption_j>) with its own caption as the answer; other samples with the
    same caption text are left out of the softmax rather than counted as wrong. `extra_negatives`
    [B, D] adds one more wrong caption per image (e.g. its matching-aware caption), counted where
    `extra_valid` [B] is True."""
    if not image_embeddings:
        return caption_embedding.new_zeros(())
    device = caption_embedding.device
    same_text = torch.tensor([[a == b for b in captions] for a in captions], device=device)
    duplicate = same_text & ~torch.eye(len(captions), dtype=torch.bool, device=device)
    if extra_negatives is not None:
        valid = extra_valid if extra_valid is not None else torch.ones(len(captions), dtype=torch.bool, device=device)
        duplicate = torch.cat([duplicate, ~valid[:, None].to(device)], dim=1)
    targets = torch.arange(len(captions), device=device)
    terms = []
    for image in image_embeddings:
        logits = image.float() @ caption_embedding.float().t()
        if extra_negatives is not None:
            logits = torch.cat([logits, (image.float() * extra_negatives.float()).sum(dim=1, keepdim=True)], dim=1)
        terms.append(F.cross_entropy(logits.masked_fill(duplicate, float("-inf")), targets))
    return torch.stack(terms).mean()


def diversity_loss(images: Tensor, other_images: Tensor, z: Tensor, other_z: Tensor, cap: float) -> Tensor:
    """DSGAN's diversity-sensitive term: minus the mean over pairs of min(mean |image - other| /
    mean |z - other_z|, cap); images of one caption from two latents each."""
    ratio = (images - other_images).abs().flatten(1).mean(1) / (z - other_z).abs().mean(1).clamp_min(1e-8)
    return -ratio.clamp(max=cap).mean()


def r1_penalty(score_fn: Callable[[list[Tensor]], Tensor], inputs: list[Tensor]) -> Tensor:
    """R1: per-sample squared norm of d(score)/d(inputs), summed over all inputs; shape [B].

    `score_fn` maps the inputs to one score per sample ([B]); the penalty keeps its graph so it can
    be minimised.
    """
    inputs = [x.detach().requires_grad_(True) for x in inputs]
    scores = score_fn(inputs)
    gradients = torch.autograd.grad(scores.sum(), inputs, create_graph=True)
    return sum(g.to(torch.promote_types(g.dtype, torch.float32)).square().flatten(1).sum(dim=1) for g in gradients)


class CLIPContrastiveLoss(nn.Module):
    """InfoNCE between frozen CLIP embeddings of generated images and of their captions."""

    def __init__(self, config: CLIPConfig) -> None:
        super().__init__()
        self.model = build_clip_model(config).requires_grad_(False).eval()
        self.tokenizer = CLIPTokenizer(config)
        self.image_size = clip_image_size(config)

    def train(self, mode: bool = True) -> CLIPContrastiveLoss:
        return super().train(False)

    def forward(self, images: Tensor, captions: list[str]) -> Tensor:
        tokens = self.tokenizer(captions).to(images.device)
        image_embedding = F.normalize(self.model.encode_image(clip_preprocess(images, self.image_size)), dim=-1)
        with torch.no_grad():
            text_embedding = F.normalize(self.model.encode_text(tokens), dim=-1)
        logits = self.model.logit_scale.exp() * image_embedding @ text_embedding.t()
        return F.cross_entropy(logits.float(), torch.arange(len(captions), device=images.device))


class GigaGANLoss:
    """Every loss term of GigaGAN; `use_clip` switches the CLIP-dependent terms."""

    def __init__(
        self,
        generator: Generator,
        discriminator: Discriminator,
        config: LossConfig,
        clip_loss: CLIPContrastiveLoss | None = None,
        use_vision_aided: bool = False,
        autocast_dtype: torch.dtype | None = None,
        noise_mode: str = "random",
    ) -> None:
        if config.contrastive_weight > 0 and not isinstance(discriminator.heads[-1], DenseHead):
            raise GigaGANError(
                "loss.contrastive_weight needs a discriminator with a shared dense final head "
                "(discriminator.dense_final_head=true, separate_heads=false)"
            )
        self.generator = generator
        self.discriminator = discriminator
        self.config = config
        self.clip_loss = clip_loss
        self.use_vision_aided = use_vision_aided and discriminator.vision_aided is not None
        self.autocast_dtype = autocast_dtype
        self.noise_mode = noise_mode

    def _autocast(self, device: torch.device) -> torch.autocast:
        return torch.autocast(
            device.type, dtype=self.autocast_dtype or torch.bfloat16, enabled=self.autocast_dtype is not None
        )

    def _discriminate(
        self, pyramid: list[Tensor], t: Tensor, augment: AugmentParams | None, mismatched_text: Tensor | None = None
    ) -> DiscriminatorOutput:
        if augment is not None:
            pyramid = augment_pyramid(pyramid, augment)
        return self.discriminator(
            pyramid,
            t,
            use_vision_aided=self.use_vision_aided,
            mismatched_text=mismatched_text,
            prediction_depths=self._prediction_depths(),
        )

    def _prediction_depths(self) -> set[int] | None:
        """The depths whose predictions the loss trains on (LossConfig.predictions); None = every depth.
        D skips the other depths' heads altogether."""
        return None if self.config.predictions == "all" else {self.discriminator.num_levels - 1}

    def _clip(self, batch: TrainingBatch, mismatched: bool = False) -> CLIPTextFeatures:
        """Detached CLIP text features of the batch's (or the wrong) captions, computed once per batch
        while the tower is frozen (a trainable tower changes between phases, so it is rerun)."""
        name = "mismatched_clip_features" if mismatched else "clip_features"
        cached = getattr(batch, name)
        if cached is None or self.generator.config.text.train_clip:
            with torch.no_grad():
                features = self.generator.text_encoder.clip(batch.mismatched_tokens if mismatched else batch.tokens)
            cached = CLIPTextFeatures(features.tokens.detach().float(), features.mask, features.eot_index)
            setattr(batch, name, cached)
        return cached

    def _text(self, batch: TrainingBatch, mismatched: bool = False) -> tuple[CLIPTextFeatures, Tensor]:
        """(frozen CLIP features, t_D) for D."""
        features = self._clip(batch, mismatched)
        return features, self.discriminator.encode_text(features)

    def _generator_text(self, batch: TrainingBatch) -> TextEncoding:
        if self.generator.config.text.train_clip:
            return self.generator.text_encoder(batch.tokens)
        return self.generator.text_encoder(clip_features=self._clip(batch))

    def _fake_terms(self, out: DiscriminatorOutput, real: bool) -> tuple[Tensor, Tensor]:
        adversarial = adversarial_loss(out.multiscale, real=real)
        vision = adversarial_loss(out.vision, real=real) if out.vision else adversarial.new_zeros(())
        return adversarial, vision

    def _contrastive(self, out: DiscriminatorOutput, batch: TrainingBatch, t_wrong: Tensor | None) -> Tensor:
        """The contrastive term; with `contrastive_mismatched`, each image's matching-aware caption is
        one more negative (a hard one under mismatch="swap")."""
        extra = None
        if self.config.contrastive_mismatched and t_wrong is not None:
            extra = self.discriminator.heads[-1].embed_caption(t_wrong)
        return contrastive_loss(
            out.image_embeddings, out.caption_embedding, batch.captions, extra, batch.mismatch_valid
        )

    def _caption_terms(
        self,
        side: str,
        out: DiscriminatorOutput,
        batch: TrainingBatch,
        t_wrong: Tensor | None,
        matching: bool,
        total: Tensor,
        stats: dict[str, float],
    ) -> Tensor:
        """`total` plus `side`'s ("G" or "D") weighted matching-aware term (D's verdict on the images
        `out` was computed for, under mismatched captions, pushed towards "fake") and contrastive term;
        each term's value goes into `stats`."""
        if matching:
            mismatch = adversarial_loss(out.mismatched, real=False, rows=batch.mismatch_valid)
            total = total + self.config.matching_aware_weight * mismatch
            stats[f"{side}/matching_aware"] = _item(mismatch)
        if self.config.contrastive_weight > 0:
            contrastive = self._contrastive(out, batch, t_wrong)
            total = total + self.config.contrastive_weight * contrastive
            stats[f"{side}/contrastive"] = _item(contrastive)
        return total

    def generate(self, batch: TrainingBatch, z: Tensor, text: TextEncoding | None = None) -> list[Tensor]:
        """The generator's pyramid for `z` and the batch's captions (an upsampler also reads `batch.low_res`)."""
        text = self._generator_text(batch) if text is None else text
        return self.generator(z, text=text, noise_mode=self.noise_mode)

    def _draw_with_pairs(self, batch: TrainingBatch, text: TextEncoding) -> tuple[list[Tensor], Tensor | None]:
        """G's pyramid for the batch and, with the diversity term on, its first `diversity_pairs` captions
        drawn again from the first rows of `batch.z_discriminator` (an independent draw the trainer already
        makes), in one forward pass: one batch of B + pairs costs less than two passes on small batches."""
        if self.config.diversity_weight <= 0:
            return self.generate(batch, batch.z, text), None
        size, pairs = len(batch.z), min(self.config.diversity_pairs, len(batch.z))
        z = torch.cat([batch.z, batch.z_discriminator[:pairs]])
        drawn = self.generate(batch, z, text.concat(text.rows(slice(pairs))))
        return [level[:size] for level in drawn], drawn[0][size:]

    def _diversity(self, batch: TrainingBatch, fake: Tensor, other: Tensor) -> Tensor:
        """The diversity-sensitive term on the batch's first captions, drawn again as `other` (both pooled
        to `diversity_resolution` when it is set)."""
        pairs = len(other)
        fake = fake[:pairs]
        side = self.config.diversity_resolution
        if side is not None and side < fake.shape[-1]:
            fake, other = F.adaptive_avg_pool2d(fake, side), F.adaptive_avg_pool2d(other, side)
        return diversity_loss(fake, other, batch.z[:pairs], batch.z_discriminator[:pairs], self.config.diversity_cap)

    def extra_generator_terms(self, batch: TrainingBatch, fake: list[Tensor]) -> tuple[Tensor | None, dict[str, float]]:
        """Further weighted G loss terms beyond the GAN ones (none here; the upsampler adds a perceptual loss)."""
        return None, {}

    def _as_judged(self, fake: list[Tensor]) -> list[Tensor]:
        """The fake pyramid D reads (see LossConfig.fake_pyramid)."""
        if self.config.fake_pyramid == "downsampled":
            return image_pyramid(fake[0], len(fake))
        return fake

    def generator_loss(self, batch: TrainingBatch) -> tuple[Tensor, dict[str, float]]:
        """G main phase: fool D under the right caption, be rejected under a wrong one, match CLIP."""
        device = batch.z.device
        with self._autocast(device):
            _, t_d = self._text(batch)
            text = self._generator_text(batch)
            fake, drawn_again = self._draw_with_pairs(batch, text)
            if self.config.reuse_generator_fakes:
                batch.generator_fakes = [level.detach().float() for level in fake]
            matching = self.config.matching_aware_weight > 0 and bool(batch.mismatch_valid.any())
            t_wrong = self._text(batch, mismatched=True)[1] if matching else None
            out = self._discriminate(self._as_judged(fake), t_d, batch.augment, mismatched_text=t_wrong)
            adversarial, vision = self._fake_terms(out, real=True)
            if self.config.adversarial == "relativistic":
                with torch.no_grad():
                    real = image_pyramid(batch.images, self.discriminator.num_levels)
                    out_real = self._discriminate(real, t_d, batch.augment)
                adversarial = relativistic_loss(out.multiscale, out_real.multiscale)
            total = adversarial + self.config.vision_aided_weight * vision
            stats = {"G/adversarial": _item(adversarial), "G/vision_aided": _item(vision)}
            total = self._caption_terms("G", out, batch, t_wrong, matching, total, stats)
            if self.clip_loss is not None and self.config.clip_weight > 0:
                clip = self.clip_loss(fake[0].float(), batch.captions)
                total = total + self.config.clip_weight * clip
                stats["G/clip"] = _item(clip)
            if drawn_again is not None:
                diversity = self._diversity(batch, fake[0], drawn_again)
                total = total + self.config.diversity_weight * diversity
                stats["G/diversity"] = _item(diversity)
            extra, extra_stats = self.extra_generator_terms(batch, fake)
            if extra is not None:
                total = total + extra
                stats |= extra_stats
        stats["G/total"] = _item(total)
        return total, stats

    @torch.no_grad()
    def generate_for_discriminator(self, batch: TrainingBatch) -> list[Tensor]:
        """The fakes D's phase judges: a fresh batch from z_discriminator, or the G phase's own."""
        if self.config.reuse_generator_fakes and batch.generator_fakes is not None:
            return batch.generator_fakes
        with self._autocast(batch.z.device):
            return [level.float() for level in self.generate(batch, batch.z_discriminator)]

    def discriminator_loss(self, batch: TrainingBatch, fake: list[Tensor]) -> tuple[Tensor, dict[str, float]]:
        """D main phase: reals are real; fakes and reals under wrong captions are fake."""
        device = batch.images.device
        real = image_pyramid(batch.images, self.discriminator.num_levels)
        with self._autocast(device):
            _, t_d = self._text(batch)
            matching = self.config.matching_aware_weight > 0 and bool(batch.mismatch_valid.any())
            t_wrong = self._text(batch, mismatched=True)[1] if matching else None
            # reals under their own and under wrong captions share one trunk pass
            out_real = self._discriminate(real, t_d, batch.augment, mismatched_text=t_wrong)
            out_fake = self._discriminate([level.detach() for level in self._as_judged(fake)], t_d, batch.augment)
            real_adversarial, real_vision = self._fake_terms(out_real, real=True)
            fake_adversarial, fake_vision = self._fake_terms(out_fake, real=False)
            if self.config.adversarial == "relativistic":  # one pairing term, reported as the real side
                real_adversarial = relativistic_loss(out_real.multiscale, out_fake.multiscale)
                fake_adversarial = real_adversarial.new_zeros(())
            total = real_adversarial + fake_adversarial
            total = total + self.config.vision_aided_weight * (real_vision + fake_vision)
            stats = {
                "D/real": _item(real_adversarial),
                "D/fake": _item(fake_adversarial),
                "D/vision_aided": _item(real_vision + fake_vision),
                "D/logits_real": _item(torch.stack([x.mean() for x in out_real.multiscale]).mean()),
                "D/logits_fake": _item(torch.stack([x.mean() for x in out_fake.multiscale]).mean()),
            }
            total = self._caption_terms("D", out_real, batch, t_wrong, matching, total, stats)
        stats["D/total"] = _item(total)
        return total, stats

    def r1_loss(self, batch: TrainingBatch) -> tuple[Tensor, dict[str, float]]:
        """D regularisation phase: lazy R1 on the real pyramid (and R2 on the fakes D judges, where
        `r2_gamma` > 0), scaled by the interval."""
        _, t_d = self._text(batch)

        def score(levels: list[Tensor]) -> Tensor:
            out = self.discriminator(levels, t_d, use_vision_aided=False, prediction_depths=self._prediction_depths())
            return torch.stack([logits.float().mean(dim=1) for logits in out.multiscale]).mean(dim=0)

        real = image_pyramid(batch.images, self.discriminator.num_levels)
        # R1 differentiates a gradient; fused attention kernels have no double backward
        with sdpa_kernel([SDPBackend.MATH]):
            penalty = r1_penalty(score, real).mean()
            loss = penalty * (self.config.r1_gamma / 2)
            stats = {"D/r1_penalty": _item(penalty)}
            if self.config.r2_gamma > 0:
                fake = self._as_judged(self.generate_for_discriminator(batch))
                fake_penalty = r1_penalty(score, fake).mean()
                loss = loss + fake_penalty * (self.config.r2_gamma / 2)
                stats["D/r2_penalty"] = _item(fake_penalty)
        return loss * self.config.r1_interval, stats
