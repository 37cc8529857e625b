// drafter inbox. Plain ES module, no build step, served by the app itself (CSP: scripts from 'self' only).
// Safety rule: patient and model text reach the page only as text nodes (append / textContent), never as HTML.
// The API token lives in sessionStorage and goes out as a bearer header; the page sets no cookies.

import { $, TOKEN_KEY, bindSignIn, announce, api, h, json, onUnauthorized } from "./common.js";

const SHORTCUTS_KEY = "drafter.shortcuts";
const WAITING = new Set(["queued", "generating"]);
const REVIEWABLE = new Set(["pending_review", "needs_clinician"]);
const FILTERS = {
  todo: ["needs_clinician", "pending_review", "generating", "queued", "failed"],
  needs_clinician: ["needs_clinician"],
  writing: ["queued", "generating"],
  failed: ["failed"],
  approved: ["approved"],
  rejected: ["rejected"],
  all: ["needs_clinician", "pending_review", "generating", "queued", "failed", "approved", "rejected"],
};
const URGENCY = { emergency: "Emergency", urgent: "Same day", routine: "Routine" };
const SEVERITY = { block: "Blocking", warn: "Warning", info: "Note" };
const STATUS = {
  queued: "Waiting to be written",
  generating: "Being written",
  pending_review: "Ready for review",
  needs_clinician: "Needs your review (blocking findings)",
  failed: "Drafting failed",
  approved: "Approved",
  rejected: "Rejected",
  superseded: "Replaced by a newer draft",
};
const TAGS = [
  ["empathetic", "Empathetic"], ["accurate", "Accurate"], ["clear", "Clear"], ["ready_to_send", "Ready to send"],
  ["inaccurate", "Inaccurate"], ["unsafe", "Unsafe"], ["missed_urgency", "Missed urgency"], ["tone", "Tone"],
  ["too_long", "Too long"], ["too_complex", "Too complex"], ["made_promise", "Made a promise"],
];

const state = { items: [], current: null, editing: false, edited: null, rating: null, follow: null, tips: 0 };

// -- sign in / out ---------------------------------------------------------------------------------------

function showLogin(message = "") {
  $("inbox-view").hidden = true;
  $("session").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = message;
  $("token").value = "";
  $("token").focus();
}

function signOut(message = "") {
  stopFollowing();
  sessionStorage.removeItem(TOKEN_KEY);
  state.items = [];
  state.current = null;
  showLogin(message);
}

async function whoAmI() {
  try {
    const me = await json("/v1/me");
    return me.name ? `${me.name} (${me.role})` : "";
  } catch (error) {
    if (error.status === 401) throw error;
    return "";  // an older server without /v1/me: the list call below still checks the token
  }
}

async function startSession() {
  const who = await whoAmI();
  await loadList();
  $("login-view").hidden = true;
  $("inbox-view").hidden = false;
  $("session").hidden = false;
  $("whoami").textContent = who ? `Signed in as ${who}` : "Signed in";
}

// -- the list --------------------------------------------------------------------------------------------

function currentFilter() {
  return document.querySelector('input[name="filter"]:checked').value;
}

async function loadList({ keepFocus = false } = {}) {
  const params = new URLSearchParams({ limit: "200" });
  for (const status of FILTERS[currentFilter()]) params.append("status", status);
  const focusedId = keepFocus ? document.activeElement?.dataset?.draftId : undefined;
  const page = await json(`/v1/drafts?${params}`);
  state.items = page.items;
  renderList();
  if (focusedId) document.querySelector(`[data-draft-id="${CSS.escape(focusedId)}"]`)?.focus();
}

function snippet(draft) {
  const text = draft.message.subject || draft.message.text;
  return text.length > 90 ? `${text.slice(0, 90)}…` : text;
}

