"""The challenge list, a challenge's page and the judge endpoint; attempts are kept in the session."""
import re

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

import simulations
from runs.models import Run

from .judge import judge
from .models import Challenge

SESSION_KEY = "challenge_attempts"
MAX_ATTEMPTS = 20  # kept per challenge, newest first
RUN_ID = re.compile(r"^(?:.*/runs/)?([A-Za-z0-9_-]{1,16})/?$")


def attempts_in(session):
    return session.get(SESSION_KEY, {})


def record(session, slug, verdict):
    """Remember a verdict for this browser: the newest first, one entry per run."""
    attempts = attempts_in(session)
    entry = {**verdict.as_dict(), "at": timezone.now().isoformat(timespec="seconds")}
    kept = [a for a in attempts.get(slug, []) if a["run"] != verdict.run]
    attempts[slug] = [entry] + kept[:MAX_ATTEMPTS - 1]
    session[SESSION_KEY] = attempts
    session.modified = True


@require_GET
def challenge_list(request):
    attempts = attempts_in(request.session)
    groups = []
    challenges = list(Challenge.objects.all())
    for scenario in simulations.SCENARIOS.values():
        items = [{"challenge": c, "attempts": attempts.get(c.slug, []),
                  "solved": any(a["ok"] for a in attempts.get(c.slug, []))}
                 for c in challenges if c.scenario == scenario.slug]
        if items:
            groups.append({"scenario": scenario, "items": items})
    return render(request, "challenges/list.html", {"groups": groups})


@require_GET
def challenge_page(request, slug):
    challenge = get_object_or_404(Challenge, slug=slug)
    attempts = attempts_in(request.session).get(slug, [])
    return render(request, "challenges/detail.html", {
        "challenge": challenge, "attempts": attempts, "solved": any(a["ok"] for a in attempts)})


def _fragment_wanted(request):
    return bool(getattr(request, "htmx", False)) or request.headers.get("X-Requested-With") == "fetch"


def _refuse(request, challenge, status, message):
    html = render_to_string("challenges/_verdict.html", {"challenge": challenge, "error": message}, request)
    return HttpResponse(html, status=status)


@require_POST
def judge_run(request, slug):
    """Judge the run named by ``run`` (its id or its permalink) and remember the verdict in the session."""
    challenge = get_object_or_404(Challenge, slug=slug)
    raw = (request.POST.get("run") or "").strip()
    match = RUN_ID.match(raw)
    if not match:
        return _refuse(request, challenge, 400, "run must be a run id or its permalink, like /runs/AbC123xyz_-q/")
    run = Run.objects.filter(pk=match.group(1)).first()
    if run is None:
        return _refuse(request, challenge, 404, f"no run {match.group(1)!r}: check the permalink")
    verdict = judge(challenge, run, run.trace() if run.status == Run.Status.ENDED else [])
    if verdict.finished:
        record(request.session, slug, verdict)
    if not _fragment_wanted(request):
        return redirect(f"{challenge.get_absolute_url()}#attempts")
    return render(request, "challenges/_verdict.html", {"challenge": challenge, "verdict": verdict})
