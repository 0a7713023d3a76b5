from django.contrib import admin

from .models import Preset


@admin.register(Preset)
class PresetAdmin(admin.ModelAdmin):
    list_display = ("name", "scenario", "slug", "order", "featured")
    list_filter = ("scenario", "featured")
    list_editable = ("order", "featured")
    search_fields = ("name", "description")
    prepopulated_fields = {"slug": ("name",)}
