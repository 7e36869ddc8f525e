// ftevals review: list, filter and edit rows; edits stay in this tab until Save.
"use strict";

const TOKEN = document.querySelector('meta[name="review-token"]').content;
const ROLES = ["system", "user", "assistant", "tool", "function"];
const $ = (id) => document.getElementById(id);
const state = {
  info: null, // /api/info: documents and run logs
  doc: "main", // the document shown
  log: "", // the run log whose outcomes are shown beside the rows ("" = none)
  offset: 0,
  limit: 50,
  page: { rows: [], total: 0, offset: 0 },
  request: 0, // only the latest list request is drawn
  selecting: 0, // only the latest row selection is shown
  current: null, // the row in the editor: {doc, id, rev, line, messages, problems, ...}
  edits: new Map(), // "doc:id" -> {doc, id, rev, messages} (messages null: delete)
  adds: new Map(), // "doc:-n" -> {doc, id: -n, messages}: rows added, not saved yet
  nextTmp: -1,
};

const keyOf = (doc, id) => `${doc}:${id}`;
const clone = (value) => JSON.parse(JSON.stringify(value));
const show = (value) => (value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value));

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", "X-Review-Token": TOKEN },
  };
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) {
    const error = new Error(data.error || response.statusText);
    error.data = data;
    throw error;
  }
  return data;
}

function status(text, kind) {
  $("status").textContent = text;
  $("status").className = kind || "";
}

function fail(error) {
  status(error.message, "error");
}

function option(select, value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  select.appendChild(o);
}

function labelOf(messages) {
  const last = messages[messages.length - 1];
  return last && last.role === "assistant" && typeof last.content === "string" ? last.content : null;
}

function snippetOf(messages) {
  const users = messages.filter((m) => m && m.role === "user");
  const text = users.length ? users[users.length - 1].content : "";
  return typeof text === "string" ? text.slice(0, 160) : "";
}

function pending() {
  return state.edits.size + state.adds.size;
}

function docInfo() {
  return state.info.docs[state.doc];
}

function renderFilters() {
  const docs = $("doc");
  docs.innerHTML = "";
  for (const [key, d] of Object.entries(state.info.docs)) option(docs, key, (key === "main" ? "" : "samples: ") + d.path);
  docs.value = state.doc;
  const logs = state.info.logs.filter((l) => l.doc === state.doc);
  const logSelect = $("log");
  logSelect.innerHTML = "";
  option(logSelect, "", "(none)");
  for (const l of logs) {
    const judge = l.judge ? ` · judge ${l.judge}` : "";
    option(logSelect, l.key, `${l.model} · ${l.eval}${judge} (${l.counts.failures} wrong/invalid, ${l.counts.disagree} disagree)`);
  }
  logSelect.value = state.log;
  $("log-box").hidden = logs.length === 0;
  $("outcome-box").hidden = !state.log;
  const d = docInfo();
  const labels = $("label");
  const previous = labels.value;
  labels.innerHTML = "";
  option(labels, "", "(any)");
  for (const [label, n] of Object.entries(d.labels)) option(labels, label, `${label === "__none__" ? "(no label)" : label} (${n})`);
  labels.value = d.labels[previous] !== undefined ? previous : "";
  $("doc-info").textContent = `${d.path} · ${d.format} · ${d.rows} rows · ${d.with_problems} with problems`;
  $("notes").textContent = [...d.notes, d.backup ? `Backup of the original: ${d.backup}` : ""].join(" ");
  $("save").textContent = pending() ? `Save (${pending()})` : "Save";
  $("save").disabled = pending() === 0;
}

async function loadRows() {
  const query = new URLSearchParams({ search: $("search").value, offset: state.offset, limit: state.limit });
  if ($("label").value) query.set("label", $("label").value);
  if ($("problems").checked) query.set("problems", "true");
  if (state.log) {
    query.set("log", state.log);
    query.set("outcome", $("outcome").value);
  }
  const request = ++state.request;
  const page = await api(`/api/docs/${state.doc}/rows?${query}`);
  if (request !== state.request) return;
  state.page = page;
  renderRows();
}

function renderRows() {
  const tbody = $("rows");
  tbody.innerHTML = "";
  const added = state.offset ? [] : [...state.adds.values()].filter((a) => a.doc === state.doc);
  const rows = added.map((a) => ({ id: a.id, line: null, problems: [], isNew: true, messages: a.messages }));
  for (const r of [...rows, ...state.page.rows]) {
    const edit = state.edits.get(keyOf(state.doc, r.id));
    const messages = r.isNew ? r.messages : edit && edit.messages;
    const tr = document.createElement("tr");
    tr.className = "row";
    tr.dataset.id = r.id;
    if (edit) tr.classList.add(edit.messages === null ? "deleted" : "dirty");
    if (r.isNew) tr.classList.add("new");
    if (state.current && state.current.doc === state.doc && state.current.id === r.id) tr.classList.add("selected");
    const cells = [
      r.isNew ? "new" : r.id,
      r.line ?? "",
      messages ? snippetOf(messages) : r.snippet,
      (messages ? labelOf(messages) : r.label) ?? "",
      r.outcome ?? "",
      r.problems.length ? `⚠ ${r.problems.length}` : "",
    ];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i === 2) td.className = "snippet";
      tr.appendChild(td);
    });
    tr.addEventListener("click", () => select(r.id).catch(fail));
    tbody.appendChild(tr);
  }
  const p = state.page;
  const shown = p.total ? `${p.offset + 1}–${p.offset + p.rows.length} of ${p.total}` : "no rows";
  const unmatched = p.unmatched ? ` (${p.unmatched} run samples have no row in this file)` : "";
  $("range").textContent = shown + unmatched;
  $("prev").disabled = p.offset === 0;
  $("next").disabled = p.offset + p.rows.length >= p.total;
}

