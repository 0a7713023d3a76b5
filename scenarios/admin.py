"""Presets and their guided lessons in the admin: a form field per scenario parameter (the scenario's own bounds
and help), every error at once, a preview of the set-up's run before saving, and checkpoints refused with the
reason when they could never fire."""
import base64

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html

import simulations
from simulations.params import ParamError, to_text

from .checkpoints import fire_seq, setup_trace
from .models import Checkpoint, Preset
from .setup import MAX_SEED

FIELD_PREFIX = "p_"


def scenario_or_none(slug):
    return simulations.SCENARIOS.get(slug or "")


def parsed_or_defaults(scenario, raw):
    """The typed parameters of ``raw``, or the defaults where it does not parse."""
    try:
        return scenario.parse(raw or {}, None)[0]
    except (ParamError, TypeError):
        return scenario.parse({}, None)[0]


def param_field(param, params):
    """A form field for one declared parameter; the scenario's Param parses and bounds the value in clean()."""
    label = param.label or param.name
    bounds = param.bounds_text(params)
    help_text = f"{param.help} ({bounds})" if param.help and bounds != param.help else param.help or bounds
    if param.kind == "bool":
        return forms.BooleanField(label=label, required=False, help_text=help_text)
    if param.kind in ("int", "float"):
        attrs = {"step": "1" if param.kind == "int" else "any"}
        if param.min is not None:
            attrs["min"] = to_text(param.min)
        if param.max is not None:
            attrs["max"] = to_text(param.max)
        return forms.CharField(label=label, required=False, help_text=help_text, widget=forms.NumberInput(attrs=attrs))
    if param.kind in ("choice", "node"):
        choices = [(c, c) for c in param.choices_for(params)]
        return forms.CharField(label=label, required=False, help_text=help_text, widget=forms.Select(choices=choices))
    return forms.CharField(label=label, required=False, help_text=help_text,
                           widget=forms.TextInput(attrs={"size": 40}))


class PresetForm(forms.ModelForm):
    """A preset's set-up. With a scenario chosen, one field per parameter replaces the raw params JSON (which
    stays as a hidden field, so a client that posts ``params`` as JSON still works)."""

    scenario_obj = None
    per_param = forms.CharField(widget=forms.HiddenInput, required=False)
    fields_for = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Preset
        fields = "__all__"
        widgets = {"params": forms.HiddenInput}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["params"].required = False
        self.setup_errors = []
        scenario = self.scenario_obj
        if scenario is None:
            return
        self.initial["scenario"] = scenario.slug
        self.fields["scenario"].help_text = "changing it reloads the form with that scenario's parameters"
        own = self.instance.params if self.instance.scenario == scenario.slug else {}
        params = parsed_or_defaults(scenario, own)
        for p in scenario.params:
            self.fields[FIELD_PREFIX + p.name].initial = params[p.name] if p.kind == "bool" else to_text(params[p.name])
        self.fields["per_param"].initial = "1"
        self.fields["fields_for"].initial = scenario.slug

    def param_names(self):
        return [p.name for p in self.scenario_obj.params] if self.scenario_obj else []

    def clean(self):
        data = super().clean()
        scenario = scenario_or_none(data.get("scenario"))
        if scenario is None:
            return data
        per_param = bool(self.data.get("per_param")) and self.scenario_obj is not None
        if per_param and self.data.get("fields_for") != scenario.slug:
            self.add_error(None, f"The scenario changed to {scenario.title}: check its parameters, then save again.")
            data.pop("params", None)
            return data
        if per_param:
            raw = {}
            for name in self.param_names():
                value = data.get(FIELD_PREFIX + name)
                if value not in (None, ""):
                    raw[name] = value
        else:
            raw = data.get("params") or {}
            if not isinstance(raw, dict):
                self.add_error("params", "params must be a JSON object")
                return data
        try:
            params, _ = scenario.parse(raw, None)
        except ParamError as e:
            for name, message in e.errors.items():
                self.setup_errors.append(message if name == "__all__" else f"{name}: {message}")
                if per_param and FIELD_PREFIX + name in self.fields:
                    self.add_error(FIELD_PREFIX + name, message)
            self.add_error(None, "Fix the parameters: " + "; ".join(self.setup_errors))
            data.pop("params", None)
            return data
        data["params"] = minimal_params(scenario, params) if per_param else {k: params[k] for k in raw if k in params}
        seed = data.get("seed")
        if seed is not None and not 0 <= seed <= MAX_SEED:
            self.add_error("seed", f"must be a whole number from 0 to {MAX_SEED}")
        faults = data.get("faults")
        if "faults" in data:
            try:
                scenario.parse(params, faults if faults is not None else [])
            except ParamError as e:
                message = "; ".join(e.errors.values())
                self.setup_errors.append(f"faults: {message}")
                self.add_error("faults", message)
        if faults is None and "faults" in data:
            data["faults"] = []
        return data

    def setup(self):
        """(params, seed, faults) once the form is valid as far as the set-up goes; else raises ValidationError."""
        self.is_valid()
        bad = [k for k in self.errors if k.startswith(FIELD_PREFIX) or k in ("scenario", "seed", "faults", "params")]
        if bad or self.setup_errors:
            messages = self.setup_errors or [f"{k}: {'; '.join(self.errors[k])}" for k in bad]
            raise ValidationError(messages)
        return self.cleaned_data["params"], self.cleaned_data.get("seed") or 0, self.cleaned_data.get("faults") or []


