"""Saved runs: the replay page, its exports, the embeddable player and side-by-side comparison."""
from functools import partial

from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.clickjacking import xframe_options_exempt

import simulations
from scenarios.setup import setup_query
from simulations.export import to_mermaid, to_svg, to_text

from .models import Run


def run_context(run):
    scenario = simulations.SCENARIOS.get(run.scenario)
    query = setup_query(run.params, run.seed, run.all_faults)
    return {"run": run, "scenario": scenario, "setup_query": query,
            "branches": run.branches.all(), "parent": run.parent}


def run_page(request, run_id):
    run = get_object_or_404(Run, pk=run_id)
    return render(request, "runs/run.html", run_context(run))


@xframe_options_exempt
def run_embed(request, run_id):
    """The player alone, for an iframe in a course page: ?step=N starts there, ?autoplay=1 plays."""
    run = get_object_or_404(Run, pk=run_id)
    return render(request, "runs/embed.html", {**run_context(run), **embed_options(request)})


def embed_options(request):
    step = request.GET.get("step", "")
    return {"start_step": step if step.isdigit() else "", "autoplay": request.GET.get("autoplay") in ("1", "true")}


def trace_json(request, run_id):
    run = get_object_or_404(Run, pk=run_id)
    return JsonResponse(run.trace(), safe=False, json_dumps_params={"separators": (",", ":")})


def export(request, run_id, fmt):
    """The trace as an SVG diagram, Mermaid text or a plain transcript, named after the run."""
    run = get_object_or_404(Run, pk=run_id)
    trace = run.trace()
    if not trace:
        return HttpResponse("This run has no events yet.", content_type="text/plain", status=404)
    tick = getattr(simulations.SCENARIOS.get(run.scenario), "tick", None)  # the time axis says ms or ticks
    body, kind = {"svg": (partial(to_svg, tick=tick), "image/svg+xml"),
                  "mmd": (to_mermaid, "text/plain; charset=utf-8"),
                  "txt": (to_text, "text/plain; charset=utf-8")}[fmt]
    response = HttpResponse(body(trace), content_type=kind)
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="{run.scenario}-{run.id}.{fmt}"'
    return response


def compare(request):
    """Two saved runs side by side, aligned in virtual time, with where they part marked."""
    ids = [request.GET.get("a", ""), request.GET.get("b", "")]
    runs = list(Run.objects.filter(pk__in=[i for i in ids if i]))
    by_id = {r.id: r for r in runs}
    missing = [i for i in ids if i not in by_id]
    if missing:
        return render(request, "runs/compare.html", {"error": "Give two saved runs: /compare/?a=<run id>&b=<run id>",
                                                     "ids": ids}, status=400 if any(ids) else 200)
    a, b = by_id[ids[0]], by_id[ids[1]]
    return render(request, "runs/compare.html", {"a": run_context(a), "b": run_context(b)})