async function select(id) {
  const key = keyOf(state.doc, id);
  const selecting = ++state.selecting;
  let row;
  if (id < 0) {
    row = { id, rev: 0, line: null, messages: clone(state.adds.get(key).messages), problems: [], isNew: true };
  } else {
    row = await api(`/api/docs/${state.doc}/rows/${id}${state.log ? `?log=${state.log}` : ""}`);
    const edit = state.edits.get(key);
    if (edit) {
      row.rev = edit.rev; // an edit stays based on the revision it started from
      row.deleted = edit.messages === null;
      if (edit.messages) row.messages = clone(edit.messages);
    }
  }
  if (selecting !== state.selecting) return;
  state.current = { doc: state.doc, ...row };
  renderEditor();
  renderRows();
}

function changed() {
  const c = state.current;
  const key = keyOf(c.doc, c.id);
  if (c.isNew) state.adds.get(key).messages = clone(c.messages);
  else state.edits.set(key, { doc: c.doc, id: c.id, rev: c.rev, messages: c.deleted ? null : clone(c.messages) });
  renderFilters();
  renderRows();
}

function renderMessage(m, i, free) {
  const c = state.current;
  const box = document.createElement("div");
  box.className = "msg";
  if (i === c.messages.length - 1 && m && m.role === "assistant") box.classList.add("label");
  if (!m || typeof m !== "object") {
    box.innerHTML = "<pre></pre>";
    box.firstChild.textContent = `not a message: ${JSON.stringify(m)}`;
  } else {
    const role = document.createElement("select");
    role.className = "role";
    for (const r of ROLES.includes(m.role) ? ROLES : [m.role, ...ROLES]) option(role, r, r);
    role.value = m.role;
    role.disabled = !free;
    role.addEventListener("change", () => { m.role = role.value; changed(); renderEditor(); });
    box.appendChild(role);
    if (box.classList.contains("label")) box.append(" label / answer");
    if (typeof m.content === "string" || m.content === null || m.content === undefined) {
      const text = document.createElement("textarea");
      text.className = "content";
      text.rows = Math.min(12, Math.max(2, Math.ceil((m.content || "").length / 80)));
      text.value = m.content ?? "";
      text.addEventListener("input", () => { m.content = text.value; changed(); });
      box.appendChild(text);
    } else {
      const pre = document.createElement("pre");
      pre.textContent = JSON.stringify(m.content, null, 1);
      box.appendChild(pre);
    }
  }
  if (free) {
    const remove = document.createElement("button");
    remove.textContent = "Remove message";
    remove.className = "remove-message";
    remove.addEventListener("click", () => { c.messages.splice(i, 1); changed(); renderEditor(); });
    box.appendChild(remove);
  }
  return box;
}

function renderEditor() {
  const c = state.current;
  $("editor").hidden = !c;
  if (!c) return;
  const free = state.info.docs[c.doc].free;
  const line = c.line ? ` · line ${c.line}` : "";
  $("row-title").textContent = c.isNew ? "New row (not saved yet)" : `Row #${c.id}${line}${c.deleted ? " · deleted (Save to apply)" : ""}`;
  $("row-problems").innerHTML = "";
  for (const problem of c.problems) {
    const li = document.createElement("li");
    li.textContent = problem;
    $("row-problems").appendChild(li);
  }
  const list = $("messages");
  list.innerHTML = "";
  c.messages.forEach((m, i) => list.appendChild(renderMessage(m, i, free)));
  const format = state.info.docs[c.doc].format;
  const canAddLabel = ["fields", "csv"].includes(format) && labelOf(c.messages) === null;
  $("add-message").hidden = !(free || canAddLabel);
  $("delete-row").textContent = c.deleted ? "Undelete row" : "Delete row";
  renderOutcome();
}

