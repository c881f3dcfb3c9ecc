"""GAN training as callbacks on the unchanged loop: `GANModule`, `GANLoss`, `GANTrainer`, switchers, `GANLearner`.

The data yields `(noise, real)` pairs. In generator mode the model is the generator: `pred = generator(noise)`
and the loss asks the critic about it. In critic mode `GANTrainer` swaps the batch so the model (the critic) sees
the real samples, and the loss generates fakes from the noise to compare against.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from pluggable_optim import Adam
from trainloop_callbacks.callbacks.accumulate import GradientAccumulation
from trainloop_callbacks.callbacks.mixup import MixHandler
from trainloop_callbacks.learner import Learner
from trainloop_callbacks.loop.callback import Callback
from trainloop_callbacks.loop.host import listify

__all__ = [
    "GANModule",
    "GANLoss",
    "GANTrainer",
    "FixedGANSwitcher",
    "AdaptiveGANSwitcher",
    "GANLearner",
    "wgan_generator_loss",
    "wgan_critic_loss",
]


class GANModule(nn.Module):
    """A generator and a critic in one module; `forward` runs the generator in `gen_mode`, else the critic."""

    def __init__(self, generator: nn.Module, critic: nn.Module, gen_mode: bool = False) -> None:
        super().__init__()
        self.generator, self.critic, self.gen_mode = generator, critic, gen_mode

    def forward(self, *args: Any) -> Any:
        return self.generator(*args) if self.gen_mode else self.critic(*args)

    def switch(self, gen_mode: bool | None = None) -> None:
        """Set generator mode to `gen_mode`, or flip it when `None`."""
        self.gen_mode = (not self.gen_mode) if gen_mode is None else gen_mode


class GANLoss(nn.Module):
    """The loss of either mode of `gan_model`.

    Generator mode: `gen_loss_func(critic(fake), fake, real)`. Critic mode: `crit_loss_func(critic(real),
    critic(generator(noise)))`, with the fakes generated without gradient. The last values are kept in
    `gen_loss` / `crit_loss`.
    """

    def __init__(
        self,
        gen_loss_func: Callable[[Tensor, Tensor, Tensor], Tensor],
        crit_loss_func: Callable[[Tensor, Tensor], Tensor],
        gan_model: GANModule,
    ) -> None:
        super().__init__()
        self.gen_loss_func, self.crit_loss_func = gen_loss_func, crit_loss_func
        self.gan_model = [gan_model]  # a list: not registered as a submodule (its weights belong to the learner)
        self.gen_loss = self.crit_loss = torch.tensor(float("nan"))

    def generator(self, output: Tensor, target: Tensor) -> Tensor:
        """Loss of the generator's `output` (fakes) whose real counterparts are `target`."""
        fake_pred = self.gan_model[0].critic(output)
        self.gen_loss = self.gen_loss_func(fake_pred, output, target)
        return self.gen_loss

    def critic(self, real_pred: Tensor, noise: Tensor) -> Tensor:
        """Loss of the critic's `real_pred` on real samples, against fakes generated from `noise`."""
        gan = self.gan_model[0]
        with torch.no_grad():
            fake = gan.generator(noise)
        fake_pred = gan.critic(fake)
        self.crit_loss = self.crit_loss_func(real_pred, fake_pred)
        return self.crit_loss

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.generator(pred, target) if self.gan_model[0].gen_mode else self.critic(pred, target)


def _set_trainable(m: nn.Module, on: bool) -> None:
    for p in m.parameters():
        p.requires_grad_(on)


class GANTrainer(Callback):
    """Alternates generator and critic training on the learner's `GANModule`.

    Only the module being trained requires grad; with `switch_eval` the other is put in eval mode. In critic mode
    the batch is swapped (critic input = real samples). `clip` clamps the critic's weights before every training
    batch (WGAN). Validation runs in generator mode. `gen_losses`/`crit_losses` record each mode's training losses.
    """

    order = -8  # before_batch swaps the batch before anything else reads it
    conflicts_with = {  # noqa: RUF012
        GradientAccumulation: "accumulated gradients would mix generator and critic steps",
        MixHandler: "mixing a GAN's noise with real samples is not meaningful",
    }

    def __init__(self, switch_eval: bool = False, clip: float | None = None, gen_first: bool = False) -> None:
        self.switch_eval, self.clip, self.gen_first = switch_eval, clip, gen_first
        self.gen_mode = gen_first
        self.gen_losses: list[float] = []
        self.crit_losses: list[float] = []

    def before_fit(self) -> None:
        learn = self.learn
        if not isinstance(learn.model, GANModule):
            raise TypeError(f"GANTrainer needs learn.model to be a GANModule, got {type(learn.model).__name__}")
        if not isinstance(learn.loss_func, GANLoss):
            raise TypeError(f"GANTrainer needs learn.loss_func to be a GANLoss, got {type(learn.loss_func).__name__}")
        self.gan: GANModule = learn.model
        self.gen_mode = self.gen_first
        self.gen_losses, self.crit_losses = [], []

    def _apply(self, gen_mode: bool) -> None:
        gan = self.gan
        gan.switch(gen_mode)
        train, other = (gan.generator, gan.critic) if gen_mode else (gan.critic, gan.generator)
        _set_trainable(train, True)
        _set_trainable(other, False)
        if self.switch_eval:
            train.train()
            other.eval()

    def switch(self, gen_mode: bool | None = None) -> None:
        """Change the mode trained next (flip it when `gen_mode` is None)."""
        self.gen_mode = (not self.gen_mode) if gen_mode is None else gen_mode
        self._apply(self.gen_mode)

    def before_train(self) -> None:
        self._apply(self.gen_mode)

    def before_validate(self) -> None:
        self._apply(True)

    def before_batch(self) -> None:
        learn = self.learn
        if not learn.training:
            return
        if self.clip is not None:
            with torch.no_grad():
                for p in self.gan.critic.parameters():
                    p.clamp_(-self.clip, self.clip)
        if not self.gen_mode:
            learn.xb, learn.yb = learn.yb, learn.xb

    def after_batch(self) -> None:
        learn = self.learn
        if learn.training and learn.yb:
            (self.gen_losses if self.gen_mode else self.crit_losses).append(float(learn.loss))

    def after_fit(self) -> None:
        for p in self.gan.parameters():
            p.requires_grad_(True)
        self.gan.switch(True)  # after training the module generates


