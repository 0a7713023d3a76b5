from django.contrib import admin

from .models import Run


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("id", "scenario", "status", "event_count", "created")
    list_filter = ("scenario", "status")
    readonly_fields = [f.name for f in Run._meta.fields]
