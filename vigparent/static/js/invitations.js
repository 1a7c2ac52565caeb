/* The practitioner's share panel: copy the invitation link, or open the phone's share sheet. */
(function () {
  "use strict";

  function say(panel, text) {
    const status = panel.querySelector("[data-share-status]");
    if (status) status.textContent = text;
  }

  async function copyLink(panel) {
    const input = panel.querySelector("[data-share-url]");
    if (!input) return;
    try {
      await navigator.clipboard.writeText(input.value);
      say(panel, "Link copied. Paste it into a message to the family.");
      return;
    } catch {
      // Older browsers, or no clipboard permission: fall back to selecting the text.
    }
    input.focus();
    input.select();
    let copied;
    try { copied = document.execCommand("copy"); } catch { copied = false; }
    say(panel, copied
      ? "Link copied. Paste it into a message to the family."
      : "The link is selected. Copy it with your keyboard or a long press.");
  }

  async function shareLink(panel, button) {
    const input = panel.querySelector("[data-share-url]");
    const text = button.getAttribute("data-share-text") || "";
    try {
      // The message already contains the link, so `url` is not passed twice.
      await navigator.share({ title: button.getAttribute("data-share-title") || "", text: text });
      say(panel, "Shared.");
    } catch (e) {
      if (e && e.name === "AbortError") return;  // The person closed the share sheet.
      say(panel, "Sharing didn't work here. Use Copy link instead.");
      if (input) input.select();
    }
  }

  function initSharePanels() {
    document.querySelectorAll("[data-share-panel]").forEach(function (panel) {
      const copy = panel.querySelector("[data-copy-link]");
      const share = panel.querySelector("[data-share-link]");
      if (copy) copy.addEventListener("click", function () { copyLink(panel); });
      if (share && typeof navigator.share === "function") {
        share.hidden = false;
        share.addEventListener("click", function () { shareLink(panel, share); });
      }
    });
  }

  document.addEventListener("DOMContentLoaded", initSharePanels);
})();
