"""Guided lessons: answering a checkpoint, finishing a lesson, and the catalog of lessons with this browser's
progress, kept in the Django session (no account needed)."""
import json

from django.db.models import Count, Q
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

import simulations

from .models import Preset

SESSION_KEY = "lessons"


def lesson_key(preset):
    return f"{preset.scenario}/{preset.slug}"


def session_progress(session):
    return session.get(SESSION_KEY, {})


def lesson_progress(session, preset, checkpoints):
    """What this browser has done in one lesson: answered and correct questions, and whether it finished."""
    record = session_progress(session).get(lesson_key(preset), {})
    answers = record.get("answers", {})
    asked = [str(c.id) for c in checkpoints if c.question]
    return {"questions": len(asked), "answered": sum(1 for i in asked if i in answers),
            "correct": sum(1 for i in asked if answers.get(i) is True), "finished": bool(record.get("finished"))}


def bad(message):
    return JsonResponse({"error": message}, status=400)


def read_body(request):
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return None
        return data if isinstance(data, dict) else None
    return request.POST


def guided_lesson(scenario, slug):
    """(preset, checkpoints) of a guided lesson, or (None, message)."""
    preset = Preset.objects.filter(scenario=scenario, slug=slug).first()
    checkpoints = list(preset.checkpoints.all()) if preset else []
    if not checkpoints:
        return None, f"no guided lesson {scenario[:60]}/{slug[:60]}"
    return preset, checkpoints


def as_int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


@require_POST
def answer(request, scenario, slug):
    """Record the learner's choice at a checkpoint (the first answer counts) and reveal the right one."""
    preset, checkpoints = guided_lesson(scenario, slug)
    if preset is None:
        return bad(checkpoints)
    data = read_body(request)
    if data is None:
        return bad("send JSON such as {\"checkpoint\": 12, \"choice\": 0}")
    cp_id = as_int(data.get("checkpoint"))
    checkpoint = next((c for c in checkpoints if c.id == cp_id), None)
    if checkpoint is None:
        return bad(f"checkpoint must be one of this lesson's checkpoints: {', '.join(str(c.id) for c in checkpoints)}")
    if not checkpoint.question:
        return bad("this checkpoint asks no question")
    choice = as_int(data.get("choice"))
    if choice is None or not 0 <= choice < len(checkpoint.choices):
        return bad(f"choice must be a whole number from 0 to {len(checkpoint.choices) - 1}")
    correct = choice == checkpoint.answer
    progress = request.session.setdefault(SESSION_KEY, {})
    record = progress.setdefault(lesson_key(preset), {"answers": {}, "finished": False})
    record.setdefault("answers", {}).setdefault(str(checkpoint.id), correct)
    request.session.modified = True
    return JsonResponse({"correct": correct, "answer": checkpoint.answer, "choice": choice,
                         "explanation": checkpoint.explanation,
                         "progress": lesson_progress(request.session, preset, checkpoints)})


@require_POST
def finish(request, scenario, slug):
    """Mark the lesson finished once the run has ended and every question has an answer."""
    preset, checkpoints = guided_lesson(scenario, slug)
    if preset is None:
        return bad(checkpoints)
    current = lesson_progress(request.session, preset, checkpoints)
    if current["answered"] < current["questions"]:
        return bad(f"answer the lesson's questions first: {current['answered']} of {current['questions']} answered")
    progress = request.session.setdefault(SESSION_KEY, {})
    progress.setdefault(lesson_key(preset), {"answers": {}})["finished"] = True
    request.session.modified = True
    return JsonResponse({"finished": True, "progress": lesson_progress(request.session, preset, checkpoints)})


@require_GET
def lesson_start(request, scenario, slug):
    preset, _ = guided_lesson(scenario, slug)
    if preset is None:
        return redirect(reverse("lessons"))
    return redirect(preset.get_absolute_url())


@require_GET
def lessons(request):
    """Every guided lesson, grouped by scenario, with what this browser has answered and finished."""
    presets = (Preset.objects.annotate(n=Count("checkpoints"), asked=Count("checkpoints", filter=~Q(checkpoints__question="")))
               .filter(n__gt=0).prefetch_related("checkpoints"))
    by_scenario = {}
    for p in presets:
        by_scenario.setdefault(p.scenario, []).append(
            {"preset": p, "checkpoints": p.n, **lesson_progress(request.session, p, p.checkpoints.all())})
    groups = [{"scenario": s, "lessons": by_scenario[s.slug]} for s in simulations.SCENARIOS.values()
              if s.slug in by_scenario]
    items = [item for g in groups for item in g["lessons"]]
    totals = {"lessons": len(items), "finished": sum(i["finished"] for i in items),
              "questions": sum(i["questions"] for i in items), "answered": sum(i["answered"] for i in items),
              "correct": sum(i["correct"] for i in items)}
    return render(request, "lessons/index.html", {"groups": groups, "totals": totals})
