"""Presets: set-ups an admin curates for a scenario, validated against the scenario's own bounds."""
import markdown
import nh3
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.safestring import mark_safe

import simulations
from simulations.params import ParamError

from .setup import setup_query


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
        try:
            scenario = simulations.get(self.scenario)
        except KeyError:
            raise ValidationError({"scenario": "unknown scenario"}) from None
        if not 0 <= (self.seed or 0) <= 2**53:
            raise ValidationError({"seed": "must be a whole number from 0 to 2^53"})
        try:
            params, _ = scenario.parse(self.params, None)
        except ParamError as e:
            raise ValidationError({"params": [f"{k}: {v}" for k, v in e.errors.items()]}) from None
        try:
            scenario.parse(params, self.faults)
        except ParamError as e:
            raise ValidationError({"faults": list(e.errors.values())}) from None

    def description_html(self):
        return mark_safe(nh3.clean(markdown.markdown(self.description)))

    def get_absolute_url(self):
        return reverse("scenario", args=[self.scenario]) + f"?preset={self.slug}"

    def query(self):
        return setup_query(self.params, self.seed, self.faults)
