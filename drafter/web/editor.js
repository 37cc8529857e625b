// drafter template editor (admins). Plain ES module, no build step, served by the app (CSP: scripts from 'self').
// Safety rule: template files, sample patient messages and model output reach the page only as text
// (textContent / value / text nodes), never as HTML. The token lives in sessionStorage (see common.js).

import { $, TOKEN_KEY, bindSignIn, announce, api, h, json, onUnauthorized } from "./common.js";

const PREVIEW_DELAY_MS = 400;  // live preview: wait for a pause in typing
const STATUS = { draft: "Draft", published: "Published", archived: "Archived" };
const GATE = { passed: "Passed", regressed: "Regressed", unavailable: "Unavailable", error: "Error" };
const SEVERITY = { block: "Blocking", warn: "Warning", info: "Note" };

const state = {
  sets: [], set: null, versions: [], labels: {}, version: null,
  file: null, edits: {}, issues: [], stale: new Set(), previewTimer: 0, previewSeq: 0, samples: [],
};

const enc = encodeURIComponent;
const setPath = () => `/v1/templates/${enc(state.set)}`;
const versionPath = (n = state.version.version) => `${setPath()}/versions/${n}`;

// -- sign in / out ---------------------------------------------------------------------------------------

function showOnly(view) {
  for (const id of ["login-view", "forbidden-view", "editor-view"]) $(id).hidden = id !== view;
}

function showLogin(message = "") {
  showOnly("login-view");
  $("session").hidden = true;
  $("login-error").textContent = message;
  $("token").value = "";
  $("token").focus();
}

function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  Object.assign(state, { sets: [], set: null, versions: [], version: null, edits: {}, issues: [] });
  showLogin(message);
}

function showForbidden(who) {
  showOnly("forbidden-view");
  $("session").hidden = false;
  $("whoami").textContent = `Signed in as ${who.name} (${who.role})`;
  $("forbidden-text").textContent = `You are signed in as ${who.name}, whose role is ${who.role}. Editing templates ` +
    "needs the admin role.";
  $("forbidden-title").focus();
}

async function startSession() {
  const me = await json("/v1/me");
  if (me.role !== "admin") {
    showForbidden(me);
    return;
  }
  state.samples = await json("/v1/template-samples");
  $("sample").replaceChildren(...state.samples.map((s) => h("option", { value: s.id }, `${s.title} (${s.id})`)));
  await loadSets();
  showOnly("editor-view");
  $("session").hidden = false;
  $("whoami").textContent = `Signed in as ${me.name} (${me.role})`;
  if (state.sets.length) await openSet(state.sets[0].name);
}

// -- sets and versions -----------------------------------------------------------------------------------

async function loadSets() {
  state.sets = (await json("/v1/templates")).items;
  $("set-list").replaceChildren(...state.sets.map((s) => {
    const button = h("button", { type: "button", "data-set": s.name, "aria-current": s.name === state.set ? "true" : false },
      h("span", { class: "name" }, s.name), h("span", { class: "help" }, ` ${s.versions} version${s.versions === 1 ? "" : "s"}`));
    button.addEventListener("click", () => openSet(s.name).catch(report));
    return h("li", {}, button);
  }));
}

async function openSet(name) {
  state.set = name;
  for (const b of document.querySelectorAll("#set-list button")) {
    b.setAttribute("aria-current", b.dataset.set === name ? "true" : "false");
  }
  await loadVersions();
  const production = state.labels.production;
  await openVersion(production ?? state.versions[0]?.version);
}

function labelBadges(labels) {
  return labels.map((label) => h("span", { class: `label ${label === "production" ? "production" : ""}` }, label));
}

async function loadVersions() {
  const list = await json(`${setPath()}/versions`);
  state.versions = list.items;
  state.labels = list.labels;
  const summary = Object.entries(list.labels).map(([label, n]) => `${label} → version ${n}`).join(", ");
  $("labels-summary").textContent = summary ? `Labels: ${summary}.` : "No labels yet.";
  renderVersionList();
  const options = () => state.versions.map((v) => h("option", { value: v.version },
    `${v.version}${v.labels.length ? ` (${v.labels.join(", ")})` : ""}`));
  const [from, to] = [$("diff-from").value, $("diff-to").value];
  $("diff-from").replaceChildren(...options());
  $("diff-to").replaceChildren(...options());
  if (from) $("diff-from").value = from;
  if (to) $("diff-to").value = to;
}

