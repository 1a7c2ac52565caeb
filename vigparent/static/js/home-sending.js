// @ts-check
/* Home: say when a video is sending (or waiting to send), with how far it has got.
 *
 * @requires js/vig-store.js js/pending.js
 */
(function () {
  "use strict";
  const vig = /** @type {Vig} */ (window.vig);
  /** In the page's language (common.js). @param {string} english @param {Record<string, string | number>} [vars] */
  const t = (english, vars) => (vig.t ? vig.t(english, vars) : english);
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
    const more = waiting.length > 1 ? " " + t("%(count)s more will follow.", { count: waiting.length - 1 }) : "";
    words.textContent = (said.progress !== undefined
      ? t("Your video is sending: %(percent)s so far.", { percent: said.progress + " %" })
      : t("Your video is waiting to send. It will send by itself.")) + more;
  }

  window.addEventListener("vig:recordings", refresh);
  window.addEventListener("vig:upload-progress", refresh);
  window.addEventListener("online", refresh);
  window.addEventListener("offline", refresh);
  refresh();
})();
