// Bastion console: the only script (CSP script-src 'self'). Pages work without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Ask before destructive buttons that carry data-confirm.
  for (const button of document.querySelectorAll("button[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }
  // Copy a shown-once secret from its field to the clipboard.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async () => {
      const field = document.getElementById(button.dataset.copy);
      if (!field) return;
      await navigator.clipboard.writeText(field.value);
      button.textContent = "Copied";
    });
  }
});