function renderVersionList() {
  $("version-list").replaceChildren(...state.versions.map((v) => {
    const open = state.version && state.version.version === v.version;
    const gate = v.gate_status ? ` · gate ${GATE[v.gate_status] || v.gate_status}` : "";
    const button = h("button", { type: "button", "data-version": v.version, "aria-current": open ? "true" : false },
      h("span", { class: "line" }, h("span", { class: "name" }, `Version ${v.version}`), ...labelBadges(v.labels)),
      h("span", { class: "status" }, `${STATUS[v.status] || v.status} · ${v.author}${gate}`),
      h("span", { class: "snippet" }, v.message));
    button.addEventListener("click", () => openVersion(v.version, { focus: true }).catch(report));
    return h("li", {}, button);
  }));
}

async function openVersion(number, { focus = false } = {}) {
  if (number === undefined) return;
  const version = await json(versionPath(number));
  state.version = version;
  state.edits = {};
  state.stale = new Set();
  state.issues = version.validation ? issuesOf(version.validation) : [];
  $("version-empty").hidden = true;
  $("work").hidden = false;
  $("version-title").textContent = `${version.set} version ${version.version}`;
  renderMeta();
  renderVersionList();
  renderValidation(version.validation, { stored: true });
  renderTabs();
  openFile(Object.keys(version.files).includes("system.j2") ? "system.j2" : Object.keys(version.files)[0]);
  $("save-message").value = "";
  for (const id of ["save-result", "publish-result", "rollback-result"]) $(id).textContent = "";
  $("override-reason").value = "";
  $("rollback-reason").value = "";
  renderGate(version.gate);
  $("diff-from").value = String(version.based_on ?? state.labels.production ?? version.version);
  $("diff-to").value = String(version.version);
  $("diff-out").replaceChildren();
  $("diff-summary").textContent = "";
  schedulePreview(0);
  loadOutcomes().catch(report);
  if (focus) $("version-title").focus();
}

function renderMeta() {
  const v = state.version;
  const parts = [`${STATUS[v.status] || v.status}`, `by ${v.author}`, `on ${when(v.created_at)}`];
  if (v.based_on) parts.push(`based on version ${v.based_on}`);
  if (v.labels.length) parts.push(`labels: ${v.labels.join(", ")}`);
  $("version-meta").replaceChildren(`${parts.join(" · ")}. `, h("q", {}, v.message));
}

function when(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// -- files: tabs and the editor with its line-number gutter ----------------------------------------------

const fileText = (name) => state.edits[name] ?? state.version.files[name];
const changedFiles = () => Object.fromEntries(Object.entries(state.edits)
  .filter(([name, text]) => text !== state.version.files[name]));

function renderTabs() {
  const names = Object.keys(state.version.files).sort();
  const changed = changedFiles();
  $("file-tabs").replaceChildren(...names.map((name) => {
    const selected = name === state.file;
    const errors = state.issues.filter((i) => i.template === name).length;
    const tab = h("button", {
      type: "button", role: "tab", id: `tab-${name}`, "data-file": name, "aria-controls": "file-panel",
      "aria-selected": selected ? "true" : "false", tabindex: selected ? "0" : "-1",
    }, name, name in changed ? h("span", { class: "dirty" }, " (edited)") : null,
    errors ? h("span", { class: "tab-errors" }, ` (${errors} problem${errors === 1 ? "" : "s"})`) : null);
    tab.addEventListener("click", () => openFile(name));
    tab.addEventListener("keydown", onTabKey);
    return tab;
  }));
}

function onTabKey(event) {
  const tabs = [...document.querySelectorAll("#file-tabs [role=tab]")];
  const i = tabs.indexOf(event.currentTarget);
  const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 };
  if (!(event.key in moves)) return;
  event.preventDefault();
  const next = tabs[(moves[event.key] + tabs.length) % tabs.length];
  openFile(next.dataset.file);
  $(`tab-${next.dataset.file}`).focus();
}