def minimal_params(scenario, params):
    """Only the values that differ from their defaults, as the shipped presets store them."""
    out, so_far = {}, {}
    for p in scenario.params:
        value = params[p.name]
        if value != p.default_for(so_far):
            out[p.name] = value
        so_far[p.name] = value
    return out


def preset_form_for(scenario, params):
    attrs = {FIELD_PREFIX + p.name: param_field(p, params) for p in (scenario.params if scenario else ())}
    attrs["scenario_obj"] = scenario
    return type("PresetForm", (PresetForm,), attrs)


def run_preview(scenario, params, seed, faults):
    """The set-up's run for the preview: its diagram (an SVG data URI), headline and a few figures."""
    from simulations.export import to_svg

    trace = setup_trace(scenario.slug, params, seed, faults)
    summary = trace[-1].get("summary", {}) if trace else {}
    violations = summary.get("violations") or []
    headline = summary.get("headline") or (
        f"{len(trace)} events, {summary.get('messages_sent', 0)} messages; "
        + (f"violated: {', '.join(violations)}" if violations else "every invariant holds"))
    svg = to_svg(trace, tick=scenario.tick)
    return {"headline": headline, "events": len(trace), "violations": violations, "end_time": trace[-1]["t"],
            "svg_uri": "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode(),
            "title": f"{scenario.title}: sequence diagram of this set-up's run"}


