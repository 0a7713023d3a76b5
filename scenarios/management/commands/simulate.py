"""python manage.py simulate <slug> [--set name=value ...] [--seed N] [--fault JSON ...] [--format ...] [--clocks]"""
import json

from django.core.management.base import BaseCommand, CommandError

import simulations
from simulations.clocks import with_clocks
from simulations.export import to_mermaid


class Command(BaseCommand):
    help = "Run a scenario and print its trace (jsonl), its summary (JSON) or a Mermaid sequenceDiagram."

    def add_arguments(self, parser):
        parser.add_argument("slug", help=f"one of: {', '.join(simulations.SCENARIOS)}")
        parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                            help="a parameter (booleans true/false, lists comma-separated)")
        parser.add_argument("--seed", default="0", help="random seed, a whole number (default 0)")
        parser.add_argument("--fault", action="append", default=[], metavar="JSON", help="an intervention")
        parser.add_argument("--format", choices=("jsonl", "summary", "mermaid"), default="jsonl")
        parser.add_argument("--clocks", action="store_true",
                            help="jsonl only: add each event's Lamport clock (lamport) and vector clock (vc, a list "
                                 "in the order of the init event's nodes) to the events that happen on a node")

    def handle(self, slug, **options):
        try:
            scenario = simulations.get(slug)
        except KeyError:
            raise CommandError(f"unknown scenario {slug!r}; choose from {', '.join(simulations.SCENARIOS)}") from None
        if options["clocks"] and options["format"] != "jsonl":
            raise CommandError(f"--clocks works with --format jsonl only, not {options['format']}")
        raw = {}
        for item in options["set"]:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise CommandError(f"--set takes name=value, got {item!r}")
            raw[name.strip()] = value
        try:
            seed = int(options["seed"])
            if not 0 <= seed <= 2**53:
                raise ValueError
        except ValueError:
            raise CommandError(f"--seed must be a whole number from 0 to 2^53, got {options['seed']!r}") from None
        faults = []
        for text in options["fault"]:
            try:
                faults.append(json.loads(text))
            except ValueError:
                raise CommandError(f"--fault must be JSON, got {text!r}") from None
        try:
            params, faults = scenario.parse(raw, faults)
        except simulations.ParamError as e:
            raise CommandError(str(e)) from None
        trace = scenario.simulate(params, seed, faults).run()
        fmt = options["format"]
        if fmt == "jsonl":
            for event in with_clocks(trace) if options["clocks"] else trace:
                self.stdout.write(json.dumps(event, separators=(",", ":")))
        elif fmt == "summary":
            self.stdout.write(json.dumps(trace[-1]["summary"], indent=2))
        else:
            self.stdout.write(to_mermaid(trace), ending="")
