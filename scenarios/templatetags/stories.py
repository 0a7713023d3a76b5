"""The scenario page's short story: a paragraph, a picture and what to watch for (scenarios/stories.py)."""
from django import template

from scenarios.stories import STORIES

register = template.Library()


@register.simple_tag
def story(slug):
    return STORIES.get(slug, {"short": "", "watch": []})