class CheckpointFormSet(BaseInlineFormSet):
    """Each checkpoint validates itself (Checkpoint.clean); together they must fire in their order."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        trace = Checkpoint(preset=self.instance).preset_trace()
        if not isinstance(trace, list):
            return
        fired = []
        for form in self.forms:
            if not getattr(form, "cleaned_data", None) or form.cleaned_data.get("DELETE"):
                continue
            d = form.cleaned_data
            seq = fire_seq(trace, d.get("at_seq"), d.get("match") or None)
            if seq is not None:
                fired.append((d.get("order") or 0, seq, form))
        fired.sort(key=lambda x: x[0])
        for (order_a, seq_a, _), (order_b, seq_b, form_b) in zip(fired, fired[1:]):
            if seq_b < seq_a:
                raise ValidationError(f"the checkpoint with order {order_b} fires at step {seq_b}, before the one "
                                      f"with order {order_a} (step {seq_a}): give them orders in the run's order")


class CheckpointInline(admin.StackedInline):
    model = Checkpoint
    formset = CheckpointFormSet
    extra = 0
    fields = ("order", ("at_seq", "match"), "narration", "question", "choices", "answer", "explanation")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in ("match", "choices"):
            field.widget.attrs.update({"rows": 2, "cols": 70})
        if db_field.name in ("narration", "explanation"):
            field.widget.attrs.update({"rows": 3})
        return field


@admin.register(Preset)
class PresetAdmin(admin.ModelAdmin):
    list_display = ("name", "scenario", "slug", "order", "featured", "checkpoint_count")
    list_filter = ("scenario", "featured")
    list_editable = ("order", "featured")
    search_fields = ("name", "description")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("preview",)
    inlines = [CheckpointInline]
    change_form_template = "admin/scenarios/preset/change_form.html"

    class Media:
        js = ("js/preset_admin.js",)
        css = {"all": ("css/preset_admin.css",)}

    @admin.display(description="checkpoints")
    def checkpoint_count(self, obj):
        return obj.checkpoints.count()

    def get_inlines(self, request, obj):
        """The checkpoints inline, unless a client posts the preset alone (no inline management form)."""
        if request.method == "POST" and "checkpoints-TOTAL_FORMS" not in request.POST:
            return []
        return self.inlines

    def scenario_for(self, request, obj=None):
        slug = request.POST.get("scenario") if request.method == "POST" else request.GET.get("scenario")
        return scenario_or_none(slug) or (scenario_or_none(obj.scenario) if obj else None)

    def get_fieldsets(self, request, obj=None):
        scenario = self.scenario_for(request, obj)
        fieldsets = [(None, {"fields": ["scenario", "name", "slug", "description", "params", "per_param",
                                        "fields_for"]})]
        if scenario:
            fieldsets.append((f"Parameters of {scenario.title}", {
                "fields": [FIELD_PREFIX + p.name for p in scenario.params],
                "description": "Each within the scenario's own bounds; blank takes the default."}))
        fieldsets.append(("Seed and faults", {"fields": ["seed", "faults"]}))
        fieldsets.append(("In the catalog", {"fields": ["order", "featured"]}))
        if obj is not None:
            fieldsets.append(("Preview of the saved set-up", {"fields": ["preview"]}))
        return fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        scenario = self.scenario_for(request, obj)
        own = obj.params if obj is not None and scenario and obj.scenario == scenario.slug else {}
        kwargs["form"] = preset_form_for(scenario, parsed_or_defaults(scenario, own) if scenario else {})
        return super().get_form(request, obj, change=change, **kwargs)

    def add_view(self, request, form_url="", extra_context=None):
        """Ask for the scenario first: the form's parameter fields are that scenario's."""
        if request.method == "GET" and not scenario_or_none(request.GET.get("scenario")):
            return render(request, "admin/scenarios/preset/choose_scenario.html", {
                **self.admin_site.each_context(request), "opts": self.model._meta, "title": "Add preset: scenario",
                "scenarios": simulations.SCENARIOS.values()})
        return super().add_view(request, form_url, extra_context)

    def get_urls(self):
        return [path("preview/", self.admin_site.admin_view(self.preview_view), name="scenarios_preset_preview"),
                *super().get_urls()]

    def preview_view(self, request):
        """Run the set-up in the form as it stands (nothing is saved) and show its diagram and headline.

        A set-up that cannot run gets the same page listing every reason (status 200, like the admin's own forms:
        config.errors takes an admin page with another status for Django's debug page)."""
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": "Preview"}
        if request.method != "POST":
            context["errors"] = ["Use the Preview button of a preset's form."]
            return render(request, "admin/scenarios/preset/preview.html", context)
        scenario = scenario_or_none(request.POST.get("scenario"))
        if scenario is None:
            context["errors"] = ["Choose a scenario first."]
            return render(request, "admin/scenarios/preset/preview.html", context)
        form_class = preset_form_for(scenario, {})
        form = form_class(data=request.POST)
        try:
            params, seed, faults = form.setup()
        except ValidationError as e:
            context.update(scenario=scenario, errors=e.messages)
            return render(request, "admin/scenarios/preset/preview.html", context)
        context.update(scenario=scenario, params=params, seed=seed, faults=faults,
                       preview=run_preview(scenario, params, seed, faults), name=request.POST.get("name", ""))
        return render(request, "admin/scenarios/preset/preview.html", context)

    @admin.display(description="run")
    def preview(self, obj):
        scenario = scenario_or_none(obj.scenario)
        if scenario is None or obj.pk is None:
            return "-"
        try:
            preview = run_preview(scenario, obj.params, obj.seed, obj.faults)
        except (ParamError, TypeError) as e:
            return format_html('<p class="errornote">This set-up does not run: {}</p>', e)
        return render_to_string("admin/scenarios/preset/_preview.html", {"preview": preview})

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["preview_url"] = reverse("admin:scenarios_preset_preview")
        return super().render_change_form(request, context, add, change, form_url, obj)
