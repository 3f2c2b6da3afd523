// Puts problem-details errors ({field, message}) beside the matching form input: the field
// path is tried from the most to the least specific ("limits.max_key_bytes", then
// "limits"); anything unmatched goes into the form's general error box.

export function clearFieldErrors(form) {
  form.querySelectorAll("[data-error-for]").forEach((el) => {
    el.textContent = "";
  });
  form.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  const box = form.querySelector("#form-error");
  box.hidden = true;
  box.textContent = "";
}

export function showFieldErrors(form, errors, summary, spec) {
  const unmatched = [];
  for (const error of errors) {
    const parts = pathOf(error.field || "");
    const target = candidates(parts)
      .map((name) => form.querySelector(`[data-error-for="${CSS.escape(name)}"]`))
      .find(Boolean);
    if (!target) {
      unmatched.push(error.field ? `${error.field}: ${error.message}` : error.message);
      continue;
    }
    target.textContent = target.textContent
      ? `${target.textContent} ${error.message}` : error.message;
    const container = target.closest("[data-field]");
    container.classList.add("invalid");
    container.querySelectorAll("input, select, textarea").forEach((input) => {
      if (!parts.length || input.name === target.dataset.errorFor) {
        input.setAttribute("aria-invalid", "true");
      }
    });
    markFeature(form, parts, spec);
  }
  const box = form.querySelector("#form-error");
  const lines = [...(errors.length && !unmatched.length ? [] : [summary]), ...unmatched]
    .filter(Boolean);
  if (lines.length) {
    box.textContent = lines.join("\n");
    box.hidden = false;
  }
  const first = form.querySelector(".invalid input, .invalid select, .invalid textarea");
  if (first) first.focus();
}

// "spec.features[1]" -> ["features", "1"]; the body/spec prefixes of some validators go.
function pathOf(field) {
  const parts = field.replace(/\[(\w+)\]/g, ".$1").split(".").filter(Boolean);
  while (parts.length && ["body", "spec"].includes(parts[0])) parts.shift();
  if (parts[0] === "pattern") parts[0] = "patterns";
  return parts;
}

function candidates(parts) {
  const out = [];
  for (let i = parts.length; i > 0; i--) out.push(parts.slice(0, i).join("."));
  return out;
}

// features[i] names the i-th feature sent: outline that checkbox too.
function markFeature(form, parts, spec) {
  if (parts[0] !== "features" || parts.length < 2 || !spec) return;
  const value = (spec.features || [])[Number(parts[1])];
  const input = value && form.querySelector(`input[name="features"][value="${CSS.escape(value)}"]`);
  if (input) input.closest("label").classList.add("invalid");
}
