"""The engine's handlers: one per request, each typed as the result its request promises."""

from __future__ import annotations

import typing

import torch

from engine import api
from engine.catalog import Catalog
from engine.handlers import Engine


def test_every_request_has_a_handler_typed_as_its_result():
    engine = Engine(Catalog(), torch.device("cpu"))
    assert set(engine.handlers) == set(typing.get_args(api.Request)) == set(api.RESULT_TYPES)
    for request, handler in engine.handlers.items():
        assert typing.get_type_hints(handler)["return"] == api.RESULT_TYPES[request], request.__name__
