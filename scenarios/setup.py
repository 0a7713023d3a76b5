"""A scenario set-up from a query string or a form: params, seed and faults, parsed by the scenario's own bounds."""
import json

from simulations.params import ParamError, to_text

MAX_SEED = 2**53


def check_setup(slug, params, faults):
    """A stored set-up (a preset's, a challenge's) as the scenario would take it: (scenario, parsed params),
    or a ValidationError naming each bad field."""
    from django.core.exceptions import ValidationError

    import simulations

    try:
        scenario = simulations.get(slug)
    except KeyError:
        raise ValidationError({"scenario": "unknown scenario"}) from None
    try:
        parsed, _ = scenario.parse(params, None)
    except ParamError as e:
        raise ValidationError({"params": [f"{k}: {v}" for k, v in e.errors.items()]}) from None
    try:
        scenario.parse(parsed, faults)
    except ParamError as e:
        raise ValidationError({"faults": list(e.errors.values())}) from None
    return scenario, parsed


def parse_setup(scenario, data):
    """Read params, seed and faults from a QueryDict-like mapping of strings.

    Returns (values, errors): ``values`` holds the typed params (defaults where a
    field is bad, so the form can still render), ``seed`` and ``faults``;
    ``errors`` maps each bad field to its message. Nothing is clamped.
    """
    names = {p.name for p in scenario.params}
    raw = {k: data.get(k) for k in data if k in names}
    errors = {}
    try:
        params, _ = scenario.parse(raw, None)
    except ParamError as e:
        errors.update(e.errors)
        params = {}
        for p in scenario.params:  # keep the good values, default the bad ones
            if p.name in raw and p.name not in e.errors:
                try:
                    params[p.name] = p.parse(raw[p.name], params)
                    continue
                except ValueError:
                    pass
            params[p.name] = p.default_for(params)
    seed = 0
    text = (data.get("seed") or "0").strip()
    if text.isascii() and text.isdigit() and int(text) <= MAX_SEED:
        seed = int(text)
    else:
        errors["seed"] = f"must be a whole number from 0 to {MAX_SEED}"
    faults = []
    text = (data.get("faults") or "").strip()
    if text:
        try:
            faults = json.loads(text)
            _, faults = scenario.parse(params, faults)
        except ValueError as e:
            errors["faults"] = e.errors.get("faults", str(e)) if isinstance(e, ParamError) else "must be JSON"
            faults = []
    return {"params": params, "seed": seed, "faults": faults, "faults_text": text}, errors


def setup_query(params, seed=0, faults=None):
    """The query string that reproduces a set-up, for share links."""
    from urllib.parse import urlencode

    pairs = [(k, to_text(v)) for k, v in params.items()] + [("seed", str(seed))]
    if faults:
        pairs.append(("faults", json.dumps(faults, separators=(",", ":"))))
    return urlencode(pairs)
