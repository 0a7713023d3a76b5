"""Saved runs: the replay page and the trace as JSON."""
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render

import simulations

from .models import Run


def run_page(request, run_id):
    run = get_object_or_404(Run, pk=run_id)
    scenario = simulations.SCENARIOS.get(run.scenario)
    return render(request, "runs/run.html", {"run": run, "scenario": scenario})


def trace_json(request, run_id):
    run = get_object_or_404(Run, pk=run_id)
    return JsonResponse(run.trace(), safe=False, json_dumps_params={"separators": (",", ":")})
