"""GAN training with callbacks: a tiny WGAN on a 2-D toy distribution, mode switching, what each mode trains."""

import copy

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trainloop_callbacks import Callback, Learner
from trainloop_callbacks.gan import AdaptiveGANSwitcher, FixedGANSwitcher, GANLearner, GANModule, GANTrainer

CENTRE = torch.tensor([2.0, -1.0])


def toy_data(n=512, bs=64):
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(n, 2, generator=g)
    real = torch.randn(n, 2, generator=g) * 0.3 + CENTRE
    train = DataLoader(TensorDataset(noise, real), batch_size=bs, shuffle=True, generator=g)
    valid = DataLoader(TensorDataset(noise[:128], real[:128]), batch_size=bs)
    return train, valid


def nets():
    torch.manual_seed(0)
    gen = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    crit = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 1))
    return gen, crit


def test_wgan_moves_generator_samples_toward_the_data():
    gen, crit = nets()
    learn = GANLearner.wgan(toy_data(), gen, crit, clip=0.1, lr=1e-2)
    learn.remove_cb(learn.progress)
    learn.logger = None
    z = torch.randn(2000, 2, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = float((gen(z).mean(0) - CENTRE).norm())
    learn.fit(10)
    with torch.no_grad():
        after = float((learn.model.generator(z).mean(0) - CENTRE).norm())
    assert after < 0.6 * before, (before, after)
    # the five-to-one schedule of the WGAN recipe
    tr = learn.gan_trainer
    assert 4 <= len(tr.crit_losses) / len(tr.gen_losses) <= 6
    assert learn.model.gen_mode  # generates after training
    assert all(p.requires_grad for p in learn.model.parameters())


class ModeProbe(Callback):
    order = 50

    def __init__(self):
        self.modes, self.saw_real, self.changed = [], [], []

    def before_batch(self):
        if self.learn.training:
            gan = self.learn.model
            self._gen = copy.deepcopy(gan.generator.state_dict())
            self._crit = copy.deepcopy(gan.critic.state_dict())
            self.clipped = max(p.abs().max().item() for p in gan.critic.parameters())

    def after_pred(self):
        if self.learn.training:
            self.modes.append("G" if self.learn.gan_trainer.gen_mode else "C")
            # critic mode: the model's input is the real sample (second element of the batch)
            self.saw_real.append(self.learn.xb[0].mean(0).sub(CENTRE).norm().item() < 0.5)

    def after_step(self):
        gan = self.learn.model
        gen_changed = any(not torch.equal(v, gan.generator.state_dict()[k]) for k, v in self._gen.items())
        crit_changed = any(not torch.equal(v, gan.critic.state_dict()[k]) for k, v in self._crit.items())
        self.changed.append((gen_changed, crit_changed))


def test_fixed_switcher_alternates_and_each_mode_trains_its_network():
    gen, crit = nets()
    probe = ModeProbe()
    learn = GANLearner.wgan(
        toy_data(n=384), gen, crit, switcher=FixedGANSwitcher(n_crit=2, n_gen=1), clip=0.05, cbs=[probe]
    )
    learn.remove_cb(learn.progress)
    learn.logger = None
    learn.fit(1)
    assert probe.modes == ["C", "C", "G", "C", "C", "G"]
    assert probe.saw_real == [m == "C" for m in probe.modes]
    assert probe.changed == [(m == "G", m == "C") for m in probe.modes]
    assert probe.clipped <= 0.05 + 1e-7


def test_adaptive_switcher_follows_thresholds():
    gen, crit = nets()
    probe = ModeProbe()
    never = AdaptiveGANSwitcher(gen_thresh=None, critic_thresh=float("-inf"))
    learn = GANLearner.wgan(toy_data(n=256), gen, crit, switcher=never, cbs=[probe])
    learn.remove_cb(learn.progress)
    learn.logger = None
    learn.fit(1)
    assert probe.modes == ["C"] * 4  # the critic's loss is never below -inf: no switch
    always = AdaptiveGANSwitcher(gen_thresh=None, critic_thresh=None)
    probe2 = ModeProbe()
    learn = GANLearner.wgan(toy_data(n=256), *nets(), switcher=always, cbs=[probe2])
    learn.remove_cb(learn.progress)
    learn.logger = None
    learn.fit(1)
    assert probe2.modes == ["C", "G", "C", "G"]


def test_gan_module_switch():
    gen, crit = nets()
    gan = GANModule(gen, crit)
    x = torch.randn(3, 2)
    assert gan(x).shape == (3, 1)
    gan.switch()
    assert gan(x).shape == (3, 2)
    gan.switch(False)
    assert not gan.gen_mode


def test_gan_trainer_needs_a_gan_module():
    learn = Learner(toy_data(), nn.Linear(2, 2), loss_func=nn.MSELoss(), cbs=[GANTrainer()])
    learn.remove_cb(learn.progress)
    with pytest.raises(TypeError, match=r"GANTrainer needs learn\.model to be a GANModule, got Linear"):
        learn.fit(1)
