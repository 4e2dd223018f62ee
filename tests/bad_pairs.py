"""Pairs a researcher gets wrong in their definition, each built on access
(`--model tests.bad_pairs:NAME`): the error is one line naming this file and line."""

import dataclasses

from spec import Optimizer
from tests.outside_pair import PAIR


def _unknown_optimizer():
    return dataclasses.replace(PAIR, optimizer=Optimizer("adagrad", lambda step: 0.1))


def _unknown_setting():
    return dataclasses.replace(PAIR, optimizer=Optimizer("rmsprop", lambda step: 0.1, beta1=0.9))


def __getattr__(name):
    makers = {"UNKNOWN_OPTIMIZER": _unknown_optimizer, "UNKNOWN_SETTING": _unknown_setting}
    if name not in makers:
        raise AttributeError(name)
    return makers[name]()