class FixedGANSwitcher(Callback):
    """Train the critic for `n_crit` batches, then the generator for `n_gen` batches, and so on."""

    order = -7  # after GANTrainer

    def __init__(self, n_crit: int = 1, n_gen: int = 1) -> None:
        if n_crit < 1 or n_gen < 1:
            raise ValueError(f"FixedGANSwitcher needs n_crit, n_gen >= 1, got {n_crit}, {n_gen}")
        self.n_crit, self.n_gen = n_crit, n_gen
        self.count = 0

    def before_fit(self) -> None:
        self.count = 0

    def after_batch(self) -> None:
        learn = self.learn
        if not learn.training:
            return
        trainer = _gan_trainer(learn)
        self.count += 1
        if self.count >= (self.n_gen if trainer.gen_mode else self.n_crit):
            trainer.switch()
            self.count = 0


class AdaptiveGANSwitcher(Callback):
    """Switch to the other mode when the current one's loss drops below its threshold (`None`: always switch)."""

    order = -7

    def __init__(self, gen_thresh: float | None = None, critic_thresh: float | None = None) -> None:
        self.gen_thresh, self.critic_thresh = gen_thresh, critic_thresh

    def after_batch(self) -> None:
        learn = self.learn
        if not learn.training or not learn.yb:
            return
        trainer = _gan_trainer(learn)
        thresh = self.gen_thresh if trainer.gen_mode else self.critic_thresh
        if thresh is None or float(learn.loss) < thresh:
            trainer.switch()


def _gan_trainer(learn: Learner) -> GANTrainer:
    """The learner's `GANTrainer` (`learn.gan_trainer`), which the switchers drive."""
    trainer = getattr(learn, "gan_trainer", None)
    if not isinstance(trainer, GANTrainer):
        raise AttributeError(f"a GAN switcher needs a GANTrainer on the learner (learn.gan_trainer), got {trainer!r}")
    return trainer


def wgan_generator_loss(fake_pred: Tensor, output: Tensor, target: Tensor) -> Tensor:  # noqa: ARG001
    """WGAN generator loss: the critic's mean score of the fakes (the critic scores real samples low)."""
    return fake_pred.mean()


def wgan_critic_loss(real_pred: Tensor, fake_pred: Tensor) -> Tensor:
    """WGAN critic loss: mean score of real samples minus mean score of fakes."""
    return real_pred.mean() - fake_pred.mean()


class GANLearner(Learner):
    """A `Learner` for GANs: the model is `GANModule(generator, critic)`, the loss a `GANLoss`, and `GANTrainer`
    plus a switcher (default `FixedGANSwitcher()`) alternate the two. The data yields `(noise, real)` batches."""

    def __init__(
        self,
        dls: Any,
        generator: nn.Module,
        critic: nn.Module,
        gen_loss_func: Callable[[Tensor, Tensor, Tensor], Tensor],
        crit_loss_func: Callable[[Tensor, Tensor], Tensor],
        switcher: Callback | None = None,
        gen_first: bool = False,
        switch_eval: bool = True,
        clip: float | None = None,
        cbs: Callback | Sequence[Callback] | None = None,
        metrics: Any = None,
        **kwargs: Any,
    ) -> None:
        gan = GANModule(generator, critic)
        loss_func = GANLoss(gen_loss_func, crit_loss_func, gan)
        extra: list[Callback] = listify(cbs)
        trainer = GANTrainer(switch_eval=switch_eval, clip=clip, gen_first=gen_first)
        switcher = switcher if switcher is not None else FixedGANSwitcher()
        super().__init__(dls, gan, loss_func=loss_func, cbs=[trainer, switcher, *extra], metrics=metrics, **kwargs)

    @classmethod
    def wgan(
        cls,
        dls: Any,
        generator: nn.Module,
        critic: nn.Module,
        switcher: Callback | None = None,
        clip: float = 0.01,
        switch_eval: bool = False,
        **kwargs: Any,
    ) -> GANLearner:
        """A Wasserstein GAN (Arjovsky et al. 2017): WGAN losses, critic weights clipped to `clip`, five critic
        batches per generator batch, Adam without momentum."""
        kwargs.setdefault("opt_func", functools.partial(Adam, mom=0.0))
        return cls(
            dls,
            generator,
            critic,
            wgan_generator_loss,
            wgan_critic_loss,
            switcher=switcher if switcher is not None else FixedGANSwitcher(n_crit=5, n_gen=1),
            clip=clip,
            switch_eval=switch_eval,
            **kwargs,
        )