function openFile(name) {
  state.file = name;
  renderTabs();
  $("file-panel").setAttribute("aria-labelledby", `tab-${name}`);
  $("code-label").textContent = `Contents of ${name}`;
  const code = $("code");
  code.value = fileText(name);
  code.scrollTop = 0;
  code.scrollLeft = 0;
  renderGutter();
  renderMarks();
}

function renderGutter() {
  const count = $("code").value.split("\n").length;
  const lines = $("gutter-lines");
  const marked = new Set(state.stale.has(state.file) ? [] : fileIssues().map((i) => i.line));
  if (lines.childElementCount !== count || lines.dataset.marked !== [...marked].join()) {
    const rows = [];
    for (let n = 1; n <= count; n += 1) rows.push(h("div", { class: marked.has(n) ? "error" : false }, String(n)));
    lines.replaceChildren(...rows);
    lines.dataset.marked = [...marked].join();
  }
  syncScroll();
}

function syncScroll() {
  const code = $("code");
  $("gutter-lines").style.transform = `translateY(${-code.scrollTop}px)`;
  $("marks").style.transform = `translate(${-code.scrollLeft}px, ${-code.scrollTop}px)`;
}

const fileIssues = () => state.issues.filter((i) => i.template === state.file && i.line);

/** Each issue of the open file drawn at its line (a band) and column (a caret), with its message below. */
function renderMarks() {
  const marks = $("marks");
  if (state.stale.has(state.file)) {
    marks.replaceChildren();
    $("code-issue").textContent = fileIssues().length ? "Edited since the last validation: press Validate again." : "";
    return;
  }
  const issues = fileIssues();
  marks.replaceChildren(...issues.map((issue) => {
    const line = h("div", { class: `mark-line ${issue.severity}`, "data-line": issue.line });
    line.style.setProperty("--line", String(issue.line - 1));
    const caret = h("div", { class: "mark-caret" });
    caret.style.setProperty("--column", String(Math.max((issue.column ?? 1) - 1, 0)));
    const note = h("div", { class: "mark-note" }, `${where(issue)}: ${issue.message}`);
    note.style.setProperty("--column", String(Math.max((issue.column ?? 1) - 1, 0)));
    line.append(caret, note);
    return line;
  }));
  $("code-issue").textContent = issues.length
    ? `${issues.length} problem${issues.length === 1 ? "" : "s"} in ${state.file}: ${issues.map((i) => `${where(i)}: ${i.message}`).join("; ")}`
    : "";
}

function where(issue) {
  return issue.column ? `Line ${issue.line}, column ${issue.column}` : `Line ${issue.line}`;
}

function onEdit() {
  const name = state.file;
  state.edits[name] = $("code").value;
  if (fileIssues().length) state.stale.add(name);
  renderGutter();
  renderMarks();
  renderTabs();
  schedulePreview();
}

/** Moves the caret to a line and column of a file and puts the focus in the editor. */
function goTo(file, line, column) {
  if (file !== state.file) openFile(file);
  const code = $("code");
  const lines = code.value.split("\n");
  let offset = 0;
  for (let n = 0; n < Math.min(line - 1, lines.length); n += 1) offset += lines[n].length + 1;
  offset += Math.min(Math.max((column ?? 1) - 1, 0), (lines[line - 1] ?? "").length);
  code.focus();
  code.setSelectionRange(offset, offset);
  const lineHeight = parseFloat(getComputedStyle(code).lineHeight);
  code.scrollTop = Math.max(0, (line - 3) * lineHeight);
  syncScroll();
}

// -- validation ------------------------------------------------------------------------------------------

function issuesOf(report) {
  const fromRenders = (report.renders || []).filter((r) => r.issue).map((r) => r.issue);
  return [...report.issues, ...fromRenders];
}

