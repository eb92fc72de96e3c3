"""Training matting models without alpha labels, as a detectron2 plugin."""
