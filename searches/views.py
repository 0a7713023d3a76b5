"""The "Find a way to break it" endpoints: start a search of the set-up on the page, poll it, cancel it.

JSON over plain HTTP (the run protocol's WebSocket is not involved). One search per browser session at a time:
a second start while the first is queued or running is refused with 409.
"""
from django.conf import settings
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

import simulations
from scenarios.setup import parse_setup
from simulations.explore import check_budget, default_kinds, parse_goal, parse_kinds
from simulations.params import ParamError

from config.security import allow, client_ip

from . import jobs

SESSION_KEY = "search_job"


def refuse(errors, status=400):
    return JsonResponse({"errors": errors}, status=status)


def whole(data, name, default, most):
    text = (data.get(name) or str(default)).strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= most:
        raise ParamError({name: f"must be a whole number from 1 to {most:,}"})
    return int(text)


def spec_from(scenario, data):
    """The job's spec from the posted set-up and search fields, or ParamError naming each bad field."""
    values, errors = parse_setup(scenario, data)
    if errors:
        raise ParamError(errors)
    outcome = (data.get("outcome") or "").strip()
    goal = f"outcome:{outcome}" if outcome else (data.get("goal") or "invariant")
    spec = {"scenario": scenario.slug, "params": values["params"], "seed": values["seed"], "faults": values["faults"],
            "goal": str(parse_goal(scenario, goal)),
            "max_faults": whole(data, "max_faults", 1, jobs.MAX_FAULTS),
            "max_runs": whole(data, "max_runs", 1000, jobs.MAX_RUNS),
            "seconds": whole(data, "seconds", 30, jobs.MAX_SECONDS),
            "kinds": list(parse_kinds(data.getlist("kinds") or default_kinds(scenario)))}
    check_budget(spec["max_faults"], spec["max_runs"])
    return spec


def active(session):
    """The id of this session's search while it is queued or running, else None."""
    job_id = session.get(SESSION_KEY)
    state = job_id and jobs.backend().status(job_id)
    return job_id if state and state["state"] in ("queued", "running") else None


@require_POST
def start(request, slug):
    try:
        scenario = simulations.get(slug)
    except KeyError:
        return refuse({"scenario": f"no scenario {slug[:60]!r}"}, 404)
    try:
        spec = spec_from(scenario, request.POST)
    except ParamError as e:
        return refuse(e.errors)
    running = active(request.session)
    if running:
        return JsonResponse({"errors": {"__all__": "your search is still running: cancel it or let it finish"},
                             **links(running)}, status=409)
    limit = settings.RATE_LIMIT_SEARCHES
    if not allow(f"searches:{client_ip(request)}", limit, 60):
        return refuse({"__all__": f"too many searches from your address: at most {limit} a minute; wait a minute"}, 429)
    try:
        job_id = jobs.backend().submit(spec)
    except jobs.Busy as e:
        return refuse({"__all__": str(e)}, 503)
    request.session[SESSION_KEY] = job_id
    return JsonResponse(links(job_id), status=202)


def links(job_id):
    return {"job": job_id, "status": reverse("search-poll", args=[job_id]), "cancel": reverse("search-cancel", args=[job_id])}


def owned(request, job_id):
    return request.session.get(SESSION_KEY) == job_id


@require_GET
def poll(request, job_id):
    state = jobs.backend().status(job_id) if owned(request, job_id) else None
    if state is None:
        return refuse({"job": "no such search of yours (it may have expired)"}, 404)
    return JsonResponse(state)


@require_POST
def cancel(request, job_id):
    if not owned(request, job_id):
        return refuse({"job": "no such search of yours"}, 404)
    jobs.backend().cancel(job_id)
    return JsonResponse(jobs.backend().status(job_id) or {"state": "cancelled"})
