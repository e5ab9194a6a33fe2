"""Choosing a fusion profile: one coordinate ascent (ascent), used by the train-split tuner (rag_augment.eval.tune)
and by the label-free tuner of one index (label_free)."""
