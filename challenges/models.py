"""Challenges: a set-up, a goal to reach in the trace and a budget of faults; the server judges each attempt."""
import markdown
import nh3
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.safestring import mark_safe

import simulations
from scenarios.setup import check_setup, setup_query
from simulations.faults import ACTIONS
from simulations.params import ParamError, to_text

from .judge import goal_names


def scenario_choices():
    return [(s.slug, s.title) for s in simulations.SCENARIOS.values()]


def _md(text):
    return mark_safe(nh3.clean(markdown.markdown(text or "")))


def _plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


class Challenge(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    scenario = models.CharField(max_length=64, choices=scenario_choices)
    title = models.CharField(max_length=120)
    story = models.TextField(help_text="Markdown; sanitized when shown.")
    params = models.JSONField(default=dict, blank=True, help_text='e.g. {"n": 4}; missing ones take defaults')
    seed = models.BigIntegerField(default=0)
    faults = models.JSONField(default=list, blank=True,
                              help_text="base faults: part of the set-up, not counted against the budget")
    free_params = models.JSONField(default=dict, blank=True,
                                   help_text='parameters the learner may change, with the values allowed '
                                             '(null: any), e.g. {"strategy": null}')
    goal = models.JSONField(help_text='{"invariant": name} (or a list: any of them fails) or '
                                      '{"outcome": {summary_field: value}}')
    max_faults = models.PositiveIntegerField(default=1, help_text="faults the learner may add")
    kinds = models.JSONField(default=list, blank=True, help_text='fault actions allowed, e.g. ["drop", "delay"]')
    live_only = models.BooleanField(default=False, help_text="no fault script: interventions made while it plays")
    possible = models.BooleanField(default=True)
    why = models.TextField(blank=True, help_text="Markdown: for impossible challenges the theorem and its "
                                                 "source; for possible ones the lesson shown after success.")
    order = models.IntegerField(default=0)

    class Meta:
        ordering = ["order", "slug"]

    def __str__(self):
        return f"{self.scenario}: {self.title}"

    def get_absolute_url(self):
        return reverse("challenge", args=[self.slug])

    # -- validation -------------------------------------------------------
    def clean(self):
        """Refuse a set-up the scenario would refuse, a goal it cannot reach and kinds it does not know."""
        scenario, params = check_setup(self.scenario, self.params, self.faults)
        if not isinstance(self.free_params, dict) or set(self.free_params) - set(params):
            raise ValidationError({"free_params": "must map parameter names of the scenario to lists (or null)"})
        goal = self.goal if isinstance(self.goal, dict) else {}
        if "outcome" in goal:
            if not isinstance(goal["outcome"], dict) or not goal["outcome"]:
                raise ValidationError({"goal": "outcome must map summary fields to values"})
        else:
            known = {i.name for i in scenario.invariants}
            names = goal_names(goal) if "invariant" in goal else []
            if not names or set(names) - known:
                raise ValidationError({"goal": f"invariant must name one of {', '.join(sorted(known))}"})
        if not isinstance(self.kinds, list) or set(self.kinds) - set(ACTIONS):
            raise ValidationError({"kinds": f"must be a list of actions among {', '.join(ACTIONS)}"})

    # -- in words ---------------------------------------------------------
    @property
    def scenario_title(self):
        scenario = simulations.SCENARIOS.get(self.scenario)
        return scenario.title if scenario else self.scenario

    def story_html(self):
        return _md(self.story)

    def why_html(self):
        return _md(self.why)

    def goal_text(self):
        goal = self.goal or {}
        if "outcome" in goal:
            wanted = ", ".join(f"{k} = {to_text(v)}" for k, v in goal["outcome"].items())
            return f"End the run with {wanted}."
        scenario = simulations.SCENARIOS.get(self.scenario)
        texts = {i.name: i.text for i in scenario.invariants} if scenario else {}
        names = goal_names(goal)
        parts = [f"{n} (“{texts[n]}”)" if n in texts else n for n in names]
        return f"Make {' or '.join(parts)} fail."

    def budget_text(self):
        kinds = ", ".join(self.kinds or [])
        if self.max_faults == 0 or not self.kinds:
            text = "No faults: messages arrive and nodes stay up."
        else:
            text = f"At most {_plural(self.max_faults, 'fault')}, of kinds: {kinds}."
        if self.live_only:
            text += " Live interventions only: no fault script, click while the run plays."
        return text

    def setup_text(self):
        parts = [f"{k}={to_text(v)}" for k, v in (self.params or {}).items()] + [f"seed={self.seed}"]
        if self.faults:
            parts.append(f"{_plural(len(self.faults), 'given fault')}")
        return ", ".join(parts)

    def free_text(self):
        """What the learner may change, in words; empty when the set-up is fixed."""
        out = []
        for name, allowed in (self.free_params or {}).items():
            if allowed is None:
                out.append(f"{name} (any value)")
            else:
                out.append(f"{name} ({' / '.join(to_text(a) for a in allowed)})")
        return ", ".join(out)

    def try_url(self):
        """The scenario page with exactly this set-up and the challenge panel."""
        try:
            from .judge import setup_of

            _, params, faults = setup_of(self)
            params = {k: v for k, v in params.items() if k in (self.params or {})}
        except (KeyError, ParamError):
            params, faults = self.params or {}, self.faults
        query = setup_query(params, self.seed, faults)
        return f"{reverse('scenario', args=[self.scenario])}?{query}&challenge={self.slug}"