function renderOutcome() {
  const c = state.current;
  const o = c.outcome;
  $("outcome-panel").hidden = !o;
  if (!o) return;
  const facts = [["status", o.status], ["expected", show(o.expected)], ["model answer", show(o.answer)],
    ["label read", show(o.picked)], ["judge verdict", show(o.choice)], ["judge's answer", show(o.verdict)],
    ["error", show(o.error)]];
  for (const [judge, choice] of Object.entries(o.judges || {})) facts.push([`judge ${judge}`, choice]);
  const dl = $("outcome-facts");
  dl.innerHTML = "";
  for (const [name, value] of facts) {
    if (!value) continue;
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = name;
    dd.textContent = value;
    dd.dataset.fact = name;
    dl.append(dt, dd);
  }
  $("mismatch").hidden = c.prompt_matches !== false;
  $("corrected").value = labelOf(c.messages) ?? o.answer ?? "";
  $("append").hidden = c.doc === "main";
  $("append").textContent = `Append to ${state.info.docs.main.path}`;
}

async function save() {
  const all = [...state.edits.values(), ...state.adds.values()];
  const done = [];
  for (const doc of new Set(all.map((e) => e.doc))) {
    const edits = [...state.edits.values()].filter((e) => e.doc === doc);
    const adds = [...state.adds.values()].filter((a) => a.doc === doc);
    let result;
    try {
      result = await api(`/api/docs/${doc}/save`, {
        edits: edits.map((e) => ({ id: e.id, rev: e.rev, messages: e.messages })),
        adds: adds.map((a) => a.messages),
      });
    } catch (error) {
      await refresh();
      status([...done, error.message].join("; "), "error");
      return;
    }
    for (const e of edits) state.edits.delete(keyOf(doc, e.id));
    adds.forEach((a, i) => {
      state.adds.delete(keyOf(doc, a.id));
      if (state.current && state.current.doc === doc && state.current.id === a.id) state.current.id = result.added[i];
    });
    state.info.docs[doc] = result.info;
    const what = `${result.changed} changed, ${result.deleted} deleted, ${result.added.length} added`;
    done.push(`saved ${result.info.path}: ${result.rows} rows (${what})`);
  }
  await refresh();
  status(done.join("; "), "ok");
}

async function refresh() {
  state.info = await api("/api/info");
  renderFilters();
  await loadRows();
  const c = state.current;
  if (c && c.doc === state.doc && c.id > 0 && state.edits.size + state.adds.size === 0) {
    try { await select(c.id); } catch (error) { state.current = null; renderEditor(); }
  }
}

async function reload() {
  for (const [key, e] of [...state.edits, ...state.adds]) if (e.doc === state.doc) { state.edits.delete(key); state.adds.delete(key); }
  state.info = await api("/api/info");
  if (docInfo().changed_on_disk) await api(`/api/docs/${state.doc}/reload`, {});
  state.current = null;
  renderEditor();
  await refresh();
  status("reloaded", "ok");
}

async function appendToMain() {
  const c = state.current;
  const prompt = labelOf(c.messages) === null ? c.messages : c.messages.slice(0, -1);
  const messages = [...clone(prompt), { role: "assistant", content: $("corrected").value }];
  try {
    const result = await api("/api/docs/main/save", { edits: [], adds: [messages] });
    state.info.docs.main = result.info;
    status(`appended row #${result.added[0]} to ${result.info.path}`, "ok");
  } catch (error) {
    status(error.message, "error");
  }
}

function onFilter() {
  state.offset = 0;
  loadRows().catch(fail);
}

function wire() {
  $("doc").addEventListener("change", () => {
    state.doc = $("doc").value;
    const logs = state.info.logs.filter((l) => l.doc === state.doc);
    state.log = state.doc !== "main" && logs.length ? logs[0].key : "";
    state.current = null;
    renderEditor();
    renderFilters();
    onFilter();
  });
  $("log").addEventListener("change", () => { state.log = $("log").value; state.current = null; renderEditor(); renderFilters(); onFilter(); });
  for (const id of ["outcome", "label", "problems"]) $(id).addEventListener("change", onFilter);
  $("search").addEventListener("input", onFilter);
  $("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); loadRows().catch(fail); });
  $("next").addEventListener("click", () => { state.offset += state.limit; loadRows().catch(fail); });
  $("save").addEventListener("click", () => save().catch(fail));
  $("reload").addEventListener("click", () => reload().catch(fail));
  $("append").addEventListener("click", appendToMain);
  $("add-row").addEventListener("click", () => {
    const id = state.nextTmp--;
    state.adds.set(keyOf(state.doc, id), { doc: state.doc, id, messages: clone(docInfo().template) });
    state.offset = 0;
    renderFilters();
    renderRows();
    select(id).catch(fail);
  });
  $("add-message").addEventListener("click", () => {
    const c = state.current;
    const last = c.messages[c.messages.length - 1];
    c.messages.push({ role: last && last.role === "user" ? "assistant" : "user", content: "" });
    changed();
    renderEditor();
  });
  $("delete-row").addEventListener("click", () => {
    const c = state.current;
    if (c.isNew) {
      state.adds.delete(keyOf(c.doc, c.id));
      state.current = null;
      renderEditor();
      renderFilters();
      renderRows();
      return;
    }
    c.deleted = !c.deleted;
    changed();
    renderEditor();
  });
  window.addEventListener("beforeunload", (event) => { if (pending()) event.preventDefault(); });
}

wire();
refresh().then(() => { document.body.dataset.ready = "1"; }).catch(fail);