function renderValidation(report, { stored = false } = {}) {
  const summary = $("validation-summary");
  const list = $("issues");
  if (!report) {
    summary.textContent = "Not validated yet.";
    list.replaceChildren();
    return;
  }
  state.issues = issuesOf(report);
  const renders = report.renders || [];
  const rendered = renders.length ? ` ${renders.filter((r) => r.ok).length} of ${renders.length} sample renders ok.` : "";
  const errors = state.issues.filter((i) => i.severity === "error").length;
  const warnings = state.issues.length - errors;
  const verdict = report.ok ? "Valid." : `${errors} error${errors === 1 ? "" : "s"}.`;
  const warned = warnings ? ` ${warnings} warning${warnings === 1 ? "" : "s"}.` : "";
  summary.textContent = `${stored ? "Stored validation: " : ""}${verdict}${warned}${rendered}`;
  summary.className = report.ok ? "ok" : "error";
  list.replaceChildren(...state.issues.map((issue) => {
    const place = issue.template ? `${issue.template}${issue.line ? `, ${where(issue).toLowerCase()}` : ""}` : "the set";
    const text = [h("span", { class: `sev ${issue.severity}` }, issue.severity === "error" ? "Error:" : "Warning:"),
      ` ${place}: ${issue.message}`];
    if (issue.template && issue.line && issue.template in state.version.files) {
      const button = h("button", { type: "button", class: "link" }, ...text);
      button.addEventListener("click", () => goTo(issue.template, issue.line, issue.column));
      return h("li", {}, button);
    }
    return h("li", {}, ...text);
  }));
}

async function validate() {
  $("validation-summary").className = "help";
  $("validation-summary").textContent = "Validating…";
  const report = await json(`${setPath()}/validate`,
    { method: "POST", body: { based_on: state.version.version, changes: changedFiles() } });
  state.stale = new Set();
  renderValidation(report);
  renderTabs();
  renderGutter();
  renderMarks();
  announce(report.ok ? "Valid." : $("validation-summary").textContent);
}

// -- save ------------------------------------------------------------------------------------------------

async function save(event) {
  event.preventDefault();
  const result = $("save-result");
  result.className = "result error";
  const changes = changedFiles();
  const message = $("save-message").value.trim();
  if (!Object.keys(changes).length) {
    result.textContent = "Nothing is edited: change a file first.";
    result.focus();
    return;
  }
  if (!message) {
    result.textContent = "Say what changed and why: the message is kept with the version.";
    $("save-message").focus();
    return;
  }
  const based = state.version.version;
  try {
    const created = await json(`${setPath()}/versions`,
      { method: "POST", body: { based_on: based, changes, message } });
    const number = created.version.version;
    await loadSets();
    await loadVersions();
    await openVersion(number);
    renderValidation(created.validation);
    $("save-result").className = "result ok";
    $("save-result").textContent = `Saved as draft version ${number}.`;
    $("save-result").focus();
    announce(`Saved as draft version ${number}.`);
    await showDiff(based, number);
  } catch (error) {
    if (error.code === "template_invalid" && error.details) {
      state.stale = new Set();
      renderValidation(error.details);
      renderTabs();
      renderGutter();
      renderMarks();
    }
    result.textContent = error.message;
    result.focus();
  }
}

// -- live preview ----------------------------------------------------------------------------------------

function schedulePreview(delay = PREVIEW_DELAY_MS) {
  window.clearTimeout(state.previewTimer);
  state.previewTimer = window.setTimeout(() => preview().catch(report), delay);
}

async function preview() {
  if (!state.version || !$("sample").value) return;
  const seq = ++state.previewSeq;  // answers that arrive after a newer request are dropped
  const fullDraft = $("full-draft").checked;
  const sampleInfo = state.samples.find((s) => s.id === $("sample").value);
  $("sample-text").textContent = sampleInfo ? `Sample: ${sampleInfo.title} (${sampleInfo.source})` : "";
  $("preview-state").textContent = fullDraft ? "Rendering and drafting…" : "Rendering…";
  $("preview-out").setAttribute("aria-busy", "true");
  const body = { based_on: state.version.version, changes: changedFiles(), sample_id: $("sample").value,
    mode: $("mode").value, full_draft: fullDraft };
  let result;
  try {
    result = await json(`${setPath()}/preview`, { method: "POST", body });
  } finally {
    if (seq === state.previewSeq) $("preview-out").setAttribute("aria-busy", "false");
  }
  if (seq !== state.previewSeq) return;
  renderPreview(result);
}

