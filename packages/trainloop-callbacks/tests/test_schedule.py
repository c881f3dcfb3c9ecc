import math

from trainloop_callbacks import sched_cos, sched_lin


def test_sched_lin_endpoints_and_middle():
    assert sched_lin(1.0, 3.0, 0.0) == 1.0
    assert sched_lin(1.0, 3.0, 0.5) == 2.0
    assert sched_lin(1.0, 3.0, 1.0) == 3.0


def test_sched_cos_matches_formula():
    assert math.isclose(sched_cos(1.0, 0.0, 0.0), 1.0)
    assert math.isclose(sched_cos(1.0, 0.0, 0.5), 0.5)
    assert math.isclose(sched_cos(1.0, 0.0, 1.0), 0.0, abs_tol=1e-12)
    assert math.isclose(sched_cos(0.0, 1.0, 0.25), (1 - math.cos(math.pi / 4)) / 2)