function when(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function renderList() {
  const list = $("message-list");
  list.replaceChildren(...state.items.map((draft) => {
    const selected = state.current && state.current.id === draft.id;
    const button = h("button", { type: "button", "data-draft-id": draft.id, "aria-current": selected ? "true" : false },
      h("span", { class: "line" },
        h("span", { class: `badge ${draft.urgency}` }, URGENCY[draft.urgency]),
        h("time", { class: "when", datetime: draft.message.received_at }, when(draft.message.received_at))),
      h("span", { class: "snippet" }, snippet(draft)),
      h("span", { class: "status" }, STATUS[draft.status] || draft.status));
    button.addEventListener("click", () => openDraft(draft.id, { focus: true }));
    return h("li", {}, button);
  }));
  const n = state.items.length;
  $("list-summary").textContent = n ? `${n} message${n === 1 ? "" : "s"}` : "No messages here.";
}

// -- one message and its draft ---------------------------------------------------------------------------

function explain(finding) {
  const parts = [`${SEVERITY[finding.severity]}: ${finding.message}`];
  if (finding.suggestion) parts.push(`Suggestion: ${finding.suggestion}`);
  return parts.join(" ");
}

const RANK = { block: 0, warn: 1, info: 2 };

/** Text with each finding's span wrapped in a focusable <mark> whose explanation shows on hover and focus. */
function renderHighlighted(container, text, findings) {
  container.replaceChildren();
  const spans = findings.filter((f) => f.span && f.span[0] >= 0 && f.span[1] > f.span[0] && f.span[1] <= text.length);
  const cuts = new Set([0, text.length]);
  for (const f of spans) { cuts.add(f.span[0]); cuts.add(f.span[1]); }
  const points = [...cuts].sort((a, b) => a - b);
  for (let i = 0; i < points.length - 1; i += 1) {
    const [start, end] = [points[i], points[i + 1]];
    const piece = text.slice(start, end);
    const covering = spans.filter((f) => f.span[0] <= start && f.span[1] >= end);
    if (!covering.length) {
      container.append(piece);
      continue;
    }
    covering.sort((a, b) => RANK[a.severity] - RANK[b.severity]);
    state.tips += 1;
    const tipId = `tip-${state.tips}`;
    const mark = h("mark", {
      class: covering[0].severity, tabindex: "0", "aria-describedby": tipId,
      "data-check": covering.map((f) => f.check).join(" "),
    }, piece, h("span", { class: "tip", role: "tooltip", id: tipId }, covering.map(explain).join(" ")));
    container.append(mark);
  }
}

function renderFindings(draft) {
  const list = $("findings");
  const findings = draft.findings;
  if (!findings.length) {
    list.replaceChildren(h("li", {}, WAITING.has(draft.status) ? "Checks run when the draft is written." : "None."));
    return;
  }
  const ordered = [...findings].sort((a, b) => RANK[a.severity] - RANK[b.severity]);
  list.replaceChildren(...ordered.map((f) => h("li", {},
    h("span", { class: `sev ${f.severity}` }, `${SEVERITY[f.severity]}:`),
    f.message,
    f.span ? h("span", { class: "help" }, ` (highlighted in the ${f.target === "message" ? "patient's message" : "draft"})`) : null,
    f.suggestion ? h("span", { class: "suggestion" }, `Suggestion: ${f.suggestion}`) : null)));
}

function draftStateText(draft) {
  if (draft.status === "failed" && draft.error) return `${STATUS.failed}: ${draft.error.message} Regenerate to try again.`;
  if (draft.review) {
    const by = `${STATUS[draft.status]} by ${draft.review.reviewer}`;
    return draft.review.reason ? `${by}: ${draft.review.reason}` : `${by}.`;
  }
  return STATUS[draft.status] || draft.status;
}

function renderDraft(draft) {
  const textBox = $("draft-text");
  const stateLine = $("draft-state");
  stateLine.textContent = draftStateText(draft);
  stateLine.classList.toggle("writing", WAITING.has(draft.status));
  textBox.setAttribute("aria-busy", WAITING.has(draft.status) ? "true" : "false");
  const shown = draft.review && draft.review.final_text ? draft.review.final_text : draft.text;
  if (shown && !(draft.review && draft.review.edited)) {
    renderHighlighted(textBox, shown, draft.findings.filter((f) => f.target === "draft"));
  } else {
    textBox.replaceChildren(shown || "");
  }
  const reviewable = REVIEWABLE.has(draft.status);
  const blocks = draft.findings.filter((f) => f.severity === "block");
  $("edit").disabled = !reviewable;
  $("approve").disabled = !reviewable;
  $("reject").disabled = !reviewable;
  $("reject-reason").disabled = !reviewable;
  $("regenerate").disabled = draft.status === "approved" || draft.status === "superseded";
  $("ack-row").hidden = !(reviewable && blocks.length);
  $("approve").textContent = blocks.length && reviewable ? "Approve with acknowledgement" : "Approve";
  const decision = $("decision");
  decision.className = `decision ${draft.status}`;
  decision.textContent = draft.review ? draftStateText(draft) : "";
}

function renderDetail(draft) {
  state.current = draft;
  state.tips = 0;
  $("detail-empty").hidden = true;
  $("detail").hidden = false;
  $("detail-title").textContent = `${URGENCY[draft.urgency]} message, received ${when(draft.message.received_at)}`;
  $("detail-meta").textContent = `Status: ${STATUS[draft.status] || draft.status}.`;
  $("message-subject").textContent = draft.message.subject || "";
  renderHighlighted($("message-text"), draft.message.text, draft.findings.filter((f) => f.target === "message"));
  stopEditing({ keep: false });
  renderDraft(draft);
  renderFindings(draft);
  resetFeedback();
  for (const button of document.querySelectorAll("#message-list button")) {
    button.setAttribute("aria-current", button.dataset.draftId === draft.id ? "true" : "false");
  }
}

async function openDraft(id, { focus = false } = {}) {
  stopFollowing();
  const draft = await json(`/v1/drafts/${encodeURIComponent(id)}`);
  $("ack").checked = false;
  $("reject-reason").value = "";
  renderDetail(draft);
  if (focus) $("detail-title").focus();
  if (WAITING.has(draft.status)) followDraft(draft.id);
}

function replaceItem(draft) {
  const i = state.items.findIndex((d) => d.id === draft.id);
  if (i >= 0) state.items[i] = draft;
  renderList();
}

// -- following a draft that is being written (server-sent events over fetch, so the bearer header goes along) --

function stopFollowing() {
  if (state.follow) state.follow.abort();
  state.follow = null;
}

function parseEvent(chunk) {
  let event = "message";
  const data = [];
  for (const line of chunk.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  return { event, data: data.length ? JSON.parse(data.join("\n")) : null };
}

async function followDraft(id) {
  const control = new AbortController();
  state.follow = control;
  let text = "";
  try {
    const response = await api(`/v1/drafts/${encodeURIComponent(id)}/events`,
      { signal: control.signal, accept: "text/event-stream" });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const { event, data } = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (state.current?.id !== id) return;
        if (event === "text") text = data.text;
        else if (event === "token") text += data.text;
        else if (event === "status") $("draft-state").textContent = STATUS[data.status] || data.status;
        else if (event === "draft") {
          renderDraft(data);
          state.current = data;
          renderFindings(data);
          $("detail-meta").textContent = `Status: ${STATUS[data.status] || data.status}.`;
          renderHighlighted($("message-text"), data.message.text, data.findings.filter((f) => f.target === "message"));
          replaceItem(data);
          announce(`The draft is ready: ${STATUS[data.status] || data.status}.`);
          return;
        } else if (event === "timeout") {
          window.setTimeout(() => { if (state.current?.id === id) followDraft(id); }, 1000);
          return;
        }
        if (event === "text" || event === "token") $("draft-text").textContent = text;
      }
    }
  } catch (error) {
    if (error.name !== "AbortError") announce(`Could not follow the draft: ${error.message}`);
  } finally {
    if (state.follow === control) state.follow = null;
  }
}

