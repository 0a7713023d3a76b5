// The preset admin: a preset's parameter fields are its scenario's, so changing the scenario reloads the form.
document.addEventListener("DOMContentLoaded", () => {
  const select = document.getElementById("id_scenario");
  if (!select) return;
  select.addEventListener("change", () => {
    const url = new URL(location.href);
    url.searchParams.set("scenario", select.value);
    location.assign(url);
  });
});
