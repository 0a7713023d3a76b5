from django import template

from ..models import Challenge

register = template.Library()


@register.simple_tag
def challenge_for(request, scenario):
    """The challenge a scenario page was opened for (``?challenge=<slug>``), if it is one of this scenario's."""
    slug = request.GET.get("challenge", "") if request is not None else ""
    if not slug:
        return None
    return Challenge.objects.filter(slug=slug[:80], scenario=scenario.slug).first() or {"missing": slug[:80]}
