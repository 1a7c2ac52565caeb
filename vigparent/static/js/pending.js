// @ts-check
/* "My videos" (/film/videos): every video on this phone that is not yet safely with the
 * practitioner, in plain words, plus what the server says about ones already sent.
 * The words (vig.describeRecording) are shared with the recorder's "Sending" panel.
 *
 * @requires js/common.js js/vig-store.js js/uploader.js
 */
(function () {
  "use strict";
  const vig = /** @type {Vig} */ (window.vig = window.vig || {});
  /** In the page's language (common.js). @param {string} english @param {Record<string, string | number>} [vars] */
  const t = (english, vars) => (vig.t ? vig.t(english, vars) : english);

  /* {text, icon, tone, done} for a local record and/or the server's status of it. */
  vig.describeRecording = function (rec, server) {
    const online = navigator.onLine !== false;
    if (!rec) return describeServer(server);
    const pct = () => (vig.uploader ? vig.uploader.percent(rec) : 0);
    switch (rec.state) {
      case "recording":
        return { text: t("Filming now…"), icon: "●", tone: "busy" };
      case "copying":
        return { text: t("Saving a copy on this phone…"), icon: "…", tone: "busy" };
      case "review":
        return rec.interrupted
          ? { text: t("Filming was interrupted, but it was saved. Watch it, then send it."), icon: "!", tone: "todo" }
          : { text: t("Not sent yet. Watch it, then tap Send."), icon: "!", tone: "todo" };
      case "broken":
        return { text: t("This copy did not finish saving. Please film it or choose it again."), icon: "✕", tone: "problem" };
      case "queued":
        return online
          ? { text: t("Waiting to send…"), icon: "…", tone: "wait" }
          : { text: t("Waiting for signal. It will send by itself."), icon: "…", tone: "wait" };
      case "uploading":
        if (!online) return { text: t("Waiting for signal. It will send by itself."), icon: "…", tone: "wait" };
        return { text: t("Sending… ") + pct() + " %", icon: "↑", tone: "busy", progress: pct() };
      case "verifying":
        return { text: t("Sent. Checking it arrived safely…"), icon: "↑", tone: "busy" };
      case "sent":
        return Object.assign(describeServer(server || { status: rec.serverStatus }), { done: true });
      case "problem":
        if (rec.blocked) return { text: t("Not sent yet. ") + (rec.error || ""), icon: "!", tone: "problem" };
        return { text: t("Problem — we will try again. ") + (rec.error || ""), icon: "!", tone: "problem" };
      case "rejected":
        return { text: t("This video can't be sent. ") + (rec.error || ""), icon: "✕", tone: "problem" };
      default:
        return { text: "", icon: "", tone: "wait" };
    }
  };

  function describeServer(server) {
    const status = server && server.status;
    if (status === "rejected") {
      return { text: t("Sent, but it can't be used. ") + (server.reason || ""), icon: "✕", tone: "problem", done: true };
    }
    if (status === "ready") return { text: t("Sent. Your practitioner has it."), icon: "✓", tone: "ok", done: true };
    if (status === "uploading") {
      return { text: t("Not finished sending from this phone or another one."), icon: "…", tone: "wait" };
    }
    return { text: t("Sent. Your practitioner will see it soon."), icon: "✓", tone: "ok", done: true };
  }

  const list = document.getElementById("vig-pending");
  if (!list || !vig.store) return;

  const summary = document.getElementById("vid-summary");
  const empty = document.getElementById("vid-empty");
  const notice = document.getElementById("vid-notice");
  const keep = document.getElementById("vid-keep");
  const recordUrl = vig.config.recordUrl;
  const confirming = new Set();
  let serverRecordings = [];
  let rendering = null;
  let renderAgain = false;

  function node(tag, attrs, children) {
    const n = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([key, value]) => {
      if (key === "text") n.textContent = value;
      else if (key === "class") n.className = value;
      else if (value !== null && value !== undefined && value !== false) n.setAttribute(key, value);
    });
    (children || []).forEach((c) => c && n.appendChild(c));
    return n;
  }

  function button(label, action, id, extraClass) {
    return node("button", {
      type: "button", class: "button " + (extraClass || ""), "data-action": action, "data-id": id, text: label,
    });
  }

  function titleFor(rec, server) {
    const when = rec ? rec.recordedAt || rec.createdAt : server && Date.parse(server.recorded_at || server.created_at || "");
    if (!when) return t("A video you sent");
    const said = { when: vig.fmt.when(when) };
    return rec && rec.source === "file" ? t("Chosen %(when)s", said) : t("Filmed %(when)s", said);
  }

  function actionsFor(rec) {
    if (!rec) return [];
    const id = rec.id;
    if (confirming.has(id)) {
      return [
        node("p", { class: "vid-confirm-question", text: t("Delete this video for good? It has not been sent.") }),
        button(t("Yes, delete it"), "delete-yes", id, "button-danger"),
        button(t("No, keep it"), "delete-no", id),
      ];
    }
    const out = [];
    if (rec.state === "review") {
      out.push(node("a", { class: "button button-primary", href: recordUrl + "?review=" + encodeURIComponent(id), text: t("Watch and send") }));
    } else if (rec.state === "problem" && rec.mismatch) {
      out.push(button(t("Send again"), "send-again", id, "button-primary"));
    } else if ((rec.state === "queued" || rec.state === "problem") && !vig.uploader.isRunning(id) &&
        navigator.onLine !== false) {
      out.push(button(t("Send now"), "send", id, "button-primary"));
    }
    if (["review", "queued", "problem", "rejected", "broken"].includes(rec.state)) {
      out.push(button(rec.state === "rejected" || rec.state === "broken" ? t("Delete from this phone") : t("Delete"), "delete", id));
    }
    return out;
  }

  function itemFor(entry) {
    const rec = entry.local;
    const words = vig.describeRecording(rec, entry.server);
    const key = rec ? rec.id : "server-" + entry.server.client_id;
    const meta = [];
    if (rec && rec.durationMs) meta.push(vig.fmt.duration(rec.durationMs));
    else if (entry.server && entry.server.duration_s) meta.push(vig.fmt.duration(entry.server.duration_s * 1000));
    const li = node("li", { class: "card vid-item tone-" + words.tone, "data-key": key }, [
      node("h2", { class: "vid-title", text: titleFor(rec, entry.server) }),
      meta.length ? node("p", { class: "vid-meta", text: meta.join(" · ") }) : null,
      node("p", { class: "vid-state" }, [
        node("span", { class: "vid-icon", "aria-hidden": "true", text: words.icon }),
        node("span", { class: "vid-words", text: words.text }),
      ]),
      words.progress !== undefined
        ? node("progress", { class: "vid-progress", max: "100", value: String(words.progress), "aria-label": t("Sent so far"), text: words.progress + " %" })
        : null,
    ]);
    const actions = actionsFor(rec);
    if (actions.length) li.appendChild(node("div", { class: "vid-actions" }, actions));
    li.dataset.signature = [words.text, words.tone, actions.map((a) => a.textContent).join("|")].join("#");
    return li;
  }

  function merge(local) {
    const byClient = new Map(serverRecordings.map((s) => [String(s.client_id).toLowerCase(), s]));
    const entries = local.map((rec) => {
      const key = String(rec.clientId || rec.id).toLowerCase();
      const server = byClient.get(key) || null;
      byClient.delete(key);
      return { local: rec, server: server, when: rec.recordedAt || rec.createdAt };
    });
    byClient.forEach((server) => {
      entries.push({ local: null, server: server, when: Date.parse(server.recorded_at || server.created_at || "") || 0 });
    });
    return entries.sort((a, b) => b.when - a.when);
  }

  function waitingCount(local) {
    return local.filter((r) => !["sent", "rejected", "broken"].includes(r.state)).length;
  }

  // No browser sends from a closed app: the service worker cannot run tus, and only Chromium
  // has Background Sync even to wake it. So the parent is told to keep the app open.
  function keepOpen(waiting) {
    return " " + (waiting === 1
      ? t("It sends by itself while this app is open. If you close the app, open it again when you have signal.")
      : t("They send by themselves while this app is open. If you close the app, open it again when you have signal."));
  }

  function summarise(local) {
    const waiting = waitingCount(local);
    if (navigator.onLine === false) {
      return waiting
        ? t("No signal right now. ") +
          (waiting === 1 ? t("Your video is safe on this phone.") : t("Your videos are safe on this phone.")) +
          keepOpen(waiting)
        : t("No signal right now.");
    }
    if (!waiting) return t("Everything you filmed has been sent.");
    return (waiting === 1
      ? t("1 video is waiting to be sent.")
      : t("%(count)s videos are waiting to be sent.", { count: waiting })) + keepOpen(waiting);
  }

  /* Where the browser has not promised to keep our storage (Safari deletes a website's data
   * after 7 days without a visit; Firefox asks first; older phones cannot say), unsent videos
   * could be lost: ask the parent to send them soon and point at the home-screen card. */
  async function warnIfStorageMayBeCleared(local) {
    if (!keep) return;
    const atRisk = waitingCount(local) > 0 && !(await vig.storageSpace.persisted());
    keep.hidden = !atRisk;
  }

  async function renderOnce() {
    const local = await vig.store.all();
    const entries = merge(local);
    const seen = new Set();
    let previous = null;
    for (const entry of entries) {
      const fresh = itemFor(entry);
      const key = fresh.dataset.key;
      seen.add(key);
      let current = /** @type {HTMLElement | null} */ (list.querySelector('[data-key="' + CSS.escape(key) + '"]'));
      if (!current) {
        current = fresh;
      } else if (current.dataset.signature !== fresh.dataset.signature) {
        // Replace only what changed, so a button being pressed is not swapped under a finger.
        const hadFocus = current.contains(document.activeElement);
        current.replaceWith(fresh);
        current = fresh;
        if (hadFocus) {
          const target = /** @type {HTMLElement | null} */ (current.querySelector("button, a"));
          if (target) target.focus();
        }
      }
      const expected = previous ? previous.nextSibling : list.firstChild;
      if (expected !== current) list.insertBefore(current, expected);
      previous = current;
    }
    Array.from(list.children).forEach((/** @type {HTMLElement} */ child) => { if (!seen.has(child.dataset.key)) child.remove(); });
    if (summary) summary.textContent = entries.length ? summarise(local) : "";
    await warnIfStorageMayBeCleared(local);
    if (empty) empty.hidden = entries.length > 0;
  }

  function render() {
    if (rendering) { renderAgain = true; return rendering; }
    rendering = renderOnce().catch((e) => vig.reportError("caught", e)).finally(() => {
      rendering = null;
      if (renderAgain) { renderAgain = false; render(); }
    });
    return rendering;
  }

  function updateProgress(id) {
    const item = list.querySelector('[data-key="' + CSS.escape(id) + '"]');
    if (!item) return;
    vig.store.get(id).then((rec) => {
      const words = vig.describeRecording(rec, null);
      const text = item.querySelector(".vid-words");
      const bar = item.querySelector("progress");
      if (text) text.textContent = words.text;
      if (bar && words.progress !== undefined) { bar.value = words.progress; bar.textContent = words.progress + " %"; }
    });
  }

  async function loadServerList() {
    if (navigator.onLine === false) return;
    try {
      const response = await fetch(vig.config.statusUrl, {
        credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" },
      });
      if (!response.ok) return;
      const body = await response.json();
      serverRecordings = Array.isArray(body.recordings) ? body.recordings : [];
      render();
    } catch { /* offline: the phone's own list is enough */ }
  }

  list.addEventListener("click", async (event) => {
    const target = /** @type {HTMLButtonElement | null} */ (/** @type {Element} */ (event.target).closest("button[data-action]"));
    if (!target) return;
    const id = target.dataset.id;
    const action = target.dataset.action;
    if (action === "send") {
      target.disabled = true;
      if (navigator.onLine === false) {
        summary.textContent = t("No signal yet. It will send by itself when there is signal.");
      }
      vig.uploader.start(id);
    } else if (action === "send-again") {
      target.disabled = true;
      vig.uploader.sendAgain(id);
    } else if (action === "delete") {
      confirming.add(id);
      await render();
      const no = /** @type {HTMLButtonElement | null} */ (list.querySelector('[data-action="delete-no"][data-id="' + CSS.escape(id) + '"]'));
      if (no) no.focus();
    } else if (action === "delete-no") {
      confirming.delete(id);
      render();
    } else if (action === "delete-yes") {
      confirming.delete(id);
      vig.uploader.stop(id);
      await vig.store.remove(id);
    }
  });

  let lastStates = new Map();
  window.addEventListener("vig:recordings", async () => {
    await render();
    // When one of ours has just been sent, ask the server how it is doing.
    const local = await vig.store.all();
    const sentNow = local.some((r) => r.state === "sent" && lastStates.get(r.id) !== "sent");
    lastStates = new Map(local.map((r) => [r.id, r.state]));
    if (sentNow) loadServerList();
  });
  window.addEventListener("vig:upload-progress", (e) => updateProgress(e.detail && e.detail.id));
  window.addEventListener("online", () => { render(); loadServerList(); });
  window.addEventListener("offline", render);
  window.addEventListener("vig:notice", (e) => {
    if (!notice) return;
    notice.textContent = (e.detail && e.detail.message) || "";
    notice.hidden = !notice.textContent;
  });

  vig.store.all().then((local) => {
    lastStates = new Map(local.map((r) => [r.id, r.state]));
    if (local.some((r) => r.state !== "sent")) vig.storageSpace.persist();
  }).catch((e) => vig.reportError("storage_failed", e));
  render();
  loadServerList();
})();
