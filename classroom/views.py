"""Opening and joining a classroom. The instructor's secret lives in their session, never in a URL."""
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from scenarios.views import get_scenario, setup_context

from .models import Room


@require_POST
def open_room(request, slug):
    """Open a room for a scenario set-up (the query string of the page it was opened from)."""
    get_scenario(slug)
    room = Room.objects.create(scenario=slug, setup=request.POST.get("setup", "")[:2000])
    request.session.setdefault("rooms", {})[room.code] = room.key
    request.session.modified = True
    return redirect(room)


@require_GET
def join(request):
    code = request.GET.get("code", "").strip().upper()
    if code:
        if Room.objects.filter(code=code).exists():
            return redirect("room", code=code)
        return render(request, "classroom/join.html", {"error": f"No room {code[:8]!r}: check the code."},
                      status=404)
    return render(request, "classroom/join.html", {})


@require_GET
def room_page(request, code):
    room = get_object_or_404(Room, code=code.upper())
    key = request.session.get("rooms", {}).get(room.code)
    instructor = key == room.key
    scenario = get_scenario(room.scenario)
    context = {"room": room, "instructor": instructor, "scenario": scenario,
               "join_url": request.build_absolute_uri(room.get_absolute_url())}
    if instructor:
        request.GET = QueryDict(room.setup)  # the set-up the room was opened with fills the instructor's form
        context.update(setup_context(request, scenario))
    return render(request, "classroom/room.html", context)