// -- editing and decisions -------------------------------------------------------------------------------

function startEditing() {
  const draft = state.current;
  if (!draft || !REVIEWABLE.has(draft.status)) return;
  const editor = $("draft-editor");
  if (!state.editing) editor.value = state.edited ?? draft.text ?? "";
  state.editing = true;
  $("draft-text").hidden = true;
  for (const id of ["draft-editor", "draft-editor-label", "editor-help"]) $(id).hidden = false;
  $("edit").textContent = "Done editing";
  editor.focus();
}

function stopEditing({ keep = true } = {}) {
  if (state.editing && keep) {
    const value = $("draft-editor").value;
    state.edited = value !== (state.current?.text ?? "") ? value : null;
    if (state.edited !== null) {
      $("draft-text").replaceChildren(state.edited);
      announce("Your edits are kept; approving sends the edited reply.");
    }
  }
  if (!keep) state.edited = null;
  state.editing = false;
  $("draft-text").hidden = false;
  for (const id of ["draft-editor", "draft-editor-label", "editor-help"]) $(id).hidden = true;
  $("edit").textContent = "Edit";
}

async function decide(body) {
  const draft = state.current;
  try {
    const updated = await json(`/v1/drafts/${encodeURIComponent(draft.id)}/review`, { method: "POST", body });
    state.edited = null;
    stopEditing({ keep: false });
    renderDraft(updated);
    state.current = updated;
    $("detail-meta").textContent = `Status: ${STATUS[updated.status] || updated.status}.`;
    replaceItem(updated);
    $("decision").focus();
    announce(updated.status === "approved" ? "Approved. The portal can now send the reply." : "Rejected.");
  } catch (error) {
    $("decision").className = "decision error";
    $("decision").textContent = error.message;
    $("decision").focus();
  }
}

