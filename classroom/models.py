"""A live classroom: a short code learners type, and a secret that makes its holder the instructor."""
import secrets

from django.db import models
from django.urls import reverse

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud and typed


def new_code():
    return "".join(secrets.choice(ALPHABET) for _ in range(6))


def new_key():
    return secrets.token_urlsafe(24)


class Room(models.Model):
    code = models.CharField(max_length=8, unique=True, default=new_code)
    key = models.CharField(max_length=64, default=new_key, editable=False)
    scenario = models.CharField(max_length=64)
    setup = models.CharField(max_length=2000, blank=True, help_text="the query string of the set-up it opened with")
    run = models.CharField(max_length=16, blank=True, help_text="the instructor's latest run: a reload shows it again")
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"room {self.code} ({self.scenario})"

    def get_absolute_url(self):
        return reverse("room", args=[self.code])
