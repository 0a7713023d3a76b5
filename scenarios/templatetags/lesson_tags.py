"""Guided lessons in templates: a preset's checkpoints for lesson.js, and the room's checkpoint questions."""
from django import template
from django.urls import reverse

from ..lesson_views import lesson_progress
from ..models import Checkpoint

register = template.Library()


@register.simple_tag(takes_context=True)
def guided_lesson(context, preset):
    """The lesson a preset carries (None without checkpoints): its checkpoints as the browser needs them, sans
    answers, the URLs to answer and finish, and this browser's progress."""
    if not preset:
        return None
    checkpoints = list(preset.checkpoints.all())
    if not checkpoints:
        return None
    args = [preset.scenario, preset.slug]
    progress = lesson_progress(context["request"].session, preset, checkpoints)
    return {"preset": preset, "count": len(checkpoints), "progress": progress,
            "answer_url": reverse("lesson-answer", args=args), "finish_url": reverse("lesson-finish", args=args),
            "data": {"lesson": f"{preset.scenario}/{preset.slug}", "name": preset.name, "progress": progress,
                     "checkpoints": [c.as_json() for c in checkpoints]}}


@register.simple_tag
def checkpoint_questions(scenario_slug):
    """Every lesson question of a scenario, for the classroom's "ask the room"."""
    return [{"id": c.id, "lesson": c.preset.name, "question": c.question, "choices": c.choices}
            for c in Checkpoint.objects.filter(preset__scenario=scenario_slug).exclude(question="")
            .select_related("preset").order_by("preset__order", "preset__name", "order", "id")]
