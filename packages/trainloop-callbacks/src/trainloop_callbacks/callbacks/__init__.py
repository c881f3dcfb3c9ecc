"""Training techniques as callbacks: mixed precision, gradient accumulation and clipping, MixUp/CutMix,
weight averaging (EMA/SWA), trackers (early stopping, checkpoints, LR on plateau, CSV log), compilation."""
