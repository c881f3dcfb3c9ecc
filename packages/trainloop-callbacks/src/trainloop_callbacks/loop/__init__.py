"""The loop: events, the `Callback` base, the callback host, the data and optimizer contracts, `TrainLoop` and
its default callbacks (train/eval switching and the step clock, recorder, progress, finite-loss check, no
weight decay on norm and bias parameters)."""