async function approve() {
  const draft = state.current;
  if (!draft || !REVIEWABLE.has(draft.status)) return;
  if (state.editing) stopEditing();
  const blocks = draft.findings.some((f) => f.severity === "block");
  if (blocks && !$("ack").checked) {
    $("decision").className = "decision error";
    $("decision").textContent = "This draft has blocking findings: tick the acknowledgement to approve it.";
    $("ack").focus();
    return;
  }
  const body = { decision: "approve", acknowledge_block_findings: blocks && $("ack").checked };
  if (state.edited !== null) body.final_text = state.edited;
  await decide(body);
}

async function reject(event) {
  event?.preventDefault();
  const draft = state.current;
  if (!draft || !REVIEWABLE.has(draft.status)) return;
  const reason = $("reject-reason").value.trim();
  if (!reason) {
    $("decision").className = "decision error";
    $("decision").textContent = "Give a reason to reject the draft.";
    $("reject-reason").focus();
    return;
  }
  await decide({ decision: "reject", reason });
}

async function regenerate() {
  const draft = state.current;
  if (!draft || $("regenerate").disabled) return;
  stopEditing({ keep: false });
  $("draft-state").textContent = STATUS.generating;
  $("draft-text").setAttribute("aria-busy", "true");
  announce("Regenerating the draft.");
  try {
    const fresh = await json(`/v1/drafts/${encodeURIComponent(draft.id)}/regenerate`, { method: "POST" });
    await loadList();
    await openDraft(fresh.id);
    announce(`New draft: ${STATUS[fresh.status] || fresh.status}.`);
  } catch (error) {
    $("draft-state").textContent = error.message;
    const details = error.status >= 500 ? " The message is kept; try again." : "";
    announce(`${error.message}${details}`);
    await loadList();
  }
}

// -- quick feedback --------------------------------------------------------------------------------------

function resetFeedback() {
  state.rating = null;
  $("thumbs-up").setAttribute("aria-pressed", "false");
  $("thumbs-down").setAttribute("aria-pressed", "false");
  for (const box of document.querySelectorAll("#feedback-tags input")) box.checked = false;
  $("feedback-sent").textContent = "";
}

function rate(rating) {
  state.rating = state.rating === rating ? null : rating;
  $("thumbs-up").setAttribute("aria-pressed", String(state.rating === "up"));
  $("thumbs-down").setAttribute("aria-pressed", String(state.rating === "down"));
}

