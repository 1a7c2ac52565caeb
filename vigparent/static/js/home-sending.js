// @ts-check
/* Home: say when a video is sending (or waiting to send), with how far it has got.
 *
 * @requires js/vig-store.js js/pending.js
 */
(function () {
  "use strict";
  const vig = /** @type {Vig} */ (window.vig);
  /** In the page's language (common.js). @param {string} english */
  const t = (english) => (vig.t ? vig.t(english) : english);
  const box = document.getElementById("home-sending");
  if (!box || !vig || !vig.store || !vig.describeRecording) return;
  const words = box.querySelector("[data-sending-words]");

  async function refresh() {
    let waiting;
    try {
      waiting = (await vig.store.all()).filter((r) => ["queued", "uploading", "verifying"].includes(r.state));
    } catch { waiting = []; }
    box.hidden = waiting.length === 0;
    if (!waiting.length) return;
    const first = waiting[0];
    const said = vig.describeRecording(first, null);
    const more = waiting.length > 1 ? " " + (waiting.length - 1) + " more will follow." : "";
    words.textContent = (said.progress !== undefined
      ? "Your video is sending: " + said.progress + " % so far."
      : t("Your video is waiting to send. It will send by itself.")) + more;
  }

  window.addEventListener("vig:recordings", refresh);
  window.addEventListener("vig:upload-progress", refresh);
  window.addEventListener("online", refresh);
  window.addEventListener("offline", refresh);
  refresh();
})();
