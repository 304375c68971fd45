"""Generation with a trained generator and the latent-space tools (interpolation, style and prompt mixing)."""

from gigagan.inference.pipeline import GenerationOutput, GigaGANPipeline, find_checkpoint, seed_to_z

__all__ = ["GenerationOutput", "GigaGANPipeline", "find_checkpoint", "seed_to_z"]
