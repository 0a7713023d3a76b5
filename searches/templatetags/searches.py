from django import template

from simulations.explore import KINDS, default_kinds
from simulations.scenario import Scenario

from .. import jobs

register = template.Library()

KIND_WORDS = {"drop": "drop a message", "duplicate": "duplicate one", "delay": "delay one",
              "reorder": "deliver another first",
              "crash": "crash a node", "choice": "choose a traitor's answers"}


@register.simple_tag
def search_panel(scenario):
    """What the panel offers for this scenario: its perturbation kinds, goals and budgets."""
    choices = type(scenario).choice_points is not Scenario.choice_points
    return {"kinds": [(k, KIND_WORDS[k], k in default_kinds(scenario)) for k in KINDS if k != "choice" or choices],
            "invariants": [i.name for i in scenario.invariants],
            "faults": range(1, jobs.MAX_FAULTS + 1),
            "runs": [r for r in (100, 1000, 5000, jobs.MAX_RUNS)],
            "seconds": [s for s in (10, 30, jobs.MAX_SECONDS)]}
