from django import template

from simulations.params import to_text

register = template.Library()


@register.filter
def pairs(mapping):
    """(name, value) pairs of a dict: a parameter named "items" must not hide dict.items from the template."""
    return list(mapping.items())


@register.filter
def as_text(value):
    """A parameter value as a link or a form carries it: true/false, lists comma-separated."""
    return to_text(value)