/** Rendered text in a scroll box that keyboard users can reach (focusable, named region). */
function scrollable(name, text) {
  return h("pre", { class: "rendered-text", tabindex: "0", role: "region", "aria-label": name }, text);
}

function renderPreview(result) {
  const out = $("preview-out");
  const edited = Object.keys(changedFiles()).length ? "with your unsaved edits" : "as saved";
  if (result.error) {
    $("preview-state").textContent = `The ${edited} files do not render: ${result.error}`;
    $("preview-state").className = "error";
    out.replaceChildren();
    $("preview-draft").replaceChildren();
    return;
  }
  $("preview-state").className = "help";
  $("preview-state").textContent = `Exactly what the model receives (${result.mode}), ${edited}.`;
  const request = result.request || {};
  const blocks = (request.messages || []).map((m) => h("div", { class: "message" },
    h("h4", {}, `Message: ${m.role}`), scrollable(`Rendered ${m.role} message`, m.content)));
  if (request.prompt) blocks.push(h("div", { class: "message" }, h("h4", {}, "Prompt"), scrollable("Rendered prompt", request.prompt)));
  out.replaceChildren(...blocks);
  const draft = result.draft;
  if (!draft) {
    $("preview-draft").replaceChildren();
    return;
  }
  $("preview-draft").replaceChildren(
    h("h4", {}, `Draft (${draft.status}, ${draft.urgency}, model ${draft.model})`),
    scrollable("Draft text", draft.text || ""),
    h("h4", {}, "Findings"),
    h("ul", { class: "findings" }, ...(draft.findings.length ? draft.findings.map((f) => h("li", {},
      h("span", { class: `sev ${f.severity}` }, `${SEVERITY[f.severity] || f.severity}:`), ` ${f.check}: ${f.message}`))
      : [h("li", {}, "None.")])));
}

// -- side-by-side diff -----------------------------------------------------------------------------------

/** Rows [oldNo, oldText, newNo, newText, kind] from a unified diff; removed and added runs are paired. */
function sideBySide(unified) {
  const rows = [];
  let [a, b] = [0, 0];
  let removed = [];
  let added = [];
  const flush = () => {
    for (let i = 0; i < Math.max(removed.length, added.length); i += 1) {
      const [l, r] = [removed[i], added[i]];
      rows.push({ left: l, right: r, kind: l && r ? "changed" : l ? "removed" : "added" });
    }
    removed = [];
    added = [];
  };
  for (const line of unified.split("\n")) {
    if (line.startsWith("---") || line.startsWith("+++") || line.startsWith("\\")) continue;
    const hunk = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
    if (hunk) {
      flush();
      [a, b] = [Number(hunk[1]), Number(hunk[2])];
      rows.push({ kind: "hunk", text: line });
    } else if (line.startsWith("-")) {
      removed.push({ n: a, text: line.slice(1) });
      a += 1;
    } else if (line.startsWith("+")) {
      added.push({ n: b, text: line.slice(1) });
      b += 1;
    } else if (line.startsWith(" ")) {
      flush();
      rows.push({ left: { n: a, text: line.slice(1) }, right: { n: b, text: line.slice(1) }, kind: "same" });
      a += 1;
      b += 1;
    }
  }
  flush();
  return rows;
}

function diffTable(name, unified, from, to) {
  const cell = (side, cls) => side
    ? [h("td", { class: `n ${cls}` }, String(side.n)), h("td", { class: `t ${cls}` }, side.text)]
    : [h("td", { class: "n empty" }), h("td", { class: "t empty" })];
  const body = sideBySide(unified).map((row) => {
    if (row.kind === "hunk") return h("tr", { class: "hunk" }, h("td", { colspan: "4" }, row.text));
    const left = row.kind === "same" ? "" : "del";
    const right = row.kind === "same" ? "" : "add";
    return h("tr", { class: row.kind }, ...cell(row.left, left), ...cell(row.right, right));
  });
  return h("table", { class: "diff" },
    h("caption", {}, name),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col", class: "n" }, "Line"), h("th", { scope: "col" }, `Version ${from}`),
      h("th", { scope: "col", class: "n" }, "Line"), h("th", { scope: "col" }, `Version ${to}`))),
    h("tbody", {}, ...body));
}

