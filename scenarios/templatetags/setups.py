from django import template

register = template.Library()


@register.filter
def join_list(value):
    """A list parameter as a link or a form carries it: comma-separated."""
    return ",".join(value) if isinstance(value, list) else value
