"""The catalog, the scenario pages with their htmx parameter form, and the JSON catalog."""
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

import simulations
from simulations.params import fmt

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
    values, errors = parse_setup(scenario, request.GET)
    return {"scenario": scenario, "values": values, "errors": errors,
            "fields": form_fields(scenario, values, errors), "general_error": errors.get("__all__"),
            "share_query": setup_query(values["params"], values["seed"], values["faults"])}


@require_GET
def scenario_page(request, slug):
    scenario = get_scenario(slug)
    return render(request, "scenarios/scenario.html", setup_context(request, scenario))


@require_GET
def scenario_form(request, slug):
    """The parameter form re-rendered for the values given: errors beside fields, node choices following n."""
    scenario = get_scenario(slug)
    return render(request, "scenarios/_form.html", setup_context(request, scenario))


@require_GET
def api_scenarios(request):
    return JsonResponse({"scenarios": [s.describe() for s in simulations.SCENARIOS.values()]})
