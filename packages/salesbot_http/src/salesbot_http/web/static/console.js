// The admin console: one page per hash route (#/overview, #/leads, #/conversation/<id>), each
// drawn from the admin JSON API. A page is a function in PAGES and a link in the nav: the
// catalogue's products and the webhook deliveries join the same way once their routes exist.
"use strict";

(() => {
  const { el, when } = Salesbot;
  const $ = (id) => document.getElementById(id);
  const STATUSES = ["exploring", "interested", "negotiating", "closed", "lost"];
  const LEADS_PAGE = 50;

  function statusBadge(status) {
    return el("span", { class: `badge status-${status}` }, status);
  }

  function countTable(caption, rows, testId) {
    return el("table", { "data-testid": testId },
      el("caption", {}, caption),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Name"), el("th", { scope: "col" }, "Conversations"))),
      el("tbody", {}, rows.length
        ? rows.map((r) => el("tr", {}, el("td", {}, r.name), el("td", { class: "number" }, r.count)))
        : el("tr", {}, el("td", { colspan: 2 }, "none yet"))));
  }

  function figure(label, value, testId) {
    return el("div", { class: "figure", "data-testid": testId }, el("span", { class: "value" }, value), el("span", { class: "label" }, label));
  }

  async function overview(params) {
    const days = params.get("days") || "30";
    const body = await Salesbot.json(`/admin/analytics?days=${encodeURIComponent(days)}`);
    const a = body.data;
    const range = el("select", { id: "days", name: "days", onchange: (e) => { location.hash = `#/overview?days=${e.target.value}`; } },
      ["7", "30", "90", "366"].map((d) => el("option", { value: d, selected: d === days }, `last ${d} days`)));
    const byStatus = el("div", { class: "figures", "data-testid": "by-status" },
      STATUSES.map((s) => figure(s, a.byStatus[s] ?? 0, `status-${s}`)));
    const conversion = a.conversion.map((d) => ({ label: d.day, value: d.rate }));
    return [
      el("h2", {}, "Overview"),
      el("p", {}, el("label", { for: "days" }, "Conversion range "), range),
      el("div", { class: "figures" },
        figure("conversations", a.conversations, "conversations"),
        figure("exchanges", a.tokens.exchanges, "exchanges"),
        figure("tokens per exchange", a.tokens.tokensPerExchange, "tokens-per-exchange"),
        figure("tokens saved (estimated)", a.context.estimatedSavedTokens, "saved-tokens"),
        figure("context saved", `${Math.round(a.context.savedRatio * 100)}%`, "saved-ratio")),
      el("h3", {}, "Conversations by sale status"), byStatus,
      el("h3", {}, "Conversion per day"),
      conversion.length ? SalesbotChart.line(conversion, { title: `Conversion per day, last ${days} days` }) : el("p", {}, "No conversations in this range."),
      el("div", { class: "columns" },
        countTable("Top interests", a.topInterests, "top-interests"),
        countTable("Most offered", a.mostOffered, "most-offered"),
        countTable("Most rejected", a.mostRejected, "most-rejected")),
    ];
  }

  async function downloadCsv(status) {
    const query = status ? `?saleStatus=${encodeURIComponent(status)}` : "";
    const response = await Salesbot.call(`/admin/leads.csv${query}`);
    if (!response.ok) throw new Salesbot.ApiError(response.status, "the CSV export failed");
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: "leads.csv", hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  async function leads(params) {
    const status = params.get("status") || "";
    const cursor = params.get("cursor") || "";
    const search = (params.get("q") || "").toLowerCase();
    const query = new URLSearchParams({ limit: String(LEADS_PAGE) });
    if (status) query.set("saleStatus", status);
    if (cursor) query.set("cursor", cursor);
    const response = await Salesbot.call(`/admin/leads?${query}`);
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Salesbot.ApiError(response.status, body.message || `HTTP ${response.status}`);
    }
    const body = await response.json();
    const next = /<[^>]*[?&]cursor=([^&>]+)[^>]*>;\s*rel="?next"?/.exec(response.headers.get("link") || "");
    const interestsOf = (lead) => (lead.metadata ? lead.metadata.interests : []);
    const rows = body.data.filter((lead) => !search || [lead.title, lead.customer.name, lead.customer.email, ...interestsOf(lead)]
      .some((text) => (text || "").toLowerCase().includes(search)));
    const go = (changes) => {
      const p = new URLSearchParams({ status, q: search, ...changes });
      for (const [k, v] of [...p]) if (!v) p.delete(k);
      location.hash = `#/leads?${p}`;
    };
    const filter = el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); go({ status: $("lead-status").value, q: $("lead-search").value, cursor: "" }); } },
      el("label", { for: "lead-status" }, "Sale status"),
      el("select", { id: "lead-status" }, el("option", { value: "" }, "any"), STATUSES.map((s) => el("option", { value: s, selected: s === status }, s))),
      el("label", { for: "lead-search" }, "Search name, email, title, interest"),
      el("input", { id: "lead-search", type: "search", value: search }),
      el("button", { type: "submit" }, "Filter"),
      el("button", { type: "button", id: "download-csv", onclick: () => downloadCsv(status).catch(shown) }, "Download CSV"));
    const table = el("table", { "data-testid": "leads" },
      el("caption", {}, status ? `Leads: ${status}` : "Leads"),
      el("thead", {}, el("tr", {}, ["Customer", "Conversation", "Status", "Interests", "Last message", "Updated"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows.length ? rows.map((lead) => el("tr", { "data-conversation": lead.conversationId },
        el("td", {}, lead.customer.name, el("br"), el("small", {}, lead.customer.email)),
        el("td", {}, el("a", { href: `#/conversation/${lead.conversationId}` }, lead.title)),
        el("td", {}, statusBadge(lead.saleStatus)),
        el("td", {}, interestsOf(lead).join(", ")),
        el("td", {}, lead.lastMessage ? lead.lastMessage.content : ""),
        el("td", {}, when(lead.updatedAt)))) : el("tr", {}, el("td", { colspan: 6 }, "No leads match."))));
    const paging = el("p", { class: "paging" },
      cursor ? el("a", { href: `#/leads?${new URLSearchParams(status ? { status } : {})}` }, "First page") : null,
      next ? el("button", { type: "button", id: "next-page", onclick: () => go({ cursor: decodeURIComponent(next[1]) }) }, "Next page") : null);
    return [el("h2", {}, "Leads"), filter, el("div", { class: "scroll" }, table), paging];
  }

  function metadataList(metadata) {
    if (!metadata) return el("p", {}, "No metadata yet: the conversation has not been distilled.");
    const row = (term, value) => [el("dt", {}, term), el("dd", {}, value || "—")];
    return el("dl", { class: "metadata" },
      row("Sale status", metadata.saleStatus),
      row("Interests", metadata.interests.join(", ")),
      row("Offered", metadata.offeredProducts.join(", ")),
      row("Rejected", metadata.rejectedProducts.join(", ")),
      row("Last intent", metadata.lastIntent));
  }

  async function conversation(params, id) {
    const body = await Salesbot.json(`/admin/conversations/${encodeURIComponent(id)}`);
    const c = body.data;
    return [
      el("p", {}, el("a", { href: "#/leads" }, "← Leads")),
      el("h2", {}, c.title),
      el("p", {}, `${c.customer.name} <${c.customer.email}>`, " ", statusBadge(c.saleStatus)),
      el("div", { class: "columns" },
        el("section", { "aria-labelledby": "transcript-title" },
          el("h3", { id: "transcript-title" }, c.totalMessages > c.messages.length ? `Transcript (the latest ${c.messages.length} of ${c.totalMessages} messages)` : `Transcript (${c.totalMessages} messages)`),
          el("ol", { class: "messages", "data-testid": "transcript" }, c.messages.map((m) =>
            el("li", { class: `message ${m.sender}` }, el("span", { class: "who" }, m.sender === "user" ? "Customer" : "Assistant", " · ", when(m.createdAt)), el("p", {}, m.content))))),
        el("section", { "aria-labelledby": "timeline-title" },
          el("h3", { id: "timeline-title" }, "Metadata, distillation by distillation"),
          el("ol", { class: "timeline", "data-testid": "timeline" }, c.distillations.length
            ? c.distillations.map((d, i) => el("li", {}, el("h4", {}, `Distillation ${c.totalDistillations - c.distillations.length + i + 1} · ${when(d.distilledAt)} · through message ${d.throughMessage}`), metadataList(d.metadata)))
            : el("li", {}, "Not distilled yet.")),
          el("h4", {}, "Now"), metadataList(c.metadata))),
    ];
  }

  const PAGES = { overview, leads, conversation };

  function shown(error) {
    if (error.status === 401) { Salesbot.keep(null); route(); return; }
    if (error.status === 403) { $("forbidden").hidden = false; $("page").replaceChildren(); $("console-nav").hidden = true; return; }
    $("page").replaceChildren(el("p", { class: "error", role: "alert" }, error.message));
  }

  async function route() {
    const signedIn = Boolean(Salesbot.session());
    $("auth").hidden = signedIn;
    $("logout").hidden = !signedIn;
    $("forbidden").hidden = true;
    $("console-nav").hidden = !signedIn;
    if (!signedIn) { $("page").replaceChildren(); return; }
    const [path, query = ""] = (location.hash.replace(/^#\/?/, "") || "overview").split("?");
    const [name, ...rest] = path.split("/");
    const page = PAGES[name] || overview;
    for (const link of document.querySelectorAll("#console-nav a")) {
      if (link.dataset.page === name) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
    }
    try {
      const nodes = await page(new URLSearchParams(query), ...rest);
      $("page").replaceChildren(...nodes);
      $("page").dataset.page = name || "overview";
    } catch (error) { shown(error); }
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("auth-error").textContent = "";
    try { await Salesbot.login($("login-email").value, $("login-password").value); await route(); }
    catch (error) { $("auth-error").textContent = error.message; }
  });
  $("logout").addEventListener("click", async () => { await Salesbot.logout(); route(); });
  window.addEventListener("hashchange", route);
  route();
})();
