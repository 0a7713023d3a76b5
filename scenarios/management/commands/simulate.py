"""python manage.py simulate <slug> [--set name=value ...] [--seed N] [--fault JSON ...] [--format ...] [--clocks]"""
import json

from django.core.management.base import BaseCommand, CommandError

import simulations
from scenarios.management.setup_args import add_setup_arguments, parse_setup
from simulations.clocks import with_clocks
from simulations.export import to_mermaid


class Command(BaseCommand):
    help = "Run a scenario and print its trace (jsonl), its summary (JSON) or a Mermaid sequenceDiagram."

    def add_arguments(self, parser):
        add_setup_arguments(parser)
        parser.add_argument("--format", choices=("jsonl", "summary", "mermaid"), default="jsonl")
        parser.add_argument("--clocks", action="store_true",
                            help="jsonl only: add each event's Lamport clock (lamport) and vector clock (vc, a list "
                                 "in the order of the init event's nodes) to the events that happen on a node")

    def handle(self, slug, **options):
        if options["clocks"] and options["format"] != "jsonl":
            raise CommandError(f"--clocks works with --format jsonl only, not {options['format']}")
        scenario, raw, seed, faults = parse_setup(slug, options)
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
