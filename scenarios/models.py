"""Presets: set-ups an admin curates for a scenario, validated against the scenario's own bounds."""
import markdown
import nh3
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.safestring import mark_safe

import simulations
from simulations.params import ParamError

from .setup import check_setup, setup_query


def scenario_choices():
    return [(s.slug, s.title) for s in simulations.SCENARIOS.values()]


class Preset(models.Model):
    scenario = models.CharField(max_length=64, choices=scenario_choices)
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80)
    description = models.TextField(blank=True, help_text="Markdown; sanitized when shown.")
    params = models.JSONField(default=dict, blank=True, help_text='e.g. {"n": 4, "m": 1}; missing ones take defaults')
    seed = models.BigIntegerField(default=0)
    faults = models.JSONField(default=list, blank=True, help_text="a fault script (a JSON list of interventions)")
    order = models.IntegerField(default=0)
    featured = models.BooleanField(default=False)

    class Meta:
        ordering = ["scenario", "order", "name"]
        constraints = [models.UniqueConstraint(fields=["scenario", "slug"], name="preset_unique_slug")]

    def __str__(self):
        return f"{self.scenario}: {self.name}"

    def clean(self):
        """Refuse values outside the scenario's declared bounds, each error beside its field."""
        if not 0 <= (self.seed or 0) <= 2**53:
            raise ValidationError({"seed": "must be a whole number from 0 to 2^53"})
        check_setup(self.scenario, self.params, self.faults)

    def description_html(self):
        return mark_safe(nh3.clean(markdown.markdown(self.description)))

    def get_absolute_url(self):
        return reverse("scenario", args=[self.scenario]) + f"?preset={self.slug}"

    def query(self):
        return setup_query(self.params, self.seed, self.faults)


class Checkpoint(models.Model):
    """A pause in a guided lesson: it fires at a step of the preset's run, narrates, and may ask a question."""

    preset = models.ForeignKey(Preset, on_delete=models.CASCADE, related_name="checkpoints")
    order = models.IntegerField(default=0)
    at_seq = models.IntegerField("at step", null=True, blank=True,
                                 help_text="fire when this step (seq) is shown; or leave blank and use match")
    match = models.JSONField(null=True, blank=True, help_text=(
        'fire at the first event matching, e.g. {"kind": "send", "label": "TOKEN", "node": "N2"}; keys: kind, '
        "label (a send's or timer's label, a delivered or dropped message's label, a check's name), node (a "
        "send's sender, a deliver's or drop's receiver, else the event's node)"))
    narration = models.TextField(help_text="what the learner should notice at this step")
    question = models.CharField(max_length=300, blank=True, help_text="blank: narration only")
    choices = models.JSONField(default=list, blank=True, help_text='2 to 6 answers, e.g. ["ATTACK", "RETREAT"]')
    answer = models.PositiveSmallIntegerField(null=True, blank=True, help_text="the right choice, counting from 0")
    explanation = models.TextField(blank=True, help_text="shown after the learner answers")

    class Meta:
        ordering = ["preset", "order", "id"]

    def __str__(self):
        return f"{self.preset}: checkpoint {self.order}"

    @property
    def trigger(self):
        from .checkpoints import describe_match

        return f"step {self.at_seq}" if self.at_seq is not None else describe_match(self.match or {})

    def clean(self):
        """Exactly one trigger, a well-formed question, and a trigger that fires for the preset's set-up."""
        from .checkpoints import MATCH_KEYS

        errors = {}
        if self.choices is None:
            self.choices = []
        match = self.match
        if match in ({}, None, ""):
            match = self.match = None
        if (self.at_seq is None) == (match is None):
            errors["at_seq"] = "give exactly one trigger: a step (at step) or a match"
        if self.at_seq is not None and self.at_seq < 0:
            errors["at_seq"] = "a step is 0 or more"
        if match is not None:
            if not isinstance(match, dict) or not match:
                errors["match"] = 'must be an object such as {"kind": "send", "label": "TOKEN"}'
            else:
                unknown = [k for k in match if k not in MATCH_KEYS]
                if unknown:
                    errors["match"] = f"unknown key {unknown[0]!r}; use kind, label and node"
                elif not all(isinstance(v, str) and v for v in match.values()):
                    errors["match"] = "each value must be a non-empty string"
        if self.question:
            choices = self.choices
            if not isinstance(choices, list) or not all(isinstance(c, str) and c.strip() for c in choices):
                errors["choices"] = "must be a list of non-empty strings"
            elif not 2 <= len(choices) <= 6:
                errors["choices"] = f"a question needs 2 to 6 choices, not {len(choices)}"
            elif self.answer is None or not 0 <= self.answer < len(choices):
                errors["answer"] = f"must be the index of the right choice: 0 to {len(choices) - 1}"
        elif self.choices:
            errors["choices"] = "choices need a question"
        if not errors:
            reason = self.why_never_fires()
            if reason:
                errors["match" if match is not None else "at_seq"] = reason
        if errors:
            raise ValidationError(errors)

    def why_never_fires(self):
        """Why this checkpoint never fires for its preset's set-up, or None (also None without a preset)."""
        from .checkpoints import never_fires

        trace = self.preset_trace()
        if isinstance(trace, str):
            return trace
        return never_fires(trace, self.at_seq, self.match) if trace else None

    def preset_trace(self):
        """The preset's run, None without a preset, or a sentence when the set-up does not run."""
        from .checkpoints import setup_trace

        try:
            preset = self.preset
        except Preset.DoesNotExist:
            return None
        try:
            return setup_trace(preset.scenario, preset.params, preset.seed, preset.faults)
        except (ParamError, KeyError, TypeError) as e:
            return f"the preset's set-up does not run, so the trigger cannot be checked ({e})"

    def fire_seq(self, trace):
        from .checkpoints import fire_seq

        return fire_seq(trace, self.at_seq, self.match)

    def as_json(self):
        """What the browser needs before the learner answers: never the answer itself."""
        return {"id": self.id, "at_seq": self.at_seq, "match": self.match, "narration": self.narration,
                "question": self.question, "choices": self.choices if self.question else []}
