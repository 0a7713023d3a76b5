"""The catalog, the scenario pages with their htmx parameter form, and the JSON catalog."""
from django.http import Http404, HttpResponseBadRequest, JsonResponse, QueryDict
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


def form_fields(scenario, values, errors):
    """Each declared parameter with its current value, bounds and error, ready for the template."""
    fields = []
    for p in scenario.params:
        value = values["params"][p.name]
        fields.append({"param": p, "value": value, "text": value if p.kind == "bool" else _text(value),
                       "choices": p.choices_for(values["params"]), "bounds": p.bounds_text(values["params"]),
                       "error": errors.get(p.name), "min": fmt(p.min), "max": fmt(p.max),
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
    return {"scenario": scenario, "values": values, "errors": errors, "presets": presets, "preset": preset,
            "fields": form_fields(scenario, values, errors), "general_error": errors.get("__all__"),
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
    """Run the set-up twice, once as given and once with ``with=name=value`` changed, and compare them."""
    from runs.store import save_trace

    scenario = get_scenario(slug)
    name, _, value = request.GET.get("with", "").partition("=")
    other = request.GET.copy()
    other.pop("with", None)
    if not name or name not in {p.name for p in scenario.params} | {"seed", "faults"}:
        return HttpResponseBadRequest(f"with= must name a parameter, the seed or the faults of {scenario.title}, "
                                      "as with=name=value")
    other[name] = value
    setups = []
    for data in (request.GET, other):
        values, errors = parse_setup(scenario, data)
        if errors:
            return HttpResponseBadRequest("; ".join(f"{k}: {v}" for k, v in errors.items()))
        setups.append(values)
    ids = [save_trace(scenario, v["params"], v["seed"], v["faults"]).id for v in setups]
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
