"""Saved runs: what made them (scenario, params, seed, faults) and their trace, in compressed chunks."""
import secrets
import zlib

import orjson
from django.db import models
from django.utils import timezone
from django.urls import reverse

import simulations

from .events import array, stored


def new_run_id():
    """72 random bits, URL-safe: unguessable and short enough to read out in class."""
    return secrets.token_urlsafe(9)


def new_owner_key():
    return secrets.token_urlsafe(18)


class Run(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        ENDED = "ended"
        INTERRUPTED = "interrupted"

    id = models.CharField(primary_key=True, max_length=16, default=new_run_id, editable=False)
    scenario = models.CharField(max_length=64, db_index=True)
    params = models.JSONField(default=dict)
    seed = models.BigIntegerField(default=0)
    faults = models.JSONField(default=list, blank=True, help_text="the fault script given at start")
    interventions = models.JSONField(default=list, blank=True, help_text="live interventions, with their seq")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    event_count = models.IntegerField(default=0)
    summary = models.JSONField(null=True, blank=True)
    owner_key = models.CharField(max_length=32, default=new_owner_key, editable=False,
                                 help_text="held by the browser that started the run: only it may drive or resume it")
    lease = models.CharField(max_length=32, blank=True, default="", editable=False,
                             help_text="which connection drives the run now: a resume takes it, older writers are refused")
    version = models.PositiveIntegerField(null=True, blank=True, editable=False,
                                          help_text="the scenario's model version that made the run (Scenario.version)")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="branches")
    branch_seq = models.IntegerField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self):
        return f"{self.scenario} {self.id}"

    def save(self, *args, **kwargs):
        if self.version is None:
            scenario = simulations.SCENARIOS.get(self.scenario)
            self.version = scenario.version if scenario else 1
        super().save(*args, **kwargs)

    @property
    def older_model(self):
        """The scenario's model changed since this run was made: its saved trace replays exactly, but a re-run
        of the same set-up (a resume, a branch, the set-up link) follows today's model."""
        scenario = simulations.SCENARIOS.get(self.scenario)
        return bool(scenario and (self.version or 1) < scenario.version)

    def get_absolute_url(self):
        return reverse("run", args=[self.id])

    @property
    def interrupted(self):
        """Left streaming by a connection that is gone (a closed tab, a killed server)."""
        return self.status == self.Status.INTERRUPTED or (
            self.status == self.Status.RUNNING and (timezone.now() - self.updated).total_seconds() > 120)

    @property
    def all_faults(self):
        """The whole script that re-executes this run: the given faults, then the live ones."""
        return list(self.faults) + list(self.interventions)

    def trace(self):
        events = []
        for chunk in self.chunks.order_by("start"):
            events.extend(chunk.events())
        return events


class Chunk(models.Model):
    """A batch of consecutive trace events, stored as compressed JSON (about 20 bytes an event)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="chunks")
    start = models.IntegerField()
    count = models.IntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "start"], name="chunk_unique_start")]

    @staticmethod
    def pack(events, level=1):
        """Trace events, or a live run's already encoded (runs.events): fast while a run streams; a finished run
        in many small chunks is compacted at a higher level."""
        if events and isinstance(events[0], tuple):
            return zlib.compress(array(events), level)
        return zlib.compress(orjson.dumps(events, option=orjson.OPT_NON_STR_KEYS), level)

    def events(self):
        return orjson.loads(zlib.decompress(bytes(self.data)))

    def encoded(self):
        """Its events as a live run holds them (runs.events), without parsing them."""
        return stored(zlib.decompress(bytes(self.data)), self.start, self.count)
