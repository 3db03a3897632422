// letta-mcp inspector: one page, no dependencies, no build step.
//
// Safety rule: data from the server is only ever written with textContent (through `h`), never
// as HTML, so an agent's memory containing "<script>" shows as text. The token (when the server
// has auth) lives in sessionStorage and travels in the Authorization header, never in a cookie.
"use strict";

(() => {
  const TOKEN_KEY = "letta-mcp-token";
  const main = document.getElementById("main");
  const liveBadge = document.getElementById("live");
  const whoami = document.getElementById("whoami");
  const signout = document.getElementById("signout");
  const numbers = new Intl.NumberFormat();
  const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  let session = null;
  let live = null; // the open event stream of the current page
  let pageToken = 0; // bumps on every navigation; stale async work checks it

  // --- DOM -------------------------------------------------------------------------------------

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    return put(el, ...children);
  }

  // Appends children (nodes, or text: never parsed as HTML), skipping null/undefined/false.
  function put(el, ...children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function replace(el, ...children) {
    el.replaceChildren();
    return put(el, ...children);
  }

  const fmt = (n) => numbers.format(n ?? 0);
  const pct = (part, whole) => (whole ? (100 * part) / whole : 0);
  const shortId = (id) => (id && id.length > 14 ? id.slice(0, 10) + "…" + id.slice(-4) : id);

  function ago(iso) {
    if (!iso) return "never";
    const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
    const units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
    }
    return "just now";
  }

  function time(iso) {
    return iso ? h("time", { datetime: iso, title: when.format(new Date(iso)) }, ago(iso)) : "—";
  }

  function prettyJson(text) {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text ?? "";
    }
  }

  function alertBox() {
    return h("p", { class: "error", role: "alert" });
  }

  function showError(box, err) {
    box.textContent = err ? err.message || String(err) : "";
  }

  // --- API -------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function authHeaders() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? { Authorization: "Bearer " + token } : {};
  }

  async function api(path, options = {}) {
    const headers = authHeaders();
    let body;
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    const res = await fetch("api" + path, { method: options.method || "GET", headers, body, cache: "no-store" });
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    if (res.status === 401) {
      renderSignIn(sessionStorage.getItem(TOKEN_KEY) ? "That token was refused. Enter a valid token." : "");
      sessionStorage.removeItem(TOKEN_KEY);
    }
    if (!res.ok) throw new ApiError(res.status, (data && data.error) || `${res.status} ${res.statusText}`);
    return data;
  }

  const q = (params) => {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") search.set(k, v);
    const text = search.toString();
    return text ? "?" + text : "";
  };

  // --- live events (server-sent events over fetch, so the token can go in a header) ------------

  class Live {
    constructor(agentId, onEvent) {
      this.agentId = agentId;
      this.onEvent = onEvent;
      this.abort = new AbortController();
      this.delay = 500;
      this.connect();
    }

    async connect() {
      const signal = this.abort.signal;
      while (!signal.aborted) {
        try {
          const res = await fetch("api/events" + q({ agent_id: this.agentId }), {
            headers: authHeaders(),
            signal,
            cache: "no-store",
          });
          if (!res.ok || !res.body) throw new Error(`event stream: ${res.status}`);
          await this.read(res.body.getReader(), signal);
        } catch (err) {
          if (signal.aborted) return;
        }
        setLive("reconnecting");
        await new Promise((resolve) => setTimeout(resolve, this.delay));
        this.delay = Math.min(this.delay * 2, 15000);
      }
    }

    async read(reader, signal) {
      const decoder = new TextDecoder();
      let buffer = "";
      while (!signal.aborted) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = frame.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (!data) continue;
          const event = JSON.parse(data);
          if (event.type === "ready") {
            this.delay = 500;
            setLive("live");
          }
          this.onEvent(event);
        }
      }
    }

    close() {
      this.abort.abort();
    }
  }

  function setLive(state) {
    liveBadge.textContent = state;
    liveBadge.dataset.state = state;
  }

  // A burst of events (a run's steps) becomes one refresh per `ms`.
  function debounce(fn, ms) {
    let timer = null;
    return () => {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  // --- sign-in and routing ---------------------------------------------------------------------

  function renderSignIn(message) {
    if (live) live.close();
    live = null;
    setLive("offline");
    const input = h("input", { id: "token", type: "password", autocomplete: "off", required: true });
    const error = alertBox();
    error.textContent = message || "";
    const form = h(
      "form",
      { class: "card signin", "aria-labelledby": "signin-title" },
      h("h1", { id: "signin-title" }, "Sign in"),
      h("p", {}, "This server needs a bearer token. It is kept in this tab only (session storage)."),
      h("label", { for: "token" }, "Bearer token"),
      input,
      h("button", { type: "submit" }, "Sign in"),
      error,
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      await start();
    });
    main.replaceChildren(form);
    input.focus();
  }

  async function start() {
    try {
      session = await api("/session");
    } catch (err) {
      if (err.status !== 401) main.replaceChildren(h("p", { class: "error", role: "alert" }, err.message));
      return;
    }
    whoami.textContent = session.auth ? `signed in as ${session.principal}` : `local user · v${session.version}`;
    signout.hidden = !session.auth;
    route();
  }

  signout.addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    whoami.textContent = "";
    signout.hidden = true;
    renderSignIn("Signed out.");
  });

  function route() {
    if (!session) return;
    pageToken += 1;
    if (live) live.close();
    live = null;
    const match = location.hash.match(/^#\/agents\/([^/?]+)/);
    if (match) agentPage(decodeURIComponent(match[1]), pageToken);
    else agentsPage(pageToken);
    main.focus({ preventScroll: true });
  }

  window.addEventListener("hashchange", route);

  // --- agents list -----------------------------------------------------------------------------

  const listState = { q: "", sort: "last_active", order: "desc", offset: 0, limit: 50 };
  const COLUMNS = [
    ["name", "Name"],
    ["tags", "Tags"],
    ["model", "Model"],
    ["messages", "Messages"],
    ["last_active", "Last active"],
  ];

  function agentsPage(token) {
    document.title = "Agents · letta-mcp";
    const error = alertBox();
    const tbody = h("tbody");
    const summary = h("p", { class: "muted", role: "status", "aria-live": "polite" });
    const prev = h("button", { type: "button", class: "secondary" }, "Previous");
    const next = h("button", { type: "button", class: "secondary" }, "Next");
    const headRow = h("tr");
    const search = h("input", {
      id: "agent-search",
      type: "search",
      value: listState.q,
      placeholder: "name, tag, model or id",
      autocomplete: "off",
    });

    async function load() {
      listState.q = search.value.trim(); // sorting or paging right after typing uses the new text
      try {
        const page = await api("/agents" + q(listState));
        if (token !== pageToken) return;
        renderHead();
        tbody.replaceChildren(
          ...page.agents.map((a) =>
            h(
              "tr",
              {},
              h("td", {}, h("a", { href: "#/agents/" + encodeURIComponent(a.id) }, a.name)),
              h("td", {}, a.tags.map((t) => h("span", { class: "tag" }, t))),
              h("td", { class: "mono" }, a.model),
              h("td", { class: "num" }, fmt(a.messages)),
              h("td", {}, time(a.last_active)),
            ),
          ),
        );
        if (!page.agents.length) {
          tbody.append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No agents match.")));
        }
        const first = page.total ? listState.offset + 1 : 0;
        summary.textContent = `${fmt(first)}–${fmt(listState.offset + page.agents.length)} of ${fmt(page.total)} agent${page.total === 1 ? "" : "s"}`;
        prev.disabled = listState.offset === 0;
        next.disabled = listState.offset + page.agents.length >= page.total;
        showError(error, null);
      } catch (err) {
        showError(error, err);
      }
    }

    function renderHead() {
      headRow.replaceChildren(
        ...COLUMNS.map(([key, label]) => {
          const active = listState.sort === key;
          const sortState = active ? (listState.order === "asc" ? "ascending" : "descending") : "none";
          const arrow = active ? (listState.order === "asc" ? " ▲" : " ▼") : "";
          return h(
            "th",
            { scope: "col", "aria-sort": sortState, class: key === "messages" ? "num" : null },
            h(
              "button",
              {
                type: "button",
                class: "sort",
                onclick: () => {
                  listState.order = active && listState.order === "desc" ? "asc" : "desc";
                  if (!active) listState.order = key === "name" || key === "model" || key === "tags" ? "asc" : "desc";
                  listState.sort = key;
                  listState.offset = 0;
                  load();
                },
              },
              label,
              arrow,
            ),
          );
        }),
      );
    }

    const searchLater = debounce(() => {
      listState.offset = 0;
      load();
    }, 250);
    search.addEventListener("input", searchLater);
    prev.addEventListener("click", () => {
      listState.offset = Math.max(0, listState.offset - listState.limit);
      load();
    });
    next.addEventListener("click", () => {
      listState.offset += listState.limit;
      load();
    });

    main.replaceChildren(
      h(
        "div",
        { class: "page" },
        h(
          "div",
          { class: "page-head" },
          h("h1", {}, "Agents"),
          h("div", { class: "search" }, h("label", { for: "agent-search" }, "Search"), search),
        ),
        error,
        h("div", { class: "card table-card" }, h("table", { class: "agents" }, h("thead", {}, headRow), tbody)),
        h("div", { class: "pager" }, summary, h("div", {}, prev, next)),
        createForm(token),
      ),
    );
    load();
    const refresh = debounce(load, 400);
    live = new Live(null, (event) => {
      if (event.type === "change" || event.type === "resync") refresh();
    });
  }

  function createForm(token) {
    const name = h("input", { id: "new-name", autocomplete: "off", placeholder: "optional" });
    const template = h("select", { id: "new-template" }, h("option", { value: "" }, "Default persona and human"));
    const error = alertBox();
    const form = h(
      "form",
      { class: "card create", "aria-labelledby": "create-title" },
      h("h2", { id: "create-title" }, "Create an agent"),
      h(
        "div",
        { class: "row" },
        h("div", { class: "field" }, h("label", { for: "new-name" }, "Name"), name),
        h("div", { class: "field" }, h("label", { for: "new-template" }, "Template"), template),
        h("button", { type: "submit" }, "Create agent"),
      ),
      error,
    );
    api("/templates")
      .then((templates) => {
        if (token !== pageToken) return;
        for (const t of templates) template.append(h("option", { value: t.name }, `${t.name} (${t.model})`));
      })
      .catch((err) => showError(error, err));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const created = await api("/agents", { method: "POST", body: { name: name.value, template: template.value } });
        location.hash = "#/agents/" + encodeURIComponent(created.id);
      } catch (err) {
        showError(error, err);
      }
    });
    return form;
  }

  // --- one agent -------------------------------------------------------------------------------

  function section(id, title, ...children) {
    return h("section", { class: "card", id, "aria-labelledby": id + "-title" }, h("h2", { id: id + "-title" }, title), children);
  }

  async function agentPage(agentId, token) {
    const path = "/agents/" + encodeURIComponent(agentId);
    const error = alertBox();
    const head = h("div", { class: "page-head" });
    const blocks = new BlocksView(path);
    const context = new ContextView(path);
    const conversation = new ConversationView(path);
    const archival = new ArchivalView(path);
    const runs = new RunsView(path);
    main.replaceChildren(
      h(
        "div",
        { class: "page" },
        h("p", { class: "crumbs" }, h("a", { href: "#/" }, "← All agents")),
        head,
        error,
        h(
          "div",
          { class: "grid" },
          h("div", { class: "col" }, section("memory", "Memory blocks", blocks.el), section("context", "Context window", context.el), section("runs", "Runs", runs.el)),
          h("div", { class: "col" }, section("conversation", "Conversation", conversation.el), section("archival", "Archival memory", archival.el)),
        ),
      ),
    );

    async function loadAgent() {
      const details = await api(path);
      if (token !== pageToken) return;
      const a = details.agent;
      document.title = `${a.name} · letta-mcp`;
      replace(head, 
        h("h1", {}, a.name),
        h(
          "p",
          { class: "meta" },
          h("span", { class: "mono" }, a.id),
          " · ",
          h("span", { class: "mono" }, a.model),
          " · ",
          `${fmt(details.messages_in_history)} messages (${fmt(details.messages_in_context)} in context)`,
          a.tags.map((t) => h("span", { class: "tag" }, t)),
        ),
        a.description ? h("p", { class: "muted" }, a.description) : null,
      );
      blocks.render(details.blocks);
    }

    try {
      await loadAgent();
    } catch (err) {
      showError(error, err);
      return;
    }
    context.load();
    conversation.loadLatest();
    archival.load();
    runs.load();

    const refreshAll = debounce(() => {
      loadAgent().catch((err) => showError(error, err));
      context.load();
      conversation.loadNew();
      archival.load();
      runs.load();
    }, 150);
    live = new Live(agentId, (event) => {
      if (token !== pageToken) return;
      if (event.type === "step") {
        // a committed step may have added messages, edited blocks or stored passages
        conversation.runProgress(event.run_id);
        refreshAll();
      } else if (event.type === "change") {
        if (event.agent && !event.messages && !event.blocks.length) {
          loadAgent().catch((err) => showError(error, err));
          return;
        }
        if (event.run_id) conversation.runProgress(event.run_id);
        refreshAll();
      } else if (event.type === "resync") {
        refreshAll();
      }
    });
  }

  // Memory blocks: fill bars, editing (the server enforces the limit), version history.
  class BlocksView {
    constructor(path) {
      this.path = path;
      this.el = h("div", { class: "blocks" });
      this.cards = new Map();
    }

    render(blocks) {
      const seen = new Set();
      for (const block of blocks) {
        seen.add(block.label);
        let card = this.cards.get(block.label);
        if (!card) {
          card = new BlockCard(this.path, block);
          this.cards.set(block.label, card);
        }
        card.update(block);
      }
      for (const [label, card] of this.cards) {
        if (!seen.has(label)) {
          card.el.remove();
          this.cards.delete(label);
        }
      }
      replace(this.el, ...blocks.map((b) => this.cards.get(b.label).el));
    }
  }

  class BlockCard {
    constructor(path, block) {
      this.path = path + "/blocks/" + encodeURIComponent(block.label);
      this.saved = null;
      const id = "block-" + block.label;
      this.title = h("h3", {}, block.label);
      this.badge = h("span", { class: "badge", hidden: true }, "read-only");
      this.count = h("span", { class: "count" });
      this.bar = h("div", { class: "fill-bar" });
      this.meter = h("div", { class: "fill", role: "meter", "aria-valuemin": 0 }, this.bar);
      this.desc = h("p", { class: "desc muted" });
      this.text = h("textarea", { id, rows: 4, spellcheck: "false" });
      this.error = alertBox();
      this.note = h("span", { class: "muted", role: "status" });
      this.save = h("button", { type: "button" }, "Save");
      this.revert = h("button", { type: "button", class: "secondary" }, "Revert");
      this.historyList = h("ol", { class: "history" });
      this.history = h("details", { class: "history-box" }, h("summary", {}, "Version history"), this.historyList);
      this.el = h(
        "article",
        { class: "block", "data-label": block.label },
        h("header", {}, this.title, this.badge, this.count),
        this.meter,
        this.desc,
        h("label", { for: id, class: "sr-only" }, `Value of block ${block.label}`),
        this.text,
        h("div", { class: "actions" }, this.save, this.revert, this.note),
        this.error,
        this.history,
      );
      this.text.addEventListener("input", () => this.measure());
      this.save.addEventListener("click", () => this.store(this.text.value));
      this.revert.addEventListener("click", () => {
        this.text.value = this.saved.value;
        this.measure();
        showError(this.error, null);
      });
      this.history.addEventListener("toggle", () => this.history.open && this.loadHistory());
    }

    update(block) {
      const dirty = this.saved !== null && this.text.value !== this.saved.value;
      this.saved = block;
      if (!dirty) this.text.value = block.value;
      else this.note.textContent = "Changed elsewhere too: saving overwrites it.";
      this.badge.hidden = !block.read_only;
      this.desc.textContent = block.description || "";
      this.meter.setAttribute("aria-valuemax", block.limit);
      this.meter.setAttribute("aria-label", `${block.label}: characters used of its limit`);
      this.measure();
      if (this.history.open) this.loadHistory();
    }

    measure() {
      const used = this.text.value.length;
      const limit = this.saved.limit;
      const over = used > limit;
      this.count.textContent = `${fmt(used)} / ${fmt(limit)} chars · v${this.saved.version}`;
      this.count.classList.toggle("over", over);
      this.bar.style.width = Math.min(100, pct(used, limit)).toFixed(1) + "%";
      this.bar.classList.toggle("over", over);
      this.meter.setAttribute("aria-valuenow", used);
      this.save.disabled = this.text.value === this.saved.value;
      this.revert.disabled = this.save.disabled;
    }

    async store(value) {
      this.save.disabled = true;
      try {
        const block = await api(this.path, { method: "PUT", body: { value } });
        showError(this.error, null);
        this.note.textContent = `Saved (version ${block.version}).`;
        this.saved = block;
        this.text.value = block.value;
        this.measure();
        if (this.history.open) this.loadHistory();
      } catch (err) {
        showError(this.error, err);
        this.measure();
      }
    }

    async loadHistory() {
      try {
        const entries = await api(this.path + "/history?limit=20");
        this.historyList.replaceChildren(
          ...entries.map((e) =>
            h(
              "li",
              {},
              h(
                "div",
                { class: "history-head" },
                h("strong", {}, `v${e.version}`),
                ` · ${e.actor} · ${e.reason} · `,
                time(e.created_at),
                e.version === this.saved.version
                  ? h("span", { class: "muted" }, " (current)")
                  : h("button", { type: "button", class: "link", onclick: () => this.store(e.value) }, `Restore v${e.version}`),
              ),
              h("pre", { class: "value" }, e.value),
            ),
          ),
        );
      } catch (err) {
        showError(this.error, err);
      }
    }
  }

  // The context window as one stacked bar: every section of the next request, to scale.
  class ContextView {
    constructor(path) {
      this.path = path + "/context";
      this.el = h("div", { class: "context" });
    }

    async load() {
      try {
        this.render(await api(this.path));
      } catch (err) {
        replace(this.el, h("p", { class: "error", role: "alert" }, err.message));
      }
    }

    render(c) {
      const size = c.context_window;
      const bar = h("div", { class: "stack", role: "img", "aria-label": `Context window ${c.percent_used.toFixed(1)}% used` });
      const legend = h("ul", { class: "legend" });
      for (const s of c.sections) {
        if (!s.tokens) continue;
        const kind = s.name.split(":")[0];
        const seg = h("div", { class: "seg seg-" + kind, title: `${s.name}: ${fmt(s.tokens)} tokens` });
        seg.style.width = pct(s.tokens, size).toFixed(3) + "%";
        bar.append(seg);
        legend.append(
          h(
            "li",
            {},
            h("span", { class: "swatch seg-" + kind }),
            h("span", { class: "mono" }, s.name),
            h("span", { class: "num" }, `${fmt(s.tokens)} tok · ${pct(s.tokens, size).toFixed(1)}%`),
          ),
        );
      }
      // The same sections scaled to what is used, so small ones stay readable on a large window.
      const used = c.sections.reduce((sum, s) => sum + s.tokens, 0);
      const parts = h("div", { class: "stack thin", role: "img", "aria-label": "Share of each section in the used tokens" });
      for (const s of c.sections) {
        if (!s.tokens) continue;
        const seg = h("div", { class: "seg seg-" + s.name.split(":")[0], title: `${s.name}: ${pct(s.tokens, used).toFixed(1)}% of used` });
        seg.style.width = pct(s.tokens, used).toFixed(3) + "%";
        parts.append(seg);
      }
      const trigger = h("div", { class: "trigger", title: `compaction at ${fmt(c.trigger_tokens)} tokens` });
      trigger.style.left = Math.min(100, pct(c.trigger_tokens, size)).toFixed(2) + "%";
      bar.append(trigger);
      replace(this.el, 
        h(
          "p",
          { class: "context-total" },
          h("strong", {}, `${fmt(c.estimated_prompt_tokens)} of ${fmt(size)} tokens`),
          ` (${c.percent_used.toFixed(1)}% used) · ${fmt(c.messages_in_context)} of ${fmt(c.messages_in_history)} messages in context`,
        ),
        h("p", { class: "muted small bar-label" }, "Whole window"),
        bar,
        h("p", { class: "muted small bar-label" }, "Used tokens by section"),
        parts,
        legend,
        h("p", { class: "muted small" }, `The marker shows where compaction starts (${fmt(c.trigger_tokens)} tokens).`),
        c.summary ? h("details", {}, h("summary", {}, "Compaction summary"), h("pre", { class: "value" }, c.summary)) : null,
      );
    }
  }

  // The conversation: paged from the newest, every reasoning step, tool call and result expandable.
  class ConversationView {
    constructor(path) {
      this.path = path;
      this.list = h("ol", { class: "messages", "aria-live": "polite", "aria-relevant": "additions" });
      this.older = h("button", { type: "button", class: "secondary", hidden: true }, "Load older messages");
      this.error = alertBox();
      this.input = h("textarea", { id: "message-input", rows: 3, placeholder: "Write to the agent (Ctrl+Enter sends)" });
      this.send = h("button", { type: "submit" }, "Send");
      this.sendError = alertBox();
      this.run = h("div", { class: "run-progress", "aria-live": "polite" });
      this.minSeq = null;
      this.maxSeq = null;
      this.activeRun = null;
      this.chain = Promise.resolve();
      const form = h(
        "form",
        { class: "composer" },
        h("label", { for: "message-input" }, "Message"),
        this.input,
        h("div", { class: "actions" }, this.send),
        this.sendError,
      );
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        this.submit();
      });
      this.input.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
          e.preventDefault();
          this.submit();
        }
      });
      this.older.addEventListener("click", () => this.loadOlder());
      this.el = h("div", {}, this.older, this.error, h("div", { class: "scroll" }, this.list), this.run, form);
    }

    // One fetch at a time, so live refreshes never interleave and duplicate rows.
    serial(fn) {
      this.chain = this.chain.then(fn).catch((err) => showError(this.error, err));
      return this.chain;
    }

    loadLatest() {
      return this.serial(async () => {
        const page = await api(this.path + "/messages?limit=30");
        page.reverse();
        this.list.replaceChildren(...page.map(renderMessage));
        this.minSeq = page.length ? page[0].seq : null;
        this.maxSeq = page.length ? page[page.length - 1].seq : -1;
        this.older.hidden = page.length < 30 || this.minSeq === 0;
        this.scrollEnd();
      });
    }

    loadOlder() {
      return this.serial(async () => {
        const page = await api(this.path + "/messages" + q({ before: this.minSeq, limit: 30 }));
        page.reverse();
        this.list.prepend(...page.map(renderMessage));
        if (page.length) this.minSeq = page[0].seq;
        this.older.hidden = page.length < 30 || this.minSeq === 0;
      });
    }

    loadNew() {
      return this.serial(async () => {
        for (;;) {
          const page = await api(this.path + "/messages" + q({ after: this.maxSeq ?? -1, limit: 100 }));
          this.list.append(...page.map(renderMessage));
          if (page.length) this.maxSeq = page[page.length - 1].seq;
          if (page.length < 100) break;
        }
        this.scrollEnd();
      });
    }

    scrollEnd() {
      const box = this.list.parentElement;
      box.scrollTop = box.scrollHeight;
    }

    async submit() {
      const text = this.input.value;
      this.send.disabled = true;
      try {
        const accepted = await api(this.path + "/messages", { method: "POST", body: { message: text } });
        this.input.value = "";
        showError(this.sendError, null);
        this.activeRun = accepted.run_id;
        this.runProgress(accepted.run_id);
      } catch (err) {
        showError(this.sendError, err);
      } finally {
        this.send.disabled = false;
      }
    }

    async runProgress(runId) {
      if (runId !== this.activeRun) return;
      try {
        const d = await api("/runs/" + encodeURIComponent(runId));
        if (runId !== this.activeRun) return;
        this.run.replaceChildren(
          h(
            "div",
            { class: "run-head" },
            h("span", { class: "status status-" + d.run.status }, d.run.status),
            ` run ${shortId(d.run.id)} · ${d.steps.length} step${d.steps.length === 1 ? "" : "s"}`,
            d.run.stop_reason ? ` · stopped: ${d.run.stop_reason}` : "",
            d.run.error ? h("span", { class: "error" }, " · " + d.run.error) : null,
          ),
          h("ol", { class: "steps" }, d.steps.map((s) => h("li", {}, `Step ${s.index + 1} · ${s.model} · ${fmt(s.usage.total_tokens)} tokens · ${s.finish_reason || "…"}`))),
        );
      } catch (err) {
        showError(this.sendError, err);
      }
    }
  }

  function renderMessage(m) {
    const parts = [];
    const role = m.kind ? m.kind : m.role;
    if (m.role === "system") {
      const label = m.seq === 0 ? "System prompt" : m.kind === "summary" ? "Summary of evicted messages" : "System";
      parts.push(h("details", { class: "system" }, h("summary", {}, label), h("pre", { class: "value" }, m.content || "")));
    } else if (m.role === "tool") {
      const failed = /"status"\s*:\s*"Failed"/.test(m.content || "");
      parts.push(
        h(
          "details",
          { class: "tool-result" + (failed ? " failed" : "") },
          h("summary", {}, `Tool result · ${m.tool_name || "tool"}${failed ? " · failed" : ""}`),
          h("pre", { class: "value" }, prettyJson(m.content)),
        ),
      );
    } else {
      if (m.reasoning) {
        parts.push(h("details", { class: "reasoning" }, h("summary", {}, "Reasoning"), h("p", { class: "text" }, m.reasoning)));
      }
      if (m.content) parts.push(h("div", { class: "bubble" }, h("p", { class: "text" }, m.content)));
      for (const call of m.tool_calls || []) {
        parts.push(
          h(
            "details",
            { class: "tool-call" },
            h("summary", {}, `Tool call · ${call.name}`),
            h("pre", { class: "value" }, prettyJson(call.arguments)),
          ),
        );
      }
    }
    return h(
      "li",
      { class: `msg role-${m.role}${m.in_context ? "" : " evicted"}`, "data-seq": m.seq, "data-role": role },
      h(
        "div",
        { class: "msg-head" },
        h("span", { class: "who" }, m.role === "assistant" ? "Agent" : m.role === "user" ? "User" : m.role),
        " ",
        time(m.created_at),
        m.in_context ? null : h("span", { class: "badge" }, "not in context"),
      ),
      parts,
    );
  }

  // Archival memory: search (showing the mode used) or browse newest first, paged either way.
  class ArchivalView {
    constructor(path) {
      this.path = path + "/archival";
      this.query = h("input", { id: "archival-query", type: "search", autocomplete: "off", placeholder: "empty: newest passages" });
      this.mode = h(
        "select",
        { id: "archival-mode" },
        ["auto", "fts", "hybrid", "vector"].map((m) => h("option", { value: m }, m)),
      );
      this.status = h("p", { class: "muted", role: "status", "aria-live": "polite" });
      this.error = alertBox();
      this.results = h("ol", { class: "passages" });
      this.prev = h("button", { type: "button", class: "secondary" }, "Previous");
      this.next = h("button", { type: "button", class: "secondary" }, "Next");
      this.cursors = [null];
      this.offset = 0;
      const form = h(
        "form",
        { class: "row", role: "search" },
        h("div", { class: "field grow" }, h("label", { for: "archival-query" }, "Search archival memory"), this.query),
        h("div", { class: "field" }, h("label", { for: "archival-mode" }, "Mode"), this.mode),
        h("button", { type: "submit" }, "Search"),
      );
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        this.cursors = [null];
        this.offset = 0;
        this.load();
      });
      this.prev.addEventListener("click", () => {
        if (this.query.value.trim()) this.offset = Math.max(0, this.offset - 10);
        else this.cursors.splice(-2, 1);
        this.load();
      });
      this.next.addEventListener("click", () => {
        if (this.query.value.trim()) this.offset += 10;
        else this.cursors.push(this.nextCursor);
        this.load();
      });
      this.el = h("div", {}, form, this.status, this.error, this.results, h("div", { class: "pager" }, h("span"), h("div", {}, this.prev, this.next)));
    }

    async load() {
      const text = this.query.value.trim();
      const params = text
        ? { q: text, mode: this.mode.value, offset: this.offset, limit: 10 }
        : { cursor: this.cursors[this.cursors.length - 1], limit: 10 };
      try {
        const res = await api(this.path + q(params));
        showError(this.error, null);
        const items = text ? res.hits : res.passages;
        this.results.replaceChildren(...items.map((item) => renderPassage(text ? item.passage : item, text ? item : null)));
        if (text) {
          const label = { fts: "full-text (BM25)", vector: "vector", hybrid: "hybrid (full-text + vector)" }[res.mode] || res.mode;
          this.status.textContent = `Mode used: ${label}${res.requested_mode === "auto" ? " (auto)" : ""} · results ${this.offset + (items.length ? 1 : 0)}–${this.offset + items.length}`;
          this.prev.disabled = this.offset === 0;
          this.next.disabled = !res.has_more;
        } else {
          this.status.textContent = items.length ? "Newest passages first." : "No passages yet.";
          this.nextCursor = res.next_cursor;
          this.prev.disabled = this.cursors.length <= 1;
          this.next.disabled = !res.next_cursor;
        }
      } catch (err) {
        showError(this.error, err);
      }
    }
  }

  function renderPassage(p, hit) {
    return h(
      "li",
      { class: "passage" },
      h("p", { class: "text" }, p.text),
      h(
        "p",
        { class: "muted small" },
        time(p.created_at),
        p.tags.map((t) => h("span", { class: "tag" }, t)),
        hit ? ` · score ${hit.score.toFixed(3)}` : "",
        hit && hit.fts_rank ? ` · full-text #${hit.fts_rank}` : "",
        hit && hit.vector_rank ? ` · vector #${hit.vector_rank}` : "",
      ),
    );
  }

  // Runs: status, steps, usage and stop reason; a row opens its steps.
  class RunsView {
    constructor(path) {
      this.path = path + "/runs";
      this.limit = 10;
      this.body = h("tbody");
      this.error = alertBox();
      this.more = h("button", { type: "button", class: "secondary" }, "Show more");
      this.more.addEventListener("click", () => {
        this.limit += 20;
        this.load();
      });
      this.el = h(
        "div",
        {},
        this.error,
        h(
          "table",
          { class: "runs" },
          h("thead", {}, h("tr", {}, ["Run", "Status", "Steps", "Tokens", "Stop reason", "Started"].map((t) => h("th", { scope: "col" }, t)))),
          this.body,
        ),
        this.more,
      );
    }

    async load() {
      try {
        const runs = await api(this.path + q({ limit: this.limit }));
        this.body.replaceChildren(
          ...runs.map((r) =>
            h(
              "tr",
              {},
              h("td", { class: "mono", title: r.id }, shortId(r.id)),
              h("td", {}, h("span", { class: "status status-" + r.status }, r.status)),
              h("td", { class: "num" }, r.step_count),
              h("td", { class: "num", title: `prompt ${fmt(r.usage.prompt_tokens)} · completion ${fmt(r.usage.completion_tokens)}` }, fmt(r.usage.total_tokens)),
              h("td", {}, r.stop_reason || "—"),
              h("td", {}, time(r.created_at)),
            ),
          ),
        );
        if (!runs.length) this.body.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No runs yet.")));
        this.more.hidden = runs.length < this.limit;
        showError(this.error, null);
      } catch (err) {
        showError(this.error, err);
      }
    }
  }

  start();
})();