async function showDiff(from = Number($("diff-from").value), to = Number($("diff-to").value)) {
  $("diff-from").value = String(from);
  $("diff-to").value = String(to);
  const diff = await json(`${setPath()}/diff?${new URLSearchParams({ from: String(from), to: String(to) })}`);
  const names = Object.keys(diff.files);
  const extra = [diff.added.length ? `added: ${diff.added.join(", ")}` : "",
    diff.removed.length ? `removed: ${diff.removed.join(", ")}` : ""].filter(Boolean).join("; ");
  $("diff-summary").textContent = names.length
    ? `Version ${from} → ${to}: ${names.length} file${names.length === 1 ? "" : "s"} changed (${names.join(", ")})${extra ? `; ${extra}` : ""}. Removed lines are on the left, added lines on the right.`
    : `Versions ${from} and ${to} have the same files.`;
  $("diff-out").replaceChildren(...names.map((name) => diffTable(name, diff.files[name], from, to)));
}

// -- gate, publish, roll back ----------------------------------------------------------------------------

const num = (x) => (x === null || x === undefined ? "–" : Number.isInteger(x) ? String(x) : x.toFixed(3));

function renderGate(gate) {
  const out = $("gate-out");
  const blocked = gate && !gate.passed;
  $("override-row").hidden = !blocked;
  if (!gate) {
    out.replaceChildren(h("p", { class: "help" }, "The gate has not run on this version yet."));
    return;
  }
  const regressed = gate.metrics.filter((m) => m.regressed);
  const flipped = (gate.details?.flipped || []).filter((f) => f.direction === "pass→fail");
  out.replaceChildren(
    h("p", { class: `gate ${gate.status}` }, `Gate ${GATE[gate.status] || gate.status}`,
      h("span", { class: "help" }, ` (${gate.candidate} against ${gate.baseline || "nothing"}, ${gate.ran_at})`)),
    h("p", {}, gate.summary),
    regressed.length || flipped.length ? h("h4", {}, "Regressions") : null,
    regressed.length || flipped.length ? h("ul", { class: "regressions" },
      ...regressed.map((m) => h("li", {}, `${m.name}: ${num(m.baseline)} → ${num(m.candidate)}`)),
      ...flipped.map((f) => h("li", {}, `Case ${f.id} (${f.category}) now fails${f.now_failing?.length ? `: ${f.now_failing.join(", ")}` : ""}`)))
      : null,
    gate.metrics.length ? h("table", { class: "metrics" },
      h("caption", {}, "Metrics compared"),
      h("thead", {}, h("tr", {}, ...["Rule", "Production", "This version", "Regressed"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...gate.metrics.map((m) => h("tr", { class: m.regressed ? "bad" : "" },
        h("th", { scope: "row" }, m.name), h("td", {}, num(m.baseline)), h("td", {}, num(m.candidate)),
        h("td", {}, m.regressed ? "yes" : "no"))))) : null);
}

async function runGate() {
  const button = $("gate-run");
  button.disabled = true;
  $("gate-out").replaceChildren(h("p", { class: "help" }, "Running the eval gate on this version and on production…"));
  try {
    const gate = await json(`${versionPath()}/gate`, { method: "POST" });
    state.version.gate = gate;
    renderGate(gate);
    await loadVersions();
    announce(`Gate ${GATE[gate.status] || gate.status}.`);
  } finally {
    button.disabled = false;
  }
}

async function publish() {
  const result = $("publish-result");
  const reason = $("override-reason").value.trim();
  const number = state.version.version;
  $("publish").disabled = true;
  result.className = "result help";
  result.textContent = "Validating and running the gate…";
  try {
    const published = await json(`${versionPath()}/publish`,
      { method: "POST", body: reason && !$("override-row").hidden ? { override_reason: reason } : {} });
    await afterLabelMove();
    await openVersion(number);
    renderGate(published.gate);
    $("publish-result").className = "result ok";
    $("publish-result").textContent = `Published: production now points at version ${number}.`;
    $("publish-result").focus();
    announce(`Published version ${number}.`);
  } catch (error) {
    result.className = "result error";
    if (error.code === "gate_blocked" && error.details?.gate) {
      state.version.gate = error.details.gate;
      renderGate(error.details.gate);
      await loadVersions();
      result.textContent = `${error.message} Write the override reason above and press Publish again.`;
      $("override-reason").focus();
    } else {
      result.textContent = error.message;
      result.focus();
    }
  } finally {
    $("publish").disabled = false;
  }
}

async function rollback(event) {
  event.preventDefault();
  const result = $("rollback-result");
  const reason = $("rollback-reason").value.trim();
  result.className = "result error";
  if (!reason) {
    result.textContent = "Say why you roll back: the reason is audited.";
    $("rollback-reason").focus();
    return;
  }
  try {
    const label = await json(`${setPath()}/rollback`, { method: "POST", body: { reason } });
    const open = state.version.version;
    await afterLabelMove();
    await openVersion(open);
    $("rollback-result").className = "result ok";
    $("rollback-result").textContent = `Rolled back: production now points at version ${label.version}.`;
    $("rollback-result").focus();
    announce(`Rolled back to version ${label.version}.`);
  } catch (error) {
    result.textContent = error.message;
    result.focus();
  }
}

async function afterLabelMove() {
  await loadSets();
  await loadVersions();
}

// -- outcomes --------------------------------------------------------------------------------------------

const pct = (x) => (x === null || x === undefined ? "–" : `${(x * 100).toFixed(1)}%`);

async function loadOutcomes() {
  const number = state.version.version;
  const out = await json(`${versionPath(number)}/outcomes`);
  if (state.version?.version !== number) return;
  const figures = [
    ["Drafts written", out.drafts], ["Held for a clinician", out.held_for_clinician], ["Reviewed", out.reviewed],
    ["Approval rate", pct(out.approval_rate)], ["Approved unedited", pct(out.approved_unedited_rate)],
    ["Mean edit distance (characters)", num(out.mean_char_edit_distance)],
    ["Mean edit distance (words)", num(out.mean_word_edit_distance)],
    ["Median time to decision", out.median_seconds_to_decision === null ? "–" : `${out.median_seconds_to_decision} s`],
  ];
  $("outcomes").replaceChildren(...figures.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, String(value))]));
  $("rejection-reasons").replaceChildren(...(out.rejection_reasons.length
    ? out.rejection_reasons.map((r) => h("li", {}, `${r.reason} (${r.count})`)) : [h("li", { class: "help" }, "None.")]));
  $("feedback").replaceChildren(...(out.feedback.length
    ? out.feedback.map((text) => h("li", {}, text)) : [h("li", { class: "help" }, "None.")]));
}

