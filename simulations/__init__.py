"""Lifelines' simulations: pure, synchronous, deterministic; no Django, no I/O, no wall clock."""
from .engine import Message, Node, Simulation
from .params import Param, ParamError
from .registry import SCENARIOS, get
from .scenario import Invariant, Scenario

__all__ = ["SCENARIOS", "Invariant", "Message", "Node", "Param", "ParamError", "Scenario", "Simulation", "get"]
