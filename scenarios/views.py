"""The catalog, the scenario pages with their htmx parameter form, and the JSON catalog."""
from django.http import Http404, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

import simulations
from simulations.params import fmt

from .models import Preset
from .setup import parse_setup, setup_query


def get_scenario(slug):
    try:
        return simulations.get(slug)
    except KeyError:
        raise Http404(f"No scenario {slug!r}") from None


def catalog(request):
    return render(request, "scenarios/catalog.html", {"scenarios": simulations.SCENARIOS.values()})


def form_fields(scenario, values, errors, raw=None):
    """Each declared parameter with its current value, bounds and error, ready for the template.

    A field in error keeps the text the learner gave (``raw``), not the default that
    ``parse_setup`` put in its place: the form shows what was typed beside why it is
    refused, and Run sends that same text, which the server refuses too.
    """
    raw = raw or {}
    fields = []
    for p in scenario.params:
        value = values["params"][p.name]
        error = errors.get(p.name)
        text = value if p.kind == "bool" else _text(value)
        choices = p.choices_for(values["params"])
        if error and p.kind != "bool" and raw.get(p.name) is not None:
            value = text = raw[p.name]
            if p.kind in ("choice", "node") and value not in choices:
                choices = (value, *choices)  # the refused choice stays selected, marked by the error
        fields.append({"param": p, "value": value, "text": text,
                       "choices": choices, "bounds": p.bounds_text(values["params"]),
                       "error": error, "min": fmt(p.min), "max": fmt(p.max),
                       "step": "1" if p.kind == "int" else "any"})
    return fields


def _text(value):
    return ",".join(value) if isinstance(value, list) else fmt(value) if isinstance(value, (int, float)) else value


def setup_context(request, scenario):
    """The set-up a link asks for: a preset's values (``?preset=``) overridden by explicit ones."""
    data = request.GET
    presets = list(Preset.objects.filter(scenario=scenario.slug))
    preset, preset_error = None, None
    if data.get("preset"):
        preset = next((p for p in presets if p.slug == data["preset"]), None)
        if preset is None:
            preset_error = f"no preset {data['preset'][:60]!r} for {scenario.title}"
        else:
            merged = QueryDict(preset.query(), mutable=True)
            for key in data:
                if key != "preset":
                    merged.setlist(key, data.getlist(key))
            data = merged
    values, errors = parse_setup(scenario, data)
    if preset_error:
        errors["preset"] = preset_error
    raw = {k: data.get(k) for k in data}
    seed_text = raw.get("seed", "") if errors.get("seed") else values["seed"]
    return {"scenario": scenario, "values": values, "errors": errors, "presets": presets, "preset": preset,
            "fields": form_fields(scenario, values, errors, raw), "general_error": errors.get("__all__"),
            "seed_text": seed_text,
            "share_query": setup_query(values["params"], values["seed"], values["faults"])}


@require_GET
def scenario_page(request, slug):
    scenario = get_scenario(slug)
    return render(request, "scenarios/scenario.html", setup_context(request, scenario))


@require_GET
@xframe_options_exempt
def scenario_embed(request, slug):
    """A set-up alone for an iframe: Run (or ?autoplay=1) streams it live; no form to change it."""
    scenario = get_scenario(slug)
    return render(request, "scenarios/embed.html", {**setup_context(request, scenario),
                                                    "autoplay": request.GET.get("autoplay") in ("1", "true")})


@require_GET
def scenario_form(request, slug):
    """The parameter form re-rendered for the values given: errors beside fields, node choices following n."""
    scenario = get_scenario(slug)
    return render(request, "scenarios/_form.html", setup_context(request, scenario))


@require_GET
def scenario_compare(request, slug):
    """Run the set-up twice, once as given and once with ``with=name=value`` changed, and compare them.

    A ``with`` that names nothing, or a set-up either side refuses, is answered (400) with the compare
    form again on a styled page: what was wrong, what may be named, and the way back to the scenario.
    """
    from runs.store import save_trace

    scenario = get_scenario(slug)
    change = request.GET.get("with", "").strip()
    name, sep, value = change.partition("=")
    name = name.strip()
    other = request.GET.copy()
    other.pop("with", None)
    names = [p.name for p in scenario.params] + ["seed", "faults"]
    problems = []
    if not change:
        problems.append("Say what to change for the second run, as name=value (for example seed=1).")
    elif name not in names or not sep:
        problems.append(f"“{change[:80]}” does not name something to change: write name=value, where name is "
                        f"one of {', '.join(names)}.")
    else:
        other[name] = value.strip()
    setups = []
    if not problems:
        base_errors = {}
        for label, data in (("this set-up", request.GET), (f"with {change[:80]}", other)):
            values, errors = parse_setup(scenario, data)
            # an error the change did not bring is said once, of this set-up
            problems += [f"{label}: {k + ' ' if k != '__all__' else ''}{v}" for k, v in errors.items()
                         if base_errors.get(k) != v]
            base_errors = base_errors or errors
            setups.append(values)
    if problems:
        base = request.GET.copy()
        base.pop("with", None)
        hidden = [(k, v) for k in base for v in base.getlist(k)]
        return render(request, "runs/compare.html", {
            "setup_error": problems, "scenario": scenario, "change": change, "names": names, "hidden": hidden,
            "back_url": f"{reverse('scenario', args=[scenario.slug])}?{base.urlencode()}"}, status=400)
    from runs.errors import Busy

    try:  # a sync view: Django runs it in a worker thread, off the event loop; at most HEAVY_JOBS at once
        ids = [save_trace(scenario, v["params"], v["seed"], v["faults"]).id for v in setups]
    except Busy as e:
        return HttpResponse(f"{e}.", content_type="text/plain; charset=utf-8", status=503)
    return redirect(f"{reverse('compare')}?a={ids[0]}&b={ids[1]}")


@require_GET
def api_scenarios(request):
    presets = {}
    for p in Preset.objects.all():
        presets.setdefault(p.scenario, []).append(
            {"slug": p.slug, "name": p.name, "params": p.params, "seed": p.seed, "faults": p.faults,
             "featured": p.featured, "url": p.get_absolute_url()})
    return JsonResponse({"scenarios": [{**s.describe(), "presets": presets.get(s.slug, [])}
                                       for s in simulations.SCENARIOS.values()]})