// -- wiring ----------------------------------------------------------------------------------------------

function report(error) {
  announce(error.message);
  $("preview-state").textContent = error.message;
}

function guarded(action, target) {
  return (event) => Promise.resolve(action(event)).catch((error) => {
    $(target).className = "result error";
    $(target).textContent = error.message;
  });
}

function init() {
  onUnauthorized(signOut);
  bindSignIn({
    start: startSession,
    showLogin,
    focus: () => { if (!$("editor-view").hidden) $("version-title").focus(); },
  });
  $("logout").addEventListener("click", () => signOut("Signed out."));
  $("forbidden-logout").addEventListener("click", () => signOut());
  const code = $("code");
  code.addEventListener("input", onEdit);
  code.addEventListener("scroll", syncScroll);
  $("validate").addEventListener("click", guarded(validate, "validation-summary"));
  $("save-form").addEventListener("submit", save);
  for (const id of ["sample", "mode", "full-draft"]) $(id).addEventListener("change", () => schedulePreview(0));
  $("preview").addEventListener("click", () => schedulePreview(0));
  $("diff-show").addEventListener("click", guarded(() => showDiff(), "diff-summary"));
  $("gate-run").addEventListener("click", guarded(runGate, "gate-out"));
  $("publish").addEventListener("click", publish);
  $("rollback-form").addEventListener("submit", rollback);
  if (sessionStorage.getItem(TOKEN_KEY)) {
    startSession().catch((error) => { if (error.status !== 401) showLogin(error.message); });
  } else {
    showLogin();
  }
}

init();