async function sendFeedback(event) {
  event.preventDefault();
  if (!state.current) return;
  if (!state.rating) {
    $("feedback-sent").textContent = "Choose Helpful or Not helpful first.";
    $("thumbs-up").focus();
    return;
  }
  const tags = [...document.querySelectorAll("#feedback-tags input:checked")].map((box) => box.value);
  try {
    await api(`/v1/drafts/${encodeURIComponent(state.current.id)}/feedback`,
      { method: "POST", body: { rating: state.rating, tags } });
    $("feedback-sent").textContent = "Thank you: feedback saved.";
    announce("Feedback saved.");
  } catch (error) {
    $("feedback-sent").textContent = error.message;
  }
}

// -- keyboard --------------------------------------------------------------------------------------------

const NOT_TYPING = new Set(["checkbox", "radio", "button", "submit", "reset"]);

function typing(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.tagName === "INPUT") return !NOT_TYPING.has(target.type);
  return target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT";
}

function step(delta) {
  if (!state.items.length) return;
  const i = state.items.findIndex((d) => d.id === state.current?.id);
  const next = i < 0 ? (delta > 0 ? 0 : state.items.length - 1) : Math.min(Math.max(i + delta, 0), state.items.length - 1);
  openDraft(state.items[next].id).then(() => {
    document.querySelector(`[data-draft-id="${CSS.escape(state.items[next].id)}"]`)?.focus();
  });
}

function nextMark() {
  const marks = [...document.querySelectorAll("#detail mark")];
  if (!marks.length) return;
  const i = marks.indexOf(document.activeElement);
  marks[(i + 1) % marks.length].focus();
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || $("inbox-view").hidden) return;
  if (event.key === "Escape" && state.editing) {
    stopEditing();
    $("edit").focus();
    return;
  }
  if (typing(event.target) || $("help").open) return;
  if (localStorage.getItem(SHORTCUTS_KEY) === "off" && event.key !== "?") return;
  const actions = {
    j: () => step(1), k: () => step(-1), e: startEditing, a: approve, g: regenerate, n: nextMark,
    r: () => { if (!$("reject-reason").disabled) $("reject-reason").focus(); },
    "?": () => $("help").showModal(),
  };
  const action = actions[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
}

// -- wiring ----------------------------------------------------------------------------------------------

function init() {
  onUnauthorized(signOut);
  $("feedback-tags").replaceChildren(...TAGS.map(([value, label]) => h("label", {},
    h("input", { type: "checkbox", value }), ` ${label}`)));
  bindSignIn({
    start: startSession,
    showLogin,
    focus: () => { $("message-list").querySelector("button")?.focus(); },
  });
  $("logout").addEventListener("click", () => signOut("Signed out."));
  for (const radio of document.querySelectorAll('input[name="filter"]')) {
    radio.addEventListener("change", () => loadList().catch((error) => announce(error.message)));
  }
  $("edit").addEventListener("click", () => (state.editing ? stopEditing() : startEditing()));
  $("approve").addEventListener("click", approve);
  $("reject-form").addEventListener("submit", reject);
  $("regenerate").addEventListener("click", regenerate);
  $("thumbs-up").addEventListener("click", () => rate("up"));
  $("thumbs-down").addEventListener("click", () => rate("down"));
  $("feedback-form").addEventListener("submit", sendFeedback);
  $("help-open").addEventListener("click", () => $("help").showModal());
  $("shortcuts-on").checked = localStorage.getItem(SHORTCUTS_KEY) !== "off";
  $("shortcuts-on").addEventListener("change", (event) => {
    localStorage.setItem(SHORTCUTS_KEY, event.target.checked ? "on" : "off");
  });
  document.addEventListener("keydown", onKey);
  window.setInterval(() => {
    if (!$("inbox-view").hidden && document.visibilityState === "visible") {
      loadList({ keepFocus: true }).catch(() => { /* shown on the next action */ });
    }
  }, 30000);
  if (sessionStorage.getItem(TOKEN_KEY)) {
    startSession().catch((error) => { if (error.status !== 401) showLogin(error.message); });
  } else {
    showLogin();
  }
}

init();
