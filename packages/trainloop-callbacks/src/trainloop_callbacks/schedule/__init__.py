"""Schedules: `Sched*` functions and `ParamScheduler`, the fit policies (`fit_one_cycle`, ...) and `lr_find`."""
