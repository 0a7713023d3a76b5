from django.contrib import admin

from .models import Challenge


@admin.register(Challenge)
class ChallengeAdmin(admin.ModelAdmin):
    list_display = ("title", "scenario", "slug", "possible", "max_faults", "live_only", "order")
    list_filter = ("scenario", "possible", "live_only")
    list_editable = ("order",)
    search_fields = ("title", "story", "why")
    prepopulated_fields = {"slug": ("title",)}
    fieldsets = [
        (None, {"fields": ["scenario", "title", "slug", "story", "order"]}),
        ("Set-up", {"fields": ["params", "seed", "faults", "free_params"]}),
        ("Goal and budget", {"fields": ["goal", "max_faults", "kinds", "live_only"]}),
        ("Answer", {"fields": ["possible", "why"]}),
    ]
