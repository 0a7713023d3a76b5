"""python manage.py explore <slug> [--set name=value ...] [--seed N] --goal invariant[:name] --max-faults k
--max-runs N [--seconds T]: search for the fewest perturbations that break a set-up, and save the run found."""
import json
import time

from django.core.management.base import BaseCommand, CommandError

import simulations
from scenarios.management.setup_args import add_setup_arguments, parse_setup, whole
from simulations.explore import GOALS, KINDS, MAX_FAULTS, MAX_RUNS, Search, parse_goal

MAX_SECONDS = 3600


class Command(BaseCommand):
    help = ("Search breadth-first over dropped, duplicated and delayed messages, crashes and the scenario's own "
            "choices for the fewest that reach a goal; print the fault script found and its saved run, or what "
            "was covered.")

    def add_arguments(self, parser):
        add_setup_arguments(parser, "an intervention of the set-up, kept in every run")
        parser.add_argument("--goal", default="invariant", help=f"{GOALS} (default: any invariant)")
        parser.add_argument("--max-faults", default="1", help=f"perturbations per run, 1 to {MAX_FAULTS} (default 1)")
        parser.add_argument("--max-runs", default="1000", help=f"runs to try, 1 to {MAX_RUNS:,} (default 1000)")
        parser.add_argument("--seconds", default=None, help=f"stop after this long, 1 to {MAX_SECONDS}")
        parser.add_argument("--kinds", default=None, help=f"perturbations to try, among {', '.join(KINDS)} "
                                                          "(default: all, or the scenario's own, e.g. choice for "
                                                          "byzantine-generals' traitors)")
        parser.add_argument("--delays", default=None, help="delays to try, in ticks, comma-separated "
                                                           "(default 1, 4, 16... up to past the run's end)")
        parser.add_argument("--format", choices=("text", "json"), default="text")
        parser.add_argument("--no-save", action="store_true", help="do not save the run found")

    def handle(self, slug, **options):
        scenario, raw, seed, faults = parse_setup(slug, options)
        max_faults = whole(options["max_faults"], "--max-faults", 1, MAX_FAULTS)
        max_runs = whole(options["max_runs"], "--max-runs", 1, MAX_RUNS)
        seconds = whole(options["seconds"], "--seconds", 1, MAX_SECONDS) if options["seconds"] is not None else None
        deadline = time.monotonic() + seconds if seconds else None
        try:
            params, faults = scenario.parse(raw, faults)
            search = Search(scenario, params, seed, faults, parse_goal(scenario, options["goal"]),
                            max_faults=max_faults, max_runs=max_runs, kinds=options["kinds"], delays=options["delays"],
                            stop=lambda: "time" if deadline and time.monotonic() > deadline else None)
            result = search.run()
        except simulations.ParamError as e:
            raise CommandError(flags(str(e))) from None
        out = result.as_dict()
        if result.found and not options["no_save"]:
            out["url"] = self.save(scenario, result)
        if options["format"] == "json":
            self.stdout.write(json.dumps(out, indent=2))
            return
        self.stdout.write(out["report"])
        if result.found:
            self.stdout.write("fault script: " + json.dumps(result.faults))
            if result.params != params:
                changed = {k: v for k, v in result.params.items() if params.get(k) != v}
                self.stdout.write("parameters: " + json.dumps(changed))
            if "url" in out:
                self.stdout.write(f"run: {out['url']}")

    def save(self, scenario, result):
        """The run found, saved as an ordinary run: its permalink's path."""
        from django.db import DatabaseError

        from runs.store import save_trace
        try:
            return save_trace(scenario, result.params, result.seed, result.faults).get_absolute_url()
        except DatabaseError as e:
            raise CommandError(f"{result.report()} It could not be saved ({str(e).splitlines()[0]}): run "
                               "manage.py migrate, or pass --no-save.") from None


def flags(message):
    """A search error names the flag that sets the field."""
    for field in ("goal", "kinds", "delays"):
        message = message.replace(f"{field}: ", f"--{field}: ")
    return message
