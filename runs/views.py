"""Saved runs: the replay page, its exports, the embeddable player and side-by-side comparison."""
import json
from functools import partial

from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.clickjacking import xframe_options_exempt

import simulations
from scenarios.setup import setup_query
from simulations.export import to_mermaid, to_svg, to_text

from .heartbeat import settle
from .models import Run


def _nth(n):
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def fault_words(f):
    """One fault of a script (or a live intervention) in words, as the run page lists it."""
    if not isinstance(f, dict):
        return str(f)
    action, match = f.get("action", "?"), f.get("match") or {}
    if action in ("crash", "recover"):
        text = f"{action} {f.get('node')}"
    elif action in ("drop", "duplicate", "delay"):
        what = "the message" if "msg" in match else f"the {_nth(match['nth'])} message" if "nth" in match else "every message"
        parts = [f"{action} {what}"]
        if "label" in match:
            parts.append(f"labelled {match['label']}")
        if "src" in match:
            parts.append(f"from {match['src']}")
        if "dst" in match:
            parts.append(f"to {match['dst']}")
        if "msg" in match:
            parts.append(f"#{match['msg']}")
        if "by" in f:
            parts.append(f"by {f['by']} ticks")
        text = " ".join(parts)
    elif action == "partition":
        text = "cut the network into " + " | ".join(", ".join(g) for g in f.get("groups") or [])
        if "until" in f:
            text += f" until t={f['until']}"
    elif action == "heal":
        text = "heal the network"
    elif action == "loss":
        text = f"lose {f.get('rate', 0):.0%} of messages"
    elif action == "hold":
        text = "hold every message (you are the network)"
    elif action == "release":
        text = "release held messages"
    elif action == "deliver":
        text = f"deliver message #{f.get('msg')}"
    else:
        text = action
    if "seq" in f:
        text += f", at step {f['seq']}"
    elif "at" in f:
        text += f", at t={f['at']}"
    return text


def fault_list(faults):
    """Each fault in words beside its JSON: never a Python repr on the page."""
    return [{"words": fault_words(f), "json": json.dumps(f, separators=(", ", ": "))} for f in faults or []]


def run_context(run):
    scenario = simulations.SCENARIOS.get(run.scenario)
    query = setup_query(run.params, run.seed, run.all_faults)
    return {"run": run, "scenario": scenario, "setup_query": query,
            "faults": fault_list(run.faults), "interventions": fault_list(run.interventions),
            "branches": run.branches.all(), "parent": run.parent}


def run_page(request, run_id):
    run = settle(get_object_or_404(Run, pk=run_id))  # a run whose owner is gone says so, and is saved so
    return render(request, "runs/run.html", run_context(run))


@xframe_options_exempt
def run_embed(request, run_id):
    """The player alone, for an iframe in a course page: ?step=N starts there, ?autoplay=1 plays."""
    run = settle(get_object_or_404(Run, pk=run_id))
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


def _sentence(text):
    return text[:1].upper() + text[1:] + "."


def compare(request):
    """Two saved runs side by side, aligned in virtual time, with where they part marked.

    Without runs it says what compare does and how to get there; with a missing or
    unknown id it says which, on the same styled page (no script runs there).
    """
    ids = [request.GET.get("a", "").strip(), request.GET.get("b", "").strip()]
    if not any(ids):
        return render(request, "runs/compare.html", {"intro": True, "ids": ids})
    runs = list(Run.objects.filter(pk__in=[i for i in ids if i]))
    by_id = {r.id: r for r in runs}
    problems = [f"run {side} is missing: give its id" if not i else f"there is no saved run {i[:40]} (run {side})"
                for side, i in zip("AB", ids) if i not in by_id]
    if problems:
        return render(request, "runs/compare.html", {"error": _sentence("; ".join(problems)), "ids": ids},
                      status=400)
    a, b = by_id[ids[0]], by_id[ids[1]]
    return render(request, "runs/compare.html", {"a": run_context(a), "b": run_context(b)})
