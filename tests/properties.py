"""Settings of the property tests (Hypothesis): `make test` runs each on a fixed seed with a
bounded number of examples, so that a run is repeatable and a failure is one anyone can
reproduce; `make fuzz` sets ALLMENDE_FUZZ_EXAMPLES to run every one marked ``property`` with
that many examples from a random seed."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, seed, settings

FUZZ_EXAMPLES = int(os.environ.get("ALLMENDE_FUZZ_EXAMPLES", "0"))
Test = TypeVar("Test", bound=Callable[..., None])


def property_test(examples: int, fixed_seed: int) -> Callable[[Test], Test]:
    def apply(test: Test) -> Test:
        test = settings(max_examples=FUZZ_EXAMPLES or examples, deadline=None,
                        database=None if not FUZZ_EXAMPLES else settings().database,
                        suppress_health_check=[HealthCheck.too_slow,
                                               HealthCheck.function_scoped_fixture])(test)
        test = pytest.mark.property(test)
        return test if FUZZ_EXAMPLES else seed(fixed_seed)(test)
    return apply
