"""python manage.py searchworker [--burst]: take searches from the Redis queue (REDIS_URL), as many machines as you like."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from searches.jobs import QUEUE


class Command(BaseCommand):
    help = "Work on the searches queued by the pages' \"Find a way to break it\" panel (needs REDIS_URL)."

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true", help="stop once the queue is empty")

    def handle(self, **options):
        if not settings.REDIS_URL:
            raise CommandError("Set REDIS_URL: without it each web process runs its searches in its own threads")
        from redis import Redis
        from rq import Worker

        Worker([QUEUE], connection=Redis.from_url(settings.REDIS_URL)).work(burst=options["burst"])
