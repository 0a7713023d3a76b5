"""The set-up flags that `simulate` and `explore` share: a scenario, its parameters, a seed and a fault script."""
import json

from django.core.management.base import CommandError

import simulations


def add_setup_arguments(parser, fault_help="an intervention"):
    parser.add_argument("slug", help=f"one of: {', '.join(simulations.SCENARIOS)}")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter (booleans true/false, lists comma-separated)")
    parser.add_argument("--seed", default="0", help="random seed, a whole number (default 0)")
    parser.add_argument("--fault", action="append", default=[], metavar="JSON", help=fault_help)


def whole(text, flag, lo, hi, hi_text=None):
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = None
    if value is None or not lo <= value <= hi:
        raise CommandError(f"{flag} must be a whole number from {lo} to {hi_text or f'{hi:,}'}, got {text!r}")
    return value


def parse_setup(slug, options):
    """(scenario, raw params, seed, faults) from the parsed flags; a CommandError names the bad one. The
    parameters and faults are checked against the scenario's bounds by ``scenario.parse``."""
    try:
        scenario = simulations.get(slug)
    except KeyError:
        raise CommandError(f"unknown scenario {slug!r}; choose from {', '.join(simulations.SCENARIOS)}") from None
    raw = {}
    for item in options["set"]:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CommandError(f"--set takes name=value, got {item!r}")
        raw[name.strip()] = value
    seed = whole(options["seed"], "--seed", 0, 2**53, "2^53")
    faults = []
    for text in options["fault"]:
        try:
            faults.append(json.loads(text))
        except ValueError:
            raise CommandError(f"--fault must be JSON, got {text!r}") from None
    return scenario, raw, seed, faults
